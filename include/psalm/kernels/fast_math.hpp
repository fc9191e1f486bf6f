// psalm/kernels/fast_math.hpp — float exp, normal CDF and sigmoid written as straight-line,
// branch-free arithmetic, so a compiler vectorises the loops that call them (libm's expf / erff
// are opaque calls that keep every loop scalar). Accurate to a few float ulp; double keeps the
// std:: functions (gradient checks need them). Also lane-split sums: LANES partial sums that a
// compiler maps to SIMD registers (a plain float sum stays scalar without -ffast-math).
// Depends on: core. Test: tests/kernels/test_fast_math.cpp.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "psalm/core/macros.hpp"

// Forced inlining on the host: a call the compiler keeps out of line (exp_f32 is long enough
// for GCC to decline a plain `inline`) makes the calling loop scalar again.
#if defined(__CUDACC__)
#define PSALM_FAST_MATH_INLINE __host__ __device__ __forceinline__
#else
#define PSALM_FAST_MATH_INLINE inline __attribute__((always_inline))
#endif

namespace psalm::kernels {

namespace fast_math_detail {

PSALM_FAST_MATH_INLINE std::int32_t bits_of(float x) {
#if PSALM_IN_DEVICE_CODE
  return __float_as_int(x);
#else
  return std::bit_cast<std::int32_t>(x);
#endif
}

PSALM_FAST_MATH_INLINE float float_of(std::int32_t b) {
#if PSALM_IN_DEVICE_CODE
  return __int_as_float(b);
#else
  return std::bit_cast<float>(b);
#endif
}

/// a < b and a > b without a floating-point exception on NaN: the compiler may then evaluate
/// both arms of a select and vectorise (an ordinary < is "trapping" under -ftrapping-math).
PSALM_FAST_MATH_INLINE bool quiet_less(float a, float b) {
#if PSALM_IN_DEVICE_CODE
  return a < b;
#else
  return __builtin_isless(a, b);
#endif
}
PSALM_FAST_MATH_INLINE bool quiet_greater(float a, float b) { return quiet_less(b, a); }
PSALM_FAST_MATH_INLINE bool is_nan(float a) {
#if PSALM_IN_DEVICE_CODE
  return a != a;
#else
  return __builtin_isunordered(a, a);
#endif
}

}  // namespace fast_math_detail

/// e^x in float: n = round(x / ln 2) by the 1.5 * 2^23 shifter, r = x - n ln 2 in two parts
/// (Cody-Waite), a degree-7 polynomial for e^r (Cephes expf coefficients), then 2^n built from
/// exponent bits in two halves so subnormal results stay right. Max error ~1 ulp; -inf and
/// results below the smallest subnormal give 0, above FLT_MAX give inf, NaN stays NaN.
PSALM_FAST_MATH_INLINE float exp_f32(float x) {
  using fast_math_detail::bits_of;
  using fast_math_detail::float_of;
  constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  // No clamping before the polynomial (a clamp lets the compiler split the loop into paths it
  // cannot vectorise): out-of-range inputs compute garbage that the selects below replace.
  const float kd = x * 1.44269504088896341f + kShifter;
  const float n = kd - kShifter;
  float r = x - n * 0.693359375f;  // ln 2 high part (exact product)
  r = r - n * -2.12194440e-4f;     // ln 2 low part
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // n as an integer (in [-150, 128] for the inputs kept), split in two halves so that each
  // 2^half is a normal float; unsigned arithmetic: no overflow for the inputs replaced below.
  const std::uint32_t ni =
      static_cast<std::uint32_t>(bits_of(kd)) - static_cast<std::uint32_t>(bits_of(kShifter));
  const std::uint32_t n1 = static_cast<std::uint32_t>(static_cast<std::int32_t>(ni) >> 1);
  const std::uint32_t n2 = ni - n1;
  const float y = p * float_of(static_cast<std::int32_t>((n1 + 127u) << 23)) *
                  float_of(static_cast<std::int32_t>((n2 + 127u) << 23));
  // Special inputs by bit masks (a ?: on floats would be turned back into branches):
  // below the smallest subnormal -> 0, above FLT_MAX -> inf, NaN -> NaN.
  const std::uint32_t under =
      0u - static_cast<std::uint32_t>(fast_math_detail::quiet_less(x, -104.0f));
  const std::uint32_t over =
      0u - static_cast<std::uint32_t>(fast_math_detail::quiet_greater(x, 88.72283935546875f));
  const std::uint32_t nan = 0u - static_cast<std::uint32_t>(fast_math_detail::is_nan(x));
  std::uint32_t b = static_cast<std::uint32_t>(bits_of(y)) & ~(under | over | nan);
  b |= 0x7f800000u & over;
  b |= static_cast<std::uint32_t>(bits_of(x)) & nan;
  return float_of(static_cast<std::int32_t>(b));
}

/// Phi(x) = P(N(0, 1) <= x) = erfc(-x / sqrt 2) / 2 in float. erfc(z) for z >= 0 is
/// t exp(-z^2 + P(t)) with t = 1 / (1 + z / 2) and P a degree-9 polynomial (a Chebyshev fit
/// made for psalm in double, relative error 1.1e-7 before float rounding; the form is Numerical
/// Recipes' erfcc). Relative accuracy holds in both tails, unlike 1 + erf(x) in float.
PSALM_FAST_MATH_INLINE float normal_cdf_f32(float x) {
  using fast_math_detail::bits_of;
  using fast_math_detail::float_of;
  const std::uint32_t xb = static_cast<std::uint32_t>(bits_of(x));
  const float z = float_of(static_cast<std::int32_t>(xb & 0x7fffffffu)) *
                  0.70710678118654752440f;  // |x| / sqrt(2)
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.16823418923637767f;
  p = p * t - 0.8096189049018654f;
  p = p * t + 1.4634491451481688f;
  p = p * t - 1.1077871311674339f;
  p = p * t + 0.2610470192866583f;
  p = p * t - 0.17928687522758002f;
  p = p * t + 0.09516851317818584f;
  p = p * t + 0.3742939227759688f;
  p = p * t + 1.0000122046239797f;
  p = p * t - 1.265512033868688f;
  const float half_erfc = 0.5f * t * exp_f32(p - z * z);  // erfc(|x| / sqrt 2) / 2
  // x < 0 (sign bit set): erfc / 2, else 1 - erfc / 2; selected by masks (see exp_f32).
  const std::uint32_t negative = 0u - (xb >> 31);
  const std::uint32_t b = (static_cast<std::uint32_t>(bits_of(half_erfc)) & negative) |
                          (static_cast<std::uint32_t>(bits_of(1.0f - half_erfc)) & ~negative);
  return float_of(static_cast<std::int32_t>(b));
}

/// 1 / (1 + e^-x) in float, branch-free (e^-x overflowing to inf gives 0).
PSALM_FAST_MATH_INLINE float sigmoid_f32(float x) { return 1.0f / (1.0f + exp_f32(-x)); }

/// e^x: the vectorisable float version for float, std::exp otherwise.
template <class T>
PSALM_FAST_MATH_INLINE T fast_exp(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return exp_f32(x);
  } else {
    return std::exp(x);
  }
}

