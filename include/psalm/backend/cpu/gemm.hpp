// psalm/backend/cpu/gemm.hpp — GEMM on the CPU through a library, behind Gemm<cpu>::run.
// Engines: OpenBLAS (cblas), oneDNN (matmul primitive, the only one here with a bf16 kernel:
// bf16 operands, f32 accumulation), and Eigen (portable fallback). `automatic` picks by
// measurement (docs/performance.md, benchmarks/gemm.cpp): f32 -> OpenBLAS for single products
// and oneDNN for batches, f64 -> OpenBLAS, bf16 -> oneDNN where the CPU has bf16 kernels
// (AVX512-BF16 / AMX), else bf16 -> f32 conversion + OpenBLAS (oneDNN 2.6 has no bf16 matmul
// on AVX2-only CPUs).
// Depends on: tensor/matmul, OpenBLAS, oneDNN, Eigen. Test: tests/backend/test_gemm.cpp.
#pragma once

#include <cblas.h>

#include <Eigen/Core>
#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <type_traits>
#include <vector>

#include "psalm/backend/cpu/executor.hpp"
#include "psalm/tensor/matmul.hpp"

namespace psalm {

enum class CpuGemmEngine { automatic, openblas, onednn, eigen };

namespace cpu_backend {

inline void gemm_openblas(const GemmProblem<float>& p) {
  for (std::int64_t i = 0; i < p.batch; ++i)
    cblas_sgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans,
                p.trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(p.m), static_cast<int>(p.n),
                static_cast<int>(p.k), static_cast<float>(p.alpha), p.a + i * p.stride_a,
                static_cast<int>(p.lda), p.b + i * p.stride_b, static_cast<int>(p.ldb),
                static_cast<float>(p.beta), p.c + i * p.stride_c, static_cast<int>(p.ldc));
}

inline void gemm_openblas(const GemmProblem<double>& p) {
  for (std::int64_t i = 0; i < p.batch; ++i)
    cblas_dgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans,
                p.trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(p.m), static_cast<int>(p.n),
                static_cast<int>(p.k), p.alpha, p.a + i * p.stride_a, static_cast<int>(p.lda),
                p.b + i * p.stride_b, static_cast<int>(p.ldb), p.beta, p.c + i * p.stride_c,
                static_cast<int>(p.ldc));
}

/// The process-wide oneDNN CPU engine and stream (created once, never modified).
inline dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

template <class T>
void gemm_onednn(const GemmProblem<T>& p) {
  using dt = dnnl::memory::data_type;
  static_assert(!std::is_same_v<T, double>, "oneDNN 2.6 has no f64 matmul");
  constexpr dt in_type = std::is_same_v<T, bf16> ? dt::bf16 : dt::f32;
  constexpr dt out_type = dt::f32;
  using dims = dnnl::memory::dims;
  // Row-major logical views; a stored transpose is expressed through the strides.
  const dims a_dims{p.stride_a == 0 ? 1 : p.batch, p.m, p.k};
  const dims a_strides = p.trans_a ? dims{p.stride_a, 1, p.lda} : dims{p.stride_a, p.lda, 1};
  const dims b_dims{p.stride_b == 0 ? 1 : p.batch, p.k, p.n};
  const dims b_strides = p.trans_b ? dims{p.stride_b, 1, p.ldb} : dims{p.stride_b, p.ldb, 1};
  const dims c_dims{p.batch, p.m, p.n};
  const dims c_strides{p.stride_c == 0 ? p.m * p.ldc : p.stride_c, p.ldc, 1};
  const dnnl::memory::desc a_md(a_dims, in_type, a_strides), b_md(b_dims, in_type, b_strides),
      c_md(c_dims, out_type, c_strides);
  dnnl::primitive_attr attr;
  if (p.alpha != 1.0) attr.set_output_scales(0, {static_cast<float>(p.alpha)});
  if (p.beta != 0.0) {
    dnnl::post_ops ops;
    ops.append_sum(static_cast<float>(p.beta));
    attr.set_post_ops(ops);
  }
  auto& engine = onednn_engine();
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, engine);
  const dnnl::matmul prim(pd);
  dnnl::memory a_mem(a_md, engine, const_cast<T*>(p.a)), b_mem(b_md, engine, const_cast<T*>(p.b)),
      c_mem(c_md, engine, p.c);
  dnnl::stream stream(engine);
  prim.execute(stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  stream.wait();
}

/// True when oneDNN can run a bf16 x bf16 -> f32 matmul on this CPU (checked once).
inline bool onednn_has_bf16() {
  static const bool supported = [] {
    try {
      using dt = dnnl::memory::data_type;
      const dnnl::memory::desc a({1, 16, 16}, dt::bf16, dnnl::memory::format_tag::abc);
      const dnnl::memory::desc c({1, 16, 16}, dt::f32, dnnl::memory::format_tag::abc);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, a, c), onednn_engine());
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return supported;
}

