// benchmarks/ops.cpp — forward + backward time of psalm's differentiable ops at PSALM's shapes,
// against PyTorch eager on the same machine: tools/reference/ops_bench.py times torch (float32,
// the same thread count) and writes a JSON file; this program reads it with --baseline and
// prints the ratio (PyTorch time / psalm time: above 1 means psalm is faster).
// --cpu-time measures process CPU time instead of wall time (run both sides with one thread:
// on a machine shared with other jobs, CPU time is far steadier than wall time).
// Usage: bench_ops [--baseline torch.json] [--json] [--cpu-time]
#include <algorithm>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>

#include "bench_util.hpp"
#include "psalm/autograd.hpp"

using namespace psalm;
using namespace psalm::autograd;

namespace {

bool g_cpu_time = false;

/// Best process CPU seconds per call of fn over `repeats` runs of at least `min_seconds`
/// each, after one warm-up call (bench::best_seconds with std::clock instead of a wall clock).
double best_cpu_seconds(const std::function<void()>& fn, int repeats, double min_seconds) {
  fn();
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    int calls = 0;
    const std::clock_t start = std::clock();
    double elapsed = 0;
    do {
      fn();
      ++calls;
      elapsed = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
    } while (elapsed < min_seconds);
    best = std::min(best, elapsed / calls);
  }
  return best;
}

/// Seconds for one forward + backward of `forward(inputs)` with a gradient of ones.
template <class F>
double time_fwd_bwd(std::vector<Var<float>> inputs, const F& forward) {
  const auto once = [&] {
    for (auto& v : inputs) v.zero_grad();
    const Var<float> y = forward(inputs);
    backward(y, Tensor<float>::ones(y.shape()));
  };
  return g_cpu_time ? best_cpu_seconds(once, 3, 0.3) : bench::best_seconds(once, 3, 0.3);
}

Var<float> param(const Shape& s, std::uint64_t seed, double std = 1.0) {
  return Var<float>::parameter(Tensor<float>::randn(s, seed, 0.0, std));
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  g_cpu_time = bench::has_flag(argc, argv, "--cpu-time");
  nlohmann::json baseline;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--baseline")
      baseline = nlohmann::json::parse(std::ifstream(argv[i + 1]));

  std::vector<std::pair<std::string, double>> ours;
  // Shapes PSALM runs: Phi-1.5 over ~1100 tokens (2048 wide, 32 heads of 64), Swin stage 5 width.
  ours.push_back({"layer_norm (1100, 2048)",
                  time_fwd_bwd({param({1100, 2048}, 1), param({2048}, 2), param({2048}, 3)},
                               [](const auto& v) { return layer_norm(v[0], v[1], v[2]); })});
  ours.push_back(
      {"softmax (32, 1100, 1100)",
       time_fwd_bwd({param({32, 1100, 1100}, 4)}, [](const auto& v) { return softmax(v[0]); })});
  ours.push_back(
      {"attention (1, 32, 1100, 64)",
       time_fwd_bwd(
           {param({1, 32, 1100, 64}, 5), param({1, 32, 1100, 64}, 6), param({1, 32, 1100, 64}, 7)},
           [](const auto& v) { return scaled_dot_product_attention(v[0], v[1], v[2]); })});
  ours.push_back({"conv2d 3x3 (1, 2048, 16, 16)",
                  time_fwd_bwd({param({1, 2048, 16, 16}, 8), param({2048, 2048, 3, 3}, 9, 0.01)},
                               [](const auto& v) {
                                 return conv2d(v[0], v[1], {}, {.padding = {1, 1}});
                               })});
  ours.push_back({"gelu (1100, 8192)", time_fwd_bwd({param({1100, 8192}, 10)},
                                                    [](const auto& v) { return gelu(v[0]); })});

  bench::Report report("ops", {"psalm_ms", "pytorch_ms", "ratio"});
  for (const auto& [name, seconds] : ours) {
    const double torch_ms = baseline.contains(name) ? baseline[name].get<double>() * 1e3 : 0.0;
    report.add(name, {seconds * 1e3, torch_ms, torch_ms > 0 ? torch_ms / (seconds * 1e3) : 0.0});
  }
  if (!json) {
    std::printf(
        "forward + backward, float32, best of 3 (%s); ratio = PyTorch / psalm (above 1: psalm "
        "faster)%s\n",
        g_cpu_time ? "process CPU time" : "wall time",
        baseline.is_null() ? "; no --baseline given, PyTorch columns are 0" : "");
    std::printf("threads: %d\n", Executor<cpu>::max_threads());
  }
  report.print(json);
}