/// Number of partial sums in row reductions: 16 floats fill two AVX or four SSE registers.
inline constexpr int kLanes = 16;

/// sum_j f(j) for j in [0, n), accumulated in kLanes interleaved partial sums (the order of a
/// SIMD reduction, identical on every device), then added pairwise.
template <class A, class F>
PSALM_FAST_MATH_INLINE A lane_sum(std::int64_t n, const F& f) {
  A part[kLanes] = {};
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) part[l] += f(j + l);
  for (int l = 0; j + l < n; ++l) part[l] += f(j + l);
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) part[l] += part[l + w];
  return part[0];
}

/// max_j f(j) for j in [0, n) (-inf when n == 0), in kLanes partial maxima. NaN is not
/// propagated (rows of attention scores hold none).
template <class A, class F>
PSALM_FAST_MATH_INLINE A lane_max(std::int64_t n, const F& f) {
  A part[kLanes];
  for (int l = 0; l < kLanes; ++l) part[l] = -std::numeric_limits<A>::infinity();
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const A v = f(j + l);
      part[l] = v > part[l] ? v : part[l];
    }
  for (int l = 0; j + l < n; ++l) {
    const A v = f(j + l);
    part[l] = v > part[l] ? v : part[l];
  }
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) part[l] = part[l + w] > part[l] ? part[l + w] : part[l];
  return part[0];
}

}  // namespace psalm::kernels
