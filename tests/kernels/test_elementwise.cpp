// Tests for psalm/kernels/elementwise.hpp against PyTorch (tests/fixtures/tensor/elementwise.json)
// and, for the derivative functors, against finite differences of the forward functors.
#include <catch2/catch.hpp>

#include <cmath>

#include "psalm/kernels/elementwise.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

namespace {
template <class F>
void check_against(const char* key, F f, double rtol = tol::f64_short,
                   double atol = tol::f64_short) {
  const auto j = testing::load_json("tensor/elementwise.json");
  const auto x = testing::doubles_from_json(j["x"]["data"]);
  const auto want = testing::doubles_from_json(j[key]["data"]);
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO(key << " at x = " << x[i]);
    REQUIRE(std::fabs(f(x[i]) - want[i]) <= atol + rtol * std::fabs(want[i]));
    // float evaluation stays within float precision of the double reference
    REQUIRE(std::fabs(double(f(float(x[i]))) - want[i]) <=
            tol::f32_atol + tol::f32_rtol * std::fabs(want[i]));
  }
}
}  // namespace

TEST_CASE("element functors match PyTorch in double and float", "[kernels][elementwise]") {
  check_against("gelu_erf", [](auto v) { return kernels::GeluErf{}(v); });
  check_against("gelu_tanh", [](auto v) { return kernels::GeluTanh{}(v); });
  check_against("sigmoid", [](auto v) { return kernels::Sigmoid{}(v); });
  check_against("softplus", [](auto v) { return kernels::Softplus{}(v); });
  check_against("tanh", [](auto v) { return kernels::Tanh{}(v); });
  check_against("relu", [](auto v) { return kernels::Relu{}(v); });
  check_against(
      "exp", [](auto v) { return kernels::Exp{}(v); }, 1e-14, 0);
}

TEST_CASE("derivative functors match PyTorch autograd and finite differences",
          "[kernels][elementwise]") {
  check_against(
      "d_gelu_erf", [](auto v) { return kernels::GeluErfGrad{}(v); }, tol::f64_rtol,
      tol::f64_short);
  check_against(
      "d_gelu_tanh", [](auto v) { return kernels::GeluTanhGrad{}(v); }, tol::f64_rtol,
      tol::f64_short);
  check_against(
      "d_sigmoid", [](auto v) { return kernels::SigmoidGrad{}(v); }, tol::f64_rtol, tol::f64_short);
  for (double x : {-3.1, -0.7, 0.2, 1.3, 2.9}) {
    auto fd = [](auto f, double v) {
      return (f(v + tol::fd_step) - f(v - tol::fd_step)) / (2 * tol::fd_step);
    };
    REQUIRE(std::fabs(kernels::GeluTanhGrad{}(x)-fd(kernels::GeluTanh{}, x)) < tol::fd_scalar_atol);
    REQUIRE(std::fabs(kernels::GeluErfGrad{}(x)-fd(kernels::GeluErf{}, x)) < tol::fd_scalar_atol);
  }
}

TEST_CASE("binary functors: arithmetic, NaN-propagating maximum / minimum, clamp",
          "[kernels][elementwise]") {
  REQUIRE(kernels::Add{}(2.0, 3.0) == 5.0);
  REQUIRE(kernels::Div{}(1.0f, 4.0f) == 0.25f);
  REQUIRE(std::isnan(kernels::Maximum{}(std::nan(""), 1.0)));
  REQUIRE(std::isnan(kernels::Minimum{}(1.0, std::nan(""))));
  REQUIRE(kernels::Maximum{}(-1.0, 2.0) == 2.0);
  REQUIRE(kernels::Clamp<double>{-1.0, 1.0}(3.0) == 1.0);
  REQUIRE(kernels::Sigmoid{}(-1000.0f) == 0.0f);  // no overflow for large |x|
  REQUIRE(kernels::Softplus{}(100.0) == 100.0);
}

TEST_CASE("relu propagates NaN as torch.relu does", "[kernels][elementwise]") {
  // A NaN swallowed by relu once hid a broken weight behind a finite loss: the NaN only
  // surfaced in the gradients.
  CHECK(std::isnan(kernels::Relu{}(std::nanf(""))));
  CHECK(std::isnan(kernels::Relu{}(std::nan(""))));
  CHECK(kernels::Relu{}(-2.0f) == 0.0f);
  CHECK(kernels::Relu{}(3.0) == 3.0);
}
