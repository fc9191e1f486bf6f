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
