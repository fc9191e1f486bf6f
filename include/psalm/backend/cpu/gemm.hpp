// psalm/backend/cpu/gemm.hpp — GEMM on the CPU through a library, behind Gemm<cpu>::run.
// Engines: OpenBLAS (cblas), oneDNN (matmul primitive, the only one here with a bf16 kernel:
// bf16 operands, f32 accumulation), and Eigen (portable fallback). `automatic` picks by
// measurement (docs/performance.md, benchmarks/gemm.cpp): f32 -> OpenBLAS for single products
// and oneDNN for batches, f64 -> OpenBLAS, bf16 -> oneDNN where the CPU has bf16 kernels
// (AVX512-BF16 / AMX), else bf16 -> f32 conversion + OpenBLAS (oneDNN 2.6 has no bf16 matmul
// on AVX2-only CPUs). oneDNN primitives are created once per geometry and cached; geometries
// for which oneDNN only has its reference ("ref:any") kernel go to OpenBLAS instead.
// Depends on: tensor/matmul, OpenBLAS, oneDNN, Eigen. Test: tests/backend/test_gemm.cpp.
#pragma once

#include <cblas.h>

#include <Eigen/Core>
#include <cstdint>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
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

/// What identifies a oneDNN matmul primitive: element type and the problem's geometry.
struct OnednnKey {
  int type;
  std::int64_t batch, m, n, k, lda, ldb, ldc, stride_a, stride_b, stride_c;
  bool trans_a, trans_b;
  double alpha, beta;
  auto operator<=>(const OnednnKey&) const = default;
};

/// A created matmul primitive and the name of the implementation oneDNN chose for it.
struct OnednnMatmul {
  dnnl::matmul primitive;
  dnnl::memory::desc a, b, c;
  std::string impl;
};

/// The primitive for `p`, created once per geometry and cached. Empty when oneDNN only offers
/// its reference implementation ("ref:any"): those run scalar loops, up to 1000x slower than
/// OpenBLAS (a transposed batched f32 product took 12.8 s), so the caller takes another engine.
template <class T>
const OnednnMatmul* onednn_matmul(const GemmProblem<T>& p) {
  using dt = dnnl::memory::data_type;
  static_assert(!std::is_same_v<T, double>, "oneDNN 2.6 has no f64 matmul");
  constexpr dt in_type = std::is_same_v<T, bf16> ? dt::bf16 : dt::f32;
  static std::mutex mutex;
  static std::map<OnednnKey, std::optional<OnednnMatmul>> cache;
  const OnednnKey key{static_cast<int>(in_type), p.batch, p.m, p.n, p.k, p.lda, p.ldb, p.ldc,
                      p.stride_a, p.stride_b, p.stride_c, p.trans_a, p.trans_b, p.alpha, p.beta};
  const std::lock_guard<std::mutex> lock(mutex);
  if (const auto found = cache.find(key); found != cache.end())
    return found->second ? &*found->second : nullptr;
  using dims = dnnl::memory::dims;
  // Row-major logical views; a stored transpose is expressed through the strides.
  const dims a_dims{p.stride_a == 0 ? 1 : p.batch, p.m, p.k};
  const dims a_strides = p.trans_a ? dims{p.stride_a, 1, p.lda} : dims{p.stride_a, p.lda, 1};
  const dims b_dims{p.stride_b == 0 ? 1 : p.batch, p.k, p.n};
  const dims b_strides = p.trans_b ? dims{p.stride_b, 1, p.ldb} : dims{p.stride_b, p.ldb, 1};
  const dims c_dims{p.batch, p.m, p.n};
  const dims c_strides{p.stride_c == 0 ? p.m * p.ldc : p.stride_c, p.ldc, 1};
  const dnnl::memory::desc a_md(a_dims, in_type, a_strides), b_md(b_dims, in_type, b_strides),
      c_md(c_dims, dt::f32, c_strides);
  dnnl::primitive_attr attr;
  if (p.alpha != 1.0) attr.set_output_scales(0, {static_cast<float>(p.alpha)});
  if (p.beta != 0.0) {
    dnnl::post_ops ops;
    ops.append_sum(static_cast<float>(p.beta));
    attr.set_post_ops(ops);
  }
  std::optional<OnednnMatmul> entry;
  try {
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr,
                                          onednn_engine());
    std::string impl = pd.impl_info_str();
    if (!impl.starts_with("ref")) entry = OnednnMatmul{dnnl::matmul(pd), a_md, b_md, c_md, impl};
  } catch (const dnnl::error&) {
    // no implementation at all for this geometry: another engine runs it
  }
  const auto& stored = cache.emplace(key, std::move(entry)).first->second;
  return stored ? &*stored : nullptr;
}

/// Runs `p` through oneDNN; false (nothing done) when oneDNN has no fast implementation.
template <class T>
bool gemm_onednn(const GemmProblem<T>& p) {
  const OnednnMatmul* mm = onednn_matmul(p);
  if (mm == nullptr) return false;
  auto& engine = onednn_engine();
  dnnl::memory a_mem(mm->a, engine, const_cast<T*>(p.a)), b_mem(mm->b, engine, const_cast<T*>(p.b)),
      c_mem(mm->c, engine, p.c);
  dnnl::stream stream(engine);
  mm->primitive.execute(stream,
                        {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  stream.wait();
  return true;
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
        if (!gemm_onednn(p)) gemm_bf16_via_f32(p);  // only a reference kernel for this layout
      } else {
        if (!gemm_onednn(p)) gemm_openblas(p);  // only a reference kernel for this layout
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
