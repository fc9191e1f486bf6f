// benchmarks/gemm.cpp — psalm's matmul against OpenBLAS cblas_sgemm in the same process, at the
// shapes PSALM runs (Phi-1.5 projections for ~1100 tokens, the pixel decoder's 1x1 convs at
// 1/8 scale, Swin window attention). Prints GFLOP/s for psalm f32 (automatic engine), each
// CPU engine, psalm bf16, and the ratios against OpenBLAS f32.
// Usage: bench_gemm [--json] [--quick]
#include <cblas.h>

#include <cstdio>

#include "bench_util.hpp"
#include "psalm/tensor.hpp"

using namespace psalm;

namespace {

struct Case {
  const char* name;
  std::int64_t batch, m, k, n;
};

GemmProblem<float> problem(const Tensor<float>& a, const Tensor<float>& b, Tensor<float>& c) {
  GemmProblem<float> p;
  p.batch = a.rank() == 3 ? a.size(0) : 1;
  p.m = a.size(-2);
  p.k = a.size(-1);
  p.n = b.size(-1);
  p.a = a.data();
  p.lda = p.k;
  p.stride_a = p.m * p.k;
  p.b = b.data();
  p.ldb = p.n;
  p.stride_b = p.k * p.n;
  p.c = c.data();
  p.ldc = p.n;
  p.stride_c = p.m * p.n;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  const bool quick = bench::has_flag(argc, argv, "--quick");
  const std::vector<Case> cases = {
      {"1100x2048x2048", 1, 1100, 2048, 2048},    // Phi q/k/v/dense
      {"1100x2048x8192", 1, 1100, 2048, 8192},    // Phi fc1
      {"1100x8192x2048", 1, 1100, 8192, 2048},    // Phi fc2
      {"21504x256x256", 1, 21504, 256, 256},      // pixel decoder 1x1 conv / value_proj
      {"batched 484x[144x32x144]", 484, 144, 32, 144},  // Swin windows (q k^T), one head
  };
  bench::Report report("gemm", {"openblas_gflops", "psalm_f32_gflops", "onednn_f32_gflops",
                                "eigen_f32_gflops", "psalm_bf16_gflops", "f32_ratio", "bf16_ratio"});
  for (const Case& cs : cases) {
    const Shape sa = cs.batch > 1 ? Shape{cs.batch, cs.m, cs.k} : Shape{cs.m, cs.k};
    const Shape sb = cs.batch > 1 ? Shape{cs.batch, cs.k, cs.n} : Shape{cs.k, cs.n};
    const Shape sc = cs.batch > 1 ? Shape{cs.batch, cs.m, cs.n} : Shape{cs.m, cs.n};
    const auto a = Tensor<float>::randn(sa, 1), b = Tensor<float>::randn(sb, 2);
    auto c = Tensor<float>::zeros(sc);
    const Tensor<bf16> ah = cast<bf16>(a), bh = cast<bf16>(b);
    const GemmProblem<float> p = problem(a, b, c);
    const double flops = 2.0 * cs.batch * cs.m * cs.k * cs.n;
    const int reps = quick ? 1 : 3;
    auto gflops = [&](const std::function<void()>& fn) { return flops / bench::best_seconds(fn, reps, 0.2) / 1e9; };
    const double openblas = gflops([&] {
      for (std::int64_t i = 0; i < cs.batch; ++i)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(cs.m), int(cs.n), int(cs.k), 1.0f,
                    a.data() + i * cs.m * cs.k, int(cs.k), b.data() + i * cs.k * cs.n, int(cs.n), 0.0f,
                    c.data() + i * cs.m * cs.n, int(cs.n));
    });
    const double ours = gflops([&] { matmul_into(c, a, b); });
    const double onednn = gflops([&] { cpu_backend::gemm(p, CpuGemmEngine::onednn); });
    const double eigen = quick ? 0.0 : gflops([&] { cpu_backend::gemm(p, CpuGemmEngine::eigen); });
    const double ours_bf16 = gflops([&] { matmul_into(c, ah, bh); });
    report.add(cs.name, {openblas, ours, onednn, eigen, ours_bf16, ours / openblas, ours_bf16 / openblas});
  }
  if (!json) {
    std::printf("GEMM, GFLOP/s (higher is better); ratios are psalm / OpenBLAS f32, same process.\n");
    std::printf("threads: %d, oneDNN bf16 kernels on this CPU: %s\n", Executor<cpu>::max_threads(),
                cpu_backend::onednn_has_bf16() ? "yes" : "no (bf16 runs as widened f32)");
  }
  report.print(json);
}
