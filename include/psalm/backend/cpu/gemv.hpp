// psalm/backend/cpu/gemv.hpp — one-row products on the CPU: a GemmProblem with m == 1 (or
// n == 1, by transposition) as GEMVs that stream op(B) once, where a GEMM library would pack
// the whole matrix first (decoding multiplies one token's row by every weight matrix, 4-10x
// slower through sgemm). f32 and bf16 matrices, f32 accumulation. Kernels for AVX-512,
// AVX2 + FMA and portable C++ are chosen at run time, never by compile flags: the build targets
// baseline x86-64, and the AVX-512 code lives only in functions with target attributes.
// Depends on: tensor/matmul, backend/cpu/executor. Test: tests/backend/test_gemv.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PSALM_X86 1
#endif

#include "psalm/backend/cpu/executor.hpp"
#include "psalm/tensor/matmul.hpp"

namespace psalm::cpu_backend {

/// Instruction sets psalm's own CPU kernels are compiled for (each in its own functions).
enum class CpuIsa { generic, avx2, avx512 };

inline const char* isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::avx512:
      return "avx512";
    case CpuIsa::avx2:
      return "avx2";
    case CpuIsa::generic:
      return "generic";
  }
  return "generic";
}

/// True when this CPU (and its OS) can run kernels compiled for `isa`.
inline bool cpu_supports(CpuIsa isa) {
#ifdef PSALM_X86
  switch (isa) {
    case CpuIsa::generic:
      return true;
    case CpuIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CpuIsa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == CpuIsa::generic;
#endif
}

/// The widest kernel set this CPU runs, detected once. The environment variable
/// PSALM_CPU_ISA=generic|avx2|avx512 caps it (to run the fallbacks on a wider CPU, as
/// ONEDNN_MAX_CPU_ISA does for oneDNN).
inline CpuIsa cpu_isa() {
  static const CpuIsa isa = [] {
    CpuIsa best = CpuIsa::generic;
    for (CpuIsa c : {CpuIsa::avx2, CpuIsa::avx512})
      if (cpu_supports(c)) best = c;
    if (const char* cap = std::getenv("PSALM_CPU_ISA")) {
      const std::string_view v(cap);
      const CpuIsa wanted = v == "generic" ? CpuIsa::generic
                            : v == "avx2"  ? CpuIsa::avx2
                                           : CpuIsa::avx512;
      best = std::min(best, wanted);
    }
    return best;
  }();
  return isa;
}

/// One GEMV: for j < n, y[j * incy] = alpha * sum_{q < k} x[q] w(q, j) + beta * y[j * incy],
/// where w(q, j) = w[j * ldw + q] when `rows` (every output is a dot product with a stored row:
/// a transposed B, the layout of a Linear's weight) and w[q * ldw + j] otherwise. x is a
/// contiguous float vector; beta == 0 never reads y.
template <class W>
struct GemvJob {
  const float* x = nullptr;
  const W* w = nullptr;
  std::int64_t ldw = 0;
  bool rows = true;
  std::int64_t n = 0, k = 0;
  float* y = nullptr;
  std::int64_t incy = 1;
  float alpha = 1.0f, beta = 0.0f;

  void store(std::int64_t j, float sum) const {
    float& out = y[j * incy];
    out = beta == 0.0f ? alpha * sum : alpha * sum + beta * out;
  }
};

namespace gemv_detail {

inline float widen(float v) { return v; }
inline float widen(bf16 v) { return bf16::to_float(v.bits); }

// ---- portable C++ (SSE2 vectors from the compiler at -O3) ------------------------------------

template <class W>
void rows_generic(const GemvJob<W>& g, std::int64_t j0, std::int64_t j1) {
  constexpr int kLanes = 16;  // interleaved partial sums: a float sum loop stays scalar otherwise
  for (std::int64_t j = j0; j < j1; ++j) {
    const W* row = g.w + j * g.ldw;
    float lane[kLanes] = {};
    std::int64_t q = 0;
    for (; q + kLanes <= g.k; q += kLanes)
      for (int l = 0; l < kLanes; ++l) lane[l] += g.x[q + l] * widen(row[q + l]);
    for (int l = 0; q < g.k; ++q, ++l) lane[l] += g.x[q] * widen(row[q]);
    float sum = 0.0f;
    for (float v : lane) sum += v;
    g.store(j, sum);
  }
}

template <class W>
void cols_generic(const GemvJob<W>& g, std::int64_t j0, std::int64_t j1) {
  const std::int64_t len = j1 - j0;
  std::vector<float> acc_buffer(static_cast<std::size_t>(len), 0.0f);
  float* __restrict acc = acc_buffer.data();
  std::int64_t q = 0;
  for (; q + 4 <= g.k; q += 4) {  // four rows of B per pass over the accumulators
    const W* __restrict r0 = g.w + q * g.ldw + j0;
    const W* __restrict r1 = r0 + g.ldw;
    const W* __restrict r2 = r1 + g.ldw;
    const W* __restrict r3 = r2 + g.ldw;
    const float x0 = g.x[q], x1 = g.x[q + 1], x2 = g.x[q + 2], x3 = g.x[q + 3];
    for (std::int64_t c = 0; c < len; ++c)
      acc[c] += x0 * widen(r0[c]) + x1 * widen(r1[c]) + x2 * widen(r2[c]) + x3 * widen(r3[c]);
  }
  for (; q < g.k; ++q) {
    const W* __restrict r = g.w + q * g.ldw + j0;
    const float xq = g.x[q];
    for (std::int64_t c = 0; c < len; ++c) acc[c] += xq * widen(r[c]);
  }
  for (std::int64_t c = 0; c < len; ++c) g.store(j0 + c, acc[c]);
}

#ifdef PSALM_X86
// ---- AVX2 + FMA: 8 floats per vector --------------------------------------------------------
#define PSALM_AVX2 __attribute__((target("avx2,fma")))

PSALM_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
PSALM_AVX2 inline __m256 load8(const bf16* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
PSALM_AVX2 inline float hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

template <class W>
PSALM_AVX2 void rows_avx2(const GemvJob<W>& g, std::int64_t j0, std::int64_t j1) {
  const std::int64_t k = g.k, k8 = k - k % 8;
  std::int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {  // four rows at a time: x is loaded once per four
    const W* r0 = g.w + j * g.ldw;
    const W* r1 = r0 + g.ldw;
    const W* r2 = r1 + g.ldw;
    const W* r3 = r2 + g.ldw;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::int64_t q = 0; q < k8; q += 8) {
      const __m256 xv = _mm256_loadu_ps(g.x + q);
      a0 = _mm256_fmadd_ps(xv, load8(r0 + q), a0);
      a1 = _mm256_fmadd_ps(xv, load8(r1 + q), a1);
      a2 = _mm256_fmadd_ps(xv, load8(r2 + q), a2);
      a3 = _mm256_fmadd_ps(xv, load8(r3 + q), a3);
    }
    float s0 = hsum8(a0), s1 = hsum8(a1), s2 = hsum8(a2), s3 = hsum8(a3);
    for (std::int64_t q = k8; q < k; ++q) {
      s0 += g.x[q] * widen(r0[q]);
      s1 += g.x[q] * widen(r1[q]);
      s2 += g.x[q] * widen(r2[q]);
      s3 += g.x[q] * widen(r3[q]);
    }
    g.store(j, s0);
    g.store(j + 1, s1);
    g.store(j + 2, s2);
    g.store(j + 3, s3);
  }
  for (; j < j1; ++j) {
    const W* r = g.w + j * g.ldw;
    __m256 a = _mm256_setzero_ps();
    for (std::int64_t q = 0; q < k8; q += 8)
      a = _mm256_fmadd_ps(_mm256_loadu_ps(g.x + q), load8(r + q), a);
    float s = hsum8(a);
    for (std::int64_t q = k8; q < k; ++q) s += g.x[q] * widen(r[q]);
    g.store(j, s);
  }
}

template <class W>
PSALM_AVX2 void cols_avx2(const GemvJob<W>& g, std::int64_t j0, std::int64_t j1) {
  const std::int64_t len = j1 - j0, len8 = len - len % 8;
  std::vector<float> acc_buffer(static_cast<std::size_t>(len), 0.0f);
  float* acc = acc_buffer.data();
  std::int64_t q = 0;
  for (; q + 4 <= g.k; q += 4) {
    const W* r0 = g.w + q * g.ldw + j0;
    const W* r1 = r0 + g.ldw;
    const W* r2 = r1 + g.ldw;
    const W* r3 = r2 + g.ldw;
    const __m256 x0 = _mm256_set1_ps(g.x[q]), x1 = _mm256_set1_ps(g.x[q + 1]),
                 x2 = _mm256_set1_ps(g.x[q + 2]), x3 = _mm256_set1_ps(g.x[q + 3]);
    for (std::int64_t c = 0; c < len8; c += 8) {
      __m256 a = _mm256_loadu_ps(acc + c);
      a = _mm256_fmadd_ps(x0, load8(r0 + c), a);
      a = _mm256_fmadd_ps(x1, load8(r1 + c), a);
      a = _mm256_fmadd_ps(x2, load8(r2 + c), a);
      a = _mm256_fmadd_ps(x3, load8(r3 + c), a);
      _mm256_storeu_ps(acc + c, a);
    }
    for (std::int64_t c = len8; c < len; ++c)
      acc[c] += g.x[q] * widen(r0[c]) + g.x[q + 1] * widen(r1[c]) + g.x[q + 2] * widen(r2[c]) +
                g.x[q + 3] * widen(r3[c]);
  }
  for (; q < g.k; ++q) {
    const W* r = g.w + q * g.ldw + j0;
    const __m256 xq = _mm256_set1_ps(g.x[q]);
    for (std::int64_t c = 0; c < len8; c += 8)
      _mm256_storeu_ps(acc + c, _mm256_fmadd_ps(xq, load8(r + c), _mm256_loadu_ps(acc + c)));
    for (std::int64_t c = len8; c < len; ++c) acc[c] += g.x[q] * widen(r[c]);
  }
  for (std::int64_t c = 0; c < len; ++c) g.store(j0 + c, acc[c]);
}
#undef PSALM_AVX2

// ---- AVX-512 (F, BW, VL): 16 floats per vector, masked tails ----------------------------------
#define PSALM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

// The zero-masked forms of the widening intrinsics: GCC 12's unmasked ones start from an
// "undefined" vector and draw -Wmaybe-uninitialized warnings.
PSALM_AVX512 inline __m512 widen16(__m256i h) {
  const __m512i w = _mm512_maskz_cvtepu16_epi32(0xFFFF, h);
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, w, 16));
}
PSALM_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
PSALM_AVX512 inline __m512 load16(const bf16* p) {
  return widen16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
PSALM_AVX512 inline __m512 load16(const float* p, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, p);
}
PSALM_AVX512 inline __m512 load16(const bf16* p, __mmask16 m) {
  return widen16(_mm256_maskz_loadu_epi16(m, p));
}
PSALM_AVX512 inline float hsum16(__m512 v) {
  const __m512d d = _mm512_castps_pd(v);
  const __m256 s8 = _mm256_add_ps(_mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, d, 0)),
                                  _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, d, 1)));
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}
PSALM_AVX512 inline __mmask16 tail_mask(std::int64_t left) {
  return static_cast<__mmask16>((1u << left) - 1u);
}

