// benchmarks/elementwise.cpp — a fused 3-input expression (y = a * b + c, and one with exp)
// against memcpy moving the same number of bytes (3 reads + 1 write = 16 bytes per element),
// in the same process. Prints GB/s and the ratio to memcpy's bandwidth.
// Usage: bench_elementwise [--json]
#include <cstring>
#include <vector>

#include "bench_util.hpp"
#include "psalm/tensor.hpp"

using namespace psalm;

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  bench::Report report("elementwise", {"memcpy_gbps", "psalm_gbps", "ratio"});
  for (std::int64_t n : {std::int64_t{1} << 16, std::int64_t{1} << 20, std::int64_t{1} << 24}) {
    const auto a = Tensor<float>::randn({n}, 1), b = Tensor<float>::randn({n}, 2),
               c = Tensor<float>::randn({n}, 3);
    auto y = Tensor<float>::zeros({n});
    const double bytes = 16.0 * static_cast<double>(n);
    // memcpy of 8n bytes reads 8n and writes 8n bytes: 16n bytes of traffic.
    std::vector<char> src(static_cast<std::size_t>(8 * n), 1), dst(static_cast<std::size_t>(8 * n));
    const double t_copy =
        bench::best_seconds([&] { std::memcpy(dst.data(), src.data(), src.size()); });
    const double t_fma = bench::best_seconds([&] { y.assign(a * b + c); });
    const double t_exp = bench::best_seconds([&] { y.assign(a * b + exp(c)); });
    const std::string size = std::to_string(n * 4 / 1024) + " KiB/operand";
    report.add("a*b+c, " + size, {bytes / t_copy / 1e9, bytes / t_fma / 1e9, t_copy / t_fma});
    report.add("a*b+exp(c), " + size, {bytes / t_copy / 1e9, bytes / t_exp / 1e9, t_copy / t_exp});
  }
  if (!json)
    std::printf("Fused elementwise vs memcpy of the same traffic (16 B/element); threads: %d\n",
                Executor<cpu>::max_threads());
  report.print(json);
}
