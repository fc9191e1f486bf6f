// Tests for psalm/autograd/ops/linear.hpp: y = x W^T + b with W stored [out, in], against
// finite differences in double (batched and non-contiguous x) and PyTorch
// (tests/fixtures/autograd/linear.json).
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("linear: backward matches finite differences for x, weight and bias",
          "[autograd][linear]") {
  const auto x = Tensor<double>::randn({4, 3, 2}, 61).permute({2, 1, 0});  // (2, 3, 4) view
  const auto w = Tensor<double>::randn({5, 4}, 62);
  const auto b = Tensor<double>::randn({5}, 63);
  check_gradients([](const Vars<double>& v) { return linear(v[0], v[1], v[2]); }, {x, w, b});
  check_gradients([](const Vars<double>& v) { return linear(v[0], v[1]); },
                  {Tensor<double>::randn({4}, 64), w});
}

TEST_CASE("linear: forward and backward match PyTorch", "[autograd][linear]") {
  check_against_torch("linear", "bias",
                      [](const Vars<float>& v) { return linear(v[0], v[1], v[2]); });
  check_against_torch("linear", "no_bias", [](const Vars<float>& v) { return linear(v[0], v[1]); });
}

TEST_CASE("linear: mismatched shapes are a psalm::Error", "[autograd][linear]") {
  const Var<float> x(Tensor<float>::zeros({2, 3}));
  const Var<float> w(Tensor<float>::zeros({5, 4}));
  REQUIRE_THROWS_AS(linear(x, w), psalm::Error);
  REQUIRE_THROWS_AS(
      linear(Var<float>(Tensor<float>::zeros({2, 4})), w, Var<float>(Tensor<float>::zeros({4}))),
      psalm::Error);
}

TEST_CASE("linear_bf16_weight: x and W rounded to bf16, products summed in float",
          "[autograd][linear][bf16]") {
  const auto x = Tensor<float>::randn({2, 3, 96}, 71);  // (2, 3, in)
  const auto w = Tensor<float>::randn({5, 96}, 72);     // (out, in)
  const auto b = Tensor<float>::randn({5}, 73);         // (out)
  const Tensor<bf16> w16 = cast<bf16>(w);               // (out, in)
  // The contract, computed in double (OpenBLAS dgemm) from the bf16-rounded operands.
  const Tensor<double> x_rounded = cast<double>(cast<bf16>(x.reshape({6, 96})));  // (6, in)
  const Tensor<double> w_rounded = cast<double>(w16);                             // (out, in)
  Tensor<double> want = matmul(x_rounded, w_rounded, {.transpose_b = true});      // (6, out)
  want.assign(want + cast<double>(b));
  const Var<float> y = linear_bf16_weight(Var<float>(x), w16, Var<float>(b));  // (2, 3, out)
  REQUIRE(y.shape() == Shape{2, 3, 5});
  testing::require_close(y.value().reshape({6, 5}), want, testing::tol::f32_sum_rtol,
                         testing::tol::f32_sum_atol);
  // ... and within bf16 precision of the float layer.
  testing::require_close(y.value(), linear(Var<float>(x), Var<float>(w), Var<float>(b)).value(),
                         testing::tol::bf16_rtol, testing::tol::bf16_atol * 4);
  const Var<float> no_bias = linear_bf16_weight(Var<float>(x), w16);  // (2, 3, out)
  testing::require_close(no_bias.value().reshape({6, 5}),
                         matmul(x_rounded, w_rounded, {.transpose_b = true}),
                         testing::tol::f32_sum_rtol, testing::tol::f32_sum_atol);
}

TEST_CASE("linear_bf16_weight: inference only, shapes checked", "[autograd][linear][bf16]") {
  const Tensor<bf16> w16 = cast<bf16>(Tensor<float>::randn({5, 4}, 74));  // (out, in)
  const Var<float> x = Var<float>::parameter(Tensor<float>::randn({2, 4}, 75));
  REQUIRE_THROWS_WITH(linear_bf16_weight(x, w16),
                      Catch::Contains("runs inference only") && Catch::Contains("NoGrad"));
  {
    const NoGrad guard;
    REQUIRE(linear_bf16_weight(x, w16).shape() == Shape{2, 5});
  }
  REQUIRE_THROWS_AS(linear_bf16_weight(Var<float>(Tensor<float>::zeros({2, 3})), w16),
                    psalm::Error);
  REQUIRE_THROWS_AS(linear_bf16_weight(Var<float>(Tensor<float>::zeros({2, 4})), w16,
                                       Var<float>(Tensor<float>::zeros({4}))),
                    psalm::Error);
}
