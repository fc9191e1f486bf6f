// benchmarks/gemm.cpp — psalm's matmul against OpenBLAS cblas_sgemm (f32, same layout) in the
// same process, at the shapes PSALM runs: the Phi-1.5 projections over ~1100 tokens in a
// Linear's layout (x W^T) and their backward products, the pixel decoder's 1x1 convs at 1/8
// scale, Swin window attention; and the one-row products of decoding (one token against
// every weight matrix and the 51,200-row lm_head), where the baseline is cblas_sgemv.
// Prints GFLOP/s of OpenBLAS, psalm f32 (automatic engine), oneDNN f32, psalm bf16 (automatic),
// psalm bf16 with B kept packed in a PackedOperand slot, the ratios against OpenBLAS f32, and
// the kernel each psalm column ran.
// Usage: bench_gemm [--json] [--quick] [--eigen] [--decode-only]
#include <cblas.h>

#include <cstdio>
#include <string>

#include "bench_util.hpp"
#include "psalm/tensor.hpp"

using namespace psalm;

namespace {

struct Case {
  std::string name;
  std::int64_t batch, m, k, n;
  bool trans_a, trans_b;  // as stored: A (k, m) / B (n, k)
  std::int64_t pad = 0;   // extra elements at the end of every stored row of A
};

/// The stored operand extents of a case: (batch, rows, cols).
Shape stored(std::int64_t batch, std::int64_t rows, std::int64_t cols, bool trans,
             std::int64_t pad = 0) {
  return batch > 1 ? Shape{batch, trans ? cols : rows, (trans ? rows : cols) + pad}
                   : Shape{trans ? cols : rows, (trans ? rows : cols) + pad};
}

template <class T>
GemmProblem<T> problem(const Case& cs, const Tensor<T>& a, const Tensor<T>& b, Tensor<float>& c) {
  GemmProblem<T> p;
  p.batch = cs.batch;
  p.m = cs.m;
  p.k = cs.k;
  p.n = cs.n;
  p.a = a.data();
  p.lda = a.size(-1);
  p.stride_a = cs.batch > 1 ? a.size(-1) * a.size(-2) : 0;
  p.trans_a = cs.trans_a;
  p.b = b.data();
  p.ldb = b.size(-1);
  p.stride_b = cs.batch > 1 ? b.size(-1) * b.size(-2) : 0;
  p.trans_b = cs.trans_b;
  p.c = c.data();
  p.ldc = cs.n;
  p.stride_c = cs.m * cs.n;
  return p;
}

void openblas(const GemmProblem<float>& p) {
  for (std::int64_t i = 0; i < p.batch; ++i)
    cblas_sgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans,
                p.trans_b ? CblasTrans : CblasNoTrans, int(p.m), int(p.n), int(p.k), 1.0f,
                p.a + i * p.stride_a, int(p.lda), p.b + i * p.stride_b, int(p.ldb), 0.0f,
                p.c + i * p.stride_c, int(p.ldc));
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  const bool quick = bench::has_flag(argc, argv, "--quick");
  const bool with_eigen = bench::has_flag(argc, argv, "--eigen");
  const bool decode_only = bench::has_flag(argc, argv, "--decode-only");
  std::vector<Case> cases = {
      {"phi qkv 1100x2048x2048", 1, 1100, 2048, 2048, false, true},  // x W^T
      {"phi fc1 1100x2048x8192", 1, 1100, 2048, 8192, false, true},
      {"phi fc2 1100x8192x2048", 1, 1100, 8192, 2048, false, true},
      {"phi d_x 1100x2048x2048 NN", 1, 1100, 2048, 2048, false, false},  // d_y W
      {"phi d_W 2048x1100x2048 TN", 1, 2048, 1100, 2048, true, false},   // d_y^T x
      {"phi qkv, A rows padded", 1, 1100, 2048, 2048, false, true, 64},  // x a view of a wider row
      {"pixdec 21504x256x256", 1, 21504, 256, 256, false, true},
      {"swin 484x[144x32x144]", 484, 144, 32, 144, false, true},  // q k^T per window, one head
      {"small 64x64x64", 1, 64, 64, 64, false, true},
  };
  if (decode_only) cases.clear();
  bench::Report report("gemm", {"openblas", "psalm_f32", "onednn_f32", "eigen_f32", "psalm_bf16",
                                "bf16_packed_b", "f32_ratio", "bf16_ratio", "packed_ratio"});
  const int reps = quick ? 1 : 3;
  const double min_s = quick ? 0.0 : 0.05;
  for (const Case& cs : cases) {
    const Tensor<float> a =
        Tensor<float>::randn(stored(cs.batch, cs.m, cs.k, cs.trans_a, cs.pad), 1);
    const Tensor<float> b = Tensor<float>::randn(stored(cs.batch, cs.k, cs.n, cs.trans_b), 2);
    Tensor<float> c =
        Tensor<float>::zeros(cs.batch > 1 ? Shape{cs.batch, cs.m, cs.n} : Shape{cs.m, cs.n});
    const Tensor<bf16> ah = cast<bf16>(a), bh = cast<bf16>(b);
    const GemmProblem<float> p = problem(cs, a, b, c);
    const GemmProblem<bf16> ph = problem(cs, ah, bh, c);
    PackedOperand slot;
    GemmProblem<bf16> pp = ph;
    if (cs.batch == 1) pp.packed_b = &slot;
    const double flops = 2.0 * double(cs.batch) * double(cs.m) * double(cs.k) * double(cs.n);
    auto gflops = [&](const std::function<void()>& fn) {
      return flops / bench::best_seconds(fn, reps, min_s) / 1e9;
    };
    const double blas = gflops([&] { openblas(p); });
    const double ours = gflops([&] { cpu_backend::gemm(p); });
    const double onednn = gflops([&] { cpu_backend::gemm(p, CpuGemmEngine::onednn); });
    const double eigen =
        with_eigen ? gflops([&] { cpu_backend::gemm(p, CpuGemmEngine::eigen); }) : 0.0;
    const double ours_bf16 = gflops([&] { cpu_backend::gemm(ph); });
    const double packed = cs.batch == 1 ? gflops([&] { cpu_backend::gemm(pp); }) : 0.0;
    report.add(cs.name, {blas, ours, onednn, eigen, ours_bf16, packed, ours / blas,
                         ours_bf16 / blas, packed / blas});
    report.note(cs.name, "f32", cpu_backend::gemm_implementation(p));
    report.note(cs.name, "bf16", cpu_backend::gemm_implementation(ph));
    if (cs.batch == 1) report.note(cs.name, "bf16 packed", cpu_backend::gemm_implementation(pp));
  }
  // Decoding: one row against a Linear weight (n, k): GEMV. Baselines: cblas_sgemv (streams
  // the matrix once) and cblas_sgemm with m = 1 (what psalm ran before: packs the matrix).
  bench::Report decode("gemv", {"sgemm_m1", "sgemv", "psalm_f32", "psalm_bf16", "f32_vs_sgemv",
                                "bf16_vs_sgemv", "psalm_f32_GBps", "psalm_bf16_GBps"});
  const std::vector<Case> rows = {
      {"decode 1x2048x2048", 1, 1, 2048, 2048, false, true},
      {"decode 1x2048x8192", 1, 1, 2048, 8192, false, true},
      {"decode 1x8192x2048", 1, 1, 8192, 2048, false, true},
      {"decode lm_head 1x2048x51200", 1, 1, 2048, 51200, false, true},
  };
  for (const Case& cs : rows) {
    const Tensor<float> x = Tensor<float>::randn({1, cs.k}, 1),
                        w = Tensor<float>::randn({cs.n, cs.k}, 2);
    Tensor<float> y = Tensor<float>::zeros({1, cs.n});
    const Tensor<bf16> xh = cast<bf16>(x), wh = cast<bf16>(w);
    const GemmProblem<float> p = problem(cs, x, w, y);
    const GemmProblem<bf16> ph = problem(cs, xh, wh, y);
    const double flops = 2.0 * double(cs.k) * double(cs.n);
    // Best single call of many: a call is short, and on a shared machine most batches of calls
    // include a preemption.
    auto seconds = [&](const std::function<void()>& fn) {
      return bench::best_seconds(fn, quick ? 5 : 30, 0.0);
    };
    const double sgemm_s = seconds([&] { openblas(p); });
    const double sgemv_s = seconds([&] {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, int(cs.n), int(cs.k), 1.0f, w.data(), int(cs.k),
                  x.data(), 1, 0.0f, y.data(), 1);
    });
    const double f32_s = seconds([&] { cpu_backend::gemm(p); });
    const double bf16_s = seconds([&] { cpu_backend::gemm(ph); });
    decode.add(cs.name,
               {flops / sgemm_s / 1e9, flops / sgemv_s / 1e9, flops / f32_s / 1e9,
                flops / bf16_s / 1e9, sgemv_s / f32_s, sgemv_s / bf16_s,
                4.0 * double(cs.k * cs.n) / f32_s / 1e9, 2.0 * double(cs.k * cs.n) / bf16_s / 1e9});
    decode.note(cs.name, "f32", cpu_backend::gemm_implementation(p));
    decode.note(cs.name, "bf16", cpu_backend::gemm_implementation(ph));
  }
  if (!json) {
    std::printf(
        "GEMM, GFLOP/s (higher is better); ratios are psalm / OpenBLAS f32 in the same layout, "
        "same process; packed_b: bf16 with B reordered once into oneDNN's layout.\n");
    report.print(false);
    std::printf(
        "\nOne-row products (decoding), GFLOP/s; ratios are psalm / cblas_sgemv (f32); "
        "GB/s = matrix bytes streamed per second.\n");
    decode.print(false);
  } else {
    nlohmann::json out = report.to_json();
    out["gemv_rows"] = decode.to_json()["rows"];
    std::printf("%s\n", out.dump().c_str());
  }
}