template <class W>
PSALM_AVX512 void rows_avx512(const GemvJob<W>& g, std::int64_t j0, std::int64_t j1) {
  const std::int64_t k = g.k, k16 = k - k % 16;
  const __mmask16 tail = tail_mask(k - k16);
  std::int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {
    const W* r0 = g.w + j * g.ldw;
    const W* r1 = r0 + g.ldw;
    const W* r2 = r1 + g.ldw;
    const W* r3 = r2 + g.ldw;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::int64_t q = 0; q < k16; q += 16) {
      const __m512 xv = _mm512_loadu_ps(g.x + q);
      a0 = _mm512_fmadd_ps(xv, load16(r0 + q), a0);
      a1 = _mm512_fmadd_ps(xv, load16(r1 + q), a1);
      a2 = _mm512_fmadd_ps(xv, load16(r2 + q), a2);
      a3 = _mm512_fmadd_ps(xv, load16(r3 + q), a3);
    }
    if (tail != 0) {
      const __m512 xv = _mm512_maskz_loadu_ps(tail, g.x + k16);
      a0 = _mm512_fmadd_ps(xv, load16(r0 + k16, tail), a0);
      a1 = _mm512_fmadd_ps(xv, load16(r1 + k16, tail), a1);
      a2 = _mm512_fmadd_ps(xv, load16(r2 + k16, tail), a2);
      a3 = _mm512_fmadd_ps(xv, load16(r3 + k16, tail), a3);
    }
    g.store(j, hsum16(a0));
    g.store(j + 1, hsum16(a1));
    g.store(j + 2, hsum16(a2));
    g.store(j + 3, hsum16(a3));
  }
  for (; j < j1; ++j) {
    const W* r = g.w + j * g.ldw;
    __m512 a = _mm512_setzero_ps();
    for (std::int64_t q = 0; q < k16; q += 16)
      a = _mm512_fmadd_ps(_mm512_loadu_ps(g.x + q), load16(r + q), a);
    if (tail != 0)
      a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, g.x + k16), load16(r + k16, tail), a);
    g.store(j, hsum16(a));
  }
}

