// Tests for psalm/kernels/rotary.hpp: every element against the rotation written out per pair
// (d, d + F) in double, the features past rotary_dim passed through, and the sign -1 body as
// the exact inverse of the forward (a rotation by the opposite angle).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "psalm/kernels/rotary.hpp"
#include "psalm/tensor.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

TEST_CASE("rotary body: pairs (d, d + F) rotated by their position's angle, the rest copied",
          "[kernels][rotary]") {
  const std::int64_t b = 2, l = 3, heads = 2, hd = 7, r = 4, f = r / 2;
  const Tensor<double> x = Tensor<double>::randn({b, l, heads, hd}, 1);
  std::vector<double> cos(l * f), sin(l * f);
  for (std::int64_t p = 0; p < l; ++p)
    for (std::int64_t i = 0; i < f; ++i) {
      const double angle = 0.3 * static_cast<double>(p + 1) * static_cast<double>(i + 1);
      cos[p * f + i] = std::cos(angle);
      sin[p * f + i] = std::sin(angle);
    }
  Tensor<double> y(x.shape()), back(x.shape());
  const std::int64_t n = x.numel();
  Executor<cpu>::launch(n, kernels::RotaryBody<double>{x.data(), y.data(), cos.data(), sin.data(),
                                                       l, heads, hd, r, 1.0});
  for (std::int64_t bi = 0; bi < b; ++bi)
    for (std::int64_t p = 0; p < l; ++p)
      for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t d = 0; d < hd; ++d) {
          const double got = y.item({bi, p, h, d}), xd = x.item({bi, p, h, d});
          if (d >= r) {
            CHECK(got == xd);
            continue;
          }
          const std::int64_t i = d % f;
          const double c = cos[p * f + i], s = sin[p * f + i];
          const double want = d < f ? xd * c - x.item({bi, p, h, d + f}) * s
                                    : xd * c + x.item({bi, p, h, d - f}) * s;
          CHECK(got == Approx(want).epsilon(tol::f64_ulps).margin(tol::f64_ulps));
        }
  Executor<cpu>::launch(n, kernels::RotaryBody<double>{y.data(), back.data(), cos.data(),
                                                       sin.data(), l, heads, hd, r, -1.0});
  testing::require_close(back, x, testing::tol::f64_rtol, testing::tol::f64_atol);
}