/// bf16 operands widened to f32 (contiguous, exact), then an f32 GEMM by OpenBLAS.
inline void gemm_bf16_via_f32(const GemmProblem<bf16>& p) {
  auto widen = [](const bf16* x, std::int64_t batch, std::int64_t stride, std::int64_t rows,
                  std::int64_t cols, std::int64_t ld) {
    std::vector<float> out(static_cast<std::size_t>(batch * rows * cols));  // (batch, rows, cols)
    Executor<cpu>::parallel_for(batch * rows, 64, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t br = begin; br < end; ++br) {
        const bf16* src = x + (br / rows) * stride + (br % rows) * ld;
        float* dst = out.data() + br * cols;
        for (std::int64_t j = 0; j < cols; ++j) dst[j] = static_cast<float>(src[j]);
      }
    });
    return out;
  };
  const std::int64_t a_batch = p.stride_a == 0 ? 1 : p.batch, b_batch = p.stride_b == 0 ? 1 : p.batch;
  const std::int64_t a_rows = p.trans_a ? p.k : p.m, a_cols = p.trans_a ? p.m : p.k;
  const std::int64_t b_rows = p.trans_b ? p.n : p.k, b_cols = p.trans_b ? p.k : p.n;
  const std::vector<float> a = widen(p.a, a_batch, p.stride_a, a_rows, a_cols, p.lda);
  const std::vector<float> b = widen(p.b, b_batch, p.stride_b, b_rows, b_cols, p.ldb);
  GemmProblem<float> q;
  q.batch = p.batch;
  q.m = p.m;
  q.n = p.n;
  q.k = p.k;
  q.a = a.data();
  q.lda = a_cols;
  q.stride_a = p.stride_a == 0 ? 0 : a_rows * a_cols;
  q.trans_a = p.trans_a;
  q.b = b.data();
  q.ldb = b_cols;
  q.stride_b = p.stride_b == 0 ? 0 : b_rows * b_cols;
  q.trans_b = p.trans_b;
  q.c = p.c;
  q.ldc = p.ldc;
  q.stride_c = p.stride_c;
  q.alpha = p.alpha;
  q.beta = p.beta;
  gemm_openblas(q);
}

template <class T>
void gemm_eigen(const GemmProblem<T>& p) {
  using Out = typename GemmProblem<T>::Out;
  using C = std::conditional_t<std::is_same_v<T, bf16>, float, T>;
  using Mat = Eigen::Matrix<C, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  for (std::int64_t i = 0; i < p.batch; ++i) {
    const T* a = p.a + i * p.stride_a;
    const T* b = p.b + i * p.stride_b;
    Eigen::Map<Eigen::Matrix<Out, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Stride> c(
        p.c + i * p.stride_c, p.m, p.n, Stride(p.ldc));
    auto load = [](const T* x, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
      Mat m(rows, cols);
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t s = 0; s < cols; ++s) m(r, s) = convert<C>(x[r * ld + s]);
      return m;
    };
    const Mat ma = p.trans_a ? Mat(load(a, p.k, p.m, p.lda).transpose()) : load(a, p.m, p.k, p.lda);
    const Mat mb = p.trans_b ? Mat(load(b, p.n, p.k, p.ldb).transpose()) : load(b, p.k, p.n, p.ldb);
    if (p.beta == 0.0) c.noalias() = (static_cast<C>(p.alpha) * (ma * mb)).template cast<Out>();
    else c = (static_cast<C>(p.alpha) * (ma * mb)).template cast<Out>() + static_cast<Out>(p.beta) * c;
  }
}

/// Runs `p` with an explicit engine (tests compare engines; benchmarks measure them).
template <class T>
void gemm(const GemmProblem<T>& p, CpuGemmEngine engine = CpuGemmEngine::automatic) {
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  if (engine == CpuGemmEngine::automatic) {
    if constexpr (std::is_same_v<T, bf16>)
      engine = onednn_has_bf16() ? CpuGemmEngine::onednn : CpuGemmEngine::openblas;
    else if constexpr (std::is_same_v<T, double>) engine = CpuGemmEngine::openblas;
    else engine = p.batch > 1 ? CpuGemmEngine::onednn : CpuGemmEngine::openblas;
  }
  if (p.k == 0) {  // no products to sum: C = beta C
    for (std::int64_t i = 0; i < p.batch; ++i)
      for (std::int64_t r = 0; r < p.m; ++r)
        for (std::int64_t s = 0; s < p.n; ++s) {
          auto& v = p.c[i * p.stride_c + r * p.ldc + s];
          v = p.beta == 0.0 ? 0 : static_cast<std::remove_reference_t<decltype(v)>>(p.beta * v);
        }
    return;
  }
  switch (engine) {
    case CpuGemmEngine::openblas:
      if constexpr (std::is_same_v<T, bf16>) {
        gemm_bf16_via_f32(p);  // OpenBLAS 0.3.21 in Debian has no sbgemm: widen to f32
      } else {
        gemm_openblas(p);
      }
      return;
    case CpuGemmEngine::onednn:
      if constexpr (std::is_same_v<T, double>) {
        fail("gemm: oneDNN has no f64 GEMM; use OpenBLAS or Eigen");
      } else if constexpr (std::is_same_v<T, bf16>) {
        PSALM_CHECK(onednn_has_bf16(), "gemm: oneDNN has no bf16 matmul on this CPU (needs "
                                       "AVX512-BF16 or AMX); use the OpenBLAS or Eigen engine");
        gemm_onednn(p);
      } else {
        gemm_onednn(p);
      }
      return;
    case CpuGemmEngine::eigen: gemm_eigen(p); return;
    case CpuGemmEngine::automatic: return;
  }
}

}  // namespace cpu_backend

template <>
struct Gemm<cpu> {
  template <class T>
  static void run(const GemmProblem<T>& p) {
    cpu_backend::gemm(p);
  }
};

}  // namespace psalm