template <class W>
PSALM_AVX512 void cols_avx512(const GemvJob<W>& g, std::int64_t j0, std::int64_t j1) {
  const std::int64_t len = j1 - j0, len16 = len - len % 16;
  const __mmask16 tail = tail_mask(len - len16);
  std::vector<float> acc_buffer(static_cast<std::size_t>(len), 0.0f);
  float* acc = acc_buffer.data();
  std::int64_t q = 0;
  for (; q + 4 <= g.k; q += 4) {
    const W* r0 = g.w + q * g.ldw + j0;
    const W* r1 = r0 + g.ldw;
    const W* r2 = r1 + g.ldw;
    const W* r3 = r2 + g.ldw;
    const __m512 x0 = _mm512_set1_ps(g.x[q]), x1 = _mm512_set1_ps(g.x[q + 1]),
                 x2 = _mm512_set1_ps(g.x[q + 2]), x3 = _mm512_set1_ps(g.x[q + 3]);
    for (std::int64_t c = 0; c < len16; c += 16) {
      __m512 a = _mm512_loadu_ps(acc + c);
      a = _mm512_fmadd_ps(x0, load16(r0 + c), a);
      a = _mm512_fmadd_ps(x1, load16(r1 + c), a);
      a = _mm512_fmadd_ps(x2, load16(r2 + c), a);
      a = _mm512_fmadd_ps(x3, load16(r3 + c), a);
      _mm512_storeu_ps(acc + c, a);
    }
    if (tail != 0) {
      __m512 a = _mm512_maskz_loadu_ps(tail, acc + len16);
      a = _mm512_fmadd_ps(x0, load16(r0 + len16, tail), a);
      a = _mm512_fmadd_ps(x1, load16(r1 + len16, tail), a);
      a = _mm512_fmadd_ps(x2, load16(r2 + len16, tail), a);
      a = _mm512_fmadd_ps(x3, load16(r3 + len16, tail), a);
      _mm512_mask_storeu_ps(acc + len16, tail, a);
    }
  }
  for (; q < g.k; ++q) {
    const W* r = g.w + q * g.ldw + j0;
    const __m512 xq = _mm512_set1_ps(g.x[q]);
    for (std::int64_t c = 0; c < len16; c += 16)
      _mm512_storeu_ps(acc + c, _mm512_fmadd_ps(xq, load16(r + c), _mm512_loadu_ps(acc + c)));
    if (tail != 0)
      _mm512_mask_storeu_ps(
          acc + len16, tail,
          _mm512_fmadd_ps(xq, load16(r + len16, tail), _mm512_maskz_loadu_ps(tail, acc + len16)));
  }
  for (std::int64_t c = 0; c < len; ++c) g.store(j0 + c, acc[c]);
}
#undef PSALM_AVX512
#endif  // PSALM_X86

}  // namespace gemv_detail

