// Tests for psalm/kernels/fast_math.hpp: the vectorisable float exp and normal CDF against the
// double-precision std:: functions over their whole range (ulp-level accuracy, tails, special
// values), and the lane-split sums / maxima against plain loops.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "psalm/kernels/fast_math.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

TEST_CASE("exp_f32 is within 2 ulp of exp over the float range", "[kernels][fast_math]") {
  double worst = 0;
  for (int i = 0; i <= 400000; ++i) {
    const float x = -103.0f + 191.7f * static_cast<float>(i) / 400000.0f;
    const double want = std::exp(static_cast<double>(x));
    const double got = kernels::exp_f32(x);
    if (want < 1.2e-38) {  // subnormal results: absolute accuracy of a subnormal step
      REQUIRE(std::fabs(got - want) <=
              tol::exp_f32_subnormal_atol + tol::exp_f32_subnormal_rtol * want);
      continue;
    }
    worst = std::max(worst, std::fabs(got - want) / want);
  }
  INFO("worst relative error " << worst);
  REQUIRE(worst < tol::exp_f32_rtol);  // 2 ulp
}

TEST_CASE("exp_f32 handles infinities, NaN, underflow and overflow", "[kernels][fast_math]") {
  constexpr float inf = std::numeric_limits<float>::infinity();
  REQUIRE(kernels::exp_f32(-inf) == 0.0f);
  REQUIRE(kernels::exp_f32(inf) == inf);
  REQUIRE(std::isnan(kernels::exp_f32(std::numeric_limits<float>::quiet_NaN())));
  REQUIRE(kernels::exp_f32(-200.0f) == 0.0f);
  REQUIRE(kernels::exp_f32(89.0f) == inf);
  REQUIRE(kernels::exp_f32(0.0f) == 1.0f);
  REQUIRE(std::isfinite(kernels::exp_f32(88.72f)));
}

TEST_CASE("normal_cdf_f32 has relative accuracy in both tails", "[kernels][fast_math]") {
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    const float x = -12.0f + 24.0f * static_cast<float>(i) / 200000.0f;
    const double want = 0.5 * std::erfc(-static_cast<double>(x) / std::sqrt(2.0));
    worst = std::max(worst, std::fabs(kernels::normal_cdf_f32(x) - want) / want);
  }
  INFO("worst relative error " << worst);
  // The exponent -z^2 + P(t) is rounded to float, so the relative error grows like
  // z^2 * 6e-8 in the lower tail (3e-5 at x = -12, where Phi ~ 1e-33); for |x| <= 2 it is a
  // few ulp. (1 + erf(x / sqrt 2) in float, PyTorch's formula, has no relative accuracy there.)
  REQUIRE(worst < tol::normal_cdf_f32_tail_rtol);
  for (float x : {-2.0f, -0.5f, 0.0f, 0.5f, 2.0f, 4.0f}) {
    const double want = 0.5 * std::erfc(-static_cast<double>(x) / std::sqrt(2.0));
    INFO("x = " << x);
    REQUIRE(std::fabs(kernels::normal_cdf_f32(x) - want) <= tol::normal_cdf_f32_rtol * want);
  }
  {
    const double want = 0.5 * std::erfc(4.0 / std::sqrt(2.0));  // x = -4
    REQUIRE(std::fabs(kernels::normal_cdf_f32(-4.0f) - want) <=
            tol::normal_cdf_f32_rtol_at_minus_4 * want);
  }
  REQUIRE(kernels::normal_cdf_f32(-std::numeric_limits<float>::infinity()) == 0.0f);
  REQUIRE(kernels::normal_cdf_f32(std::numeric_limits<float>::infinity()) == 1.0f);
  REQUIRE(std::isnan(kernels::normal_cdf_f32(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("sigmoid_f32 matches the logistic function without overflow", "[kernels][fast_math]") {
  for (float x : {-100.0f, -80.0f, -20.0f, -1.0f, 0.0f, 1.5f, 20.0f, 100.0f}) {
    const double want = 1.0 / (1.0 + std::exp(-static_cast<double>(x)));
    INFO("x = " << x);
    // Below x = -88.7, e^-x overflows and the result is 0 instead of a subnormal.
    REQUIRE(std::fabs(kernels::sigmoid_f32(x) - want) <=
            tol::sigmoid_f32_rtol * want + tol::sigmoid_f32_atol);
  }
  REQUIRE(kernels::sigmoid_f32(-100.0f) == 0.0f);
}

TEST_CASE("lane_sum and lane_max agree with plain loops for every tail length",
          "[kernels][fast_math]") {
  std::vector<double> v(100);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.7 * static_cast<double>(i)) * 3.0;
  for (std::int64_t n : {0, 1, 7, 15, 16, 17, 33, 100}) {
    double sum = 0, mx = -std::numeric_limits<double>::infinity();
    for (std::int64_t j = 0; j < n; ++j) {
      sum += v[j];
      mx = std::max(mx, v[j]);
    }
    const auto at = [&](std::int64_t j) { return v[j]; };
    REQUIRE(kernels::lane_sum<double>(n, at) == Approx(sum).margin(tol::f64_atol));
    REQUIRE(kernels::lane_max<double>(n, at) == mx);
  }
}