/// Runs outputs [j0, j1) of `g` with the kernels of `isa` (which this CPU must support).
template <class W>
void gemv_range(const GemvJob<W>& g, std::int64_t j0, std::int64_t j1, CpuIsa isa) {
  static_assert(std::is_same_v<W, float> || std::is_same_v<W, bf16>, "gemv: f32 or bf16 matrices");
  if (j0 >= j1) return;
#ifdef PSALM_X86
  if (isa == CpuIsa::avx512) {
    if (g.rows)
      gemv_detail::rows_avx512(g, j0, j1);
    else
      gemv_detail::cols_avx512(g, j0, j1);
    return;
  }
  if (isa == CpuIsa::avx2) {
    if (g.rows)
      gemv_detail::rows_avx2(g, j0, j1);
    else
      gemv_detail::cols_avx2(g, j0, j1);
    return;
  }
#endif
  if (g.rows)
    gemv_detail::rows_generic(g, j0, j1);
  else
    gemv_detail::cols_generic(g, j0, j1);
}

/// True when `p` is a one-row (m == 1) or one-column (n == 1) product.
template <class T>
bool is_gemv(const GemmProblem<T>& p) {
  return p.m == 1 || p.n == 1;
}

/// Computes a one-row (m == 1) or one-column (n == 1) GemmProblem as GEMVs with the kernels of
/// `isa` (default: the widest this CPU runs), in parallel over the batch and the outputs.
template <class T>
void gemv(const GemmProblem<T>& p, CpuIsa isa = cpu_isa()) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, bf16>, "gemv: f32 or bf16 operands");
  PSALM_CHECK(is_gemv(p), "gemv: needs m == 1 or n == 1, got m = ", p.m, ", n = ", p.n);
  PSALM_CHECK(cpu_supports(isa), "gemv: this CPU cannot run the ", isa_name(isa), " kernels");
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  // m == 1: x = row 0 of op(A), the matrix is op(B) (k x n), outputs along C's row.
  // n == 1: C^T = op(B)^T op(A)^T: x = column 0 of op(B), the matrix is op(A)^T, outputs down
  // C's column (stride ldc).
  const bool row_case = p.m == 1;
  const T* xs = row_case ? p.a : p.b;
  const std::int64_t x_stride = row_case ? p.stride_a : p.stride_b;
  const std::int64_t x_step = row_case ? (p.trans_a ? p.lda : 1) : (p.trans_b ? 1 : p.ldb);
  const std::int64_t x_count = x_stride == 0 ? 1 : p.batch;
  std::vector<float> x(static_cast<std::size_t>(x_count * p.k));  // (x_count, k)
  for (std::int64_t b = 0; b < x_count; ++b)
    for (std::int64_t q = 0; q < p.k; ++q)
      x[static_cast<std::size_t>(b * p.k + q)] = convert<float>(xs[b * x_stride + q * x_step]);
  GemvJob<T> base;
  base.k = p.k;
  base.alpha = static_cast<float>(p.alpha);
  base.beta = static_cast<float>(p.beta);
  if (row_case) {
    base.ldw = p.ldb;
    base.rows = p.trans_b;  // B stored (n, k): output j reads row j
    base.n = p.n;
    base.incy = 1;
  } else {
    base.ldw = p.lda;
    base.rows = !p.trans_a;  // A stored (m, k): output i reads row i
    base.n = p.m;
    base.incy = p.ldc;
  }
  const std::int64_t w_stride = row_case ? p.stride_b : p.stride_a;
  const T* ws = row_case ? p.b : p.a;
  const std::int64_t outputs = base.n;
  // At least ~32 K matrix elements per thread (k per output), so small products stay on one
  // thread.
  const std::int64_t grain = grain_for(p.k, std::int64_t{1} << 15);
  Executor<cpu>::parallel_for(p.batch * outputs, grain, [&](std::int64_t begin, std::int64_t end) {
    while (begin < end) {
      const std::int64_t b = begin / outputs, j0 = begin % outputs;
      const std::int64_t j1 = std::min(outputs, j0 + (end - begin));
      GemvJob<T> g = base;
      g.x = x.data() + (x_count == 1 ? 0 : b * p.k);
      g.w = ws + b * w_stride;
      g.y = p.c + b * p.stride_c;
      gemv_range(g, j0, j1, isa);
      begin += j1 - j0;
    }
  });
}

}  // namespace psalm::cpu_backend
