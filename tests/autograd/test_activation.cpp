// Tests for psalm/autograd/ops/activation.hpp: relu, gelu, gelu_tanh, sigmoid, tanh, softplus
// against finite differences in double (non-contiguous inputs, away from relu's kink) and
// PyTorch (tests/fixtures/autograd/activation.json).
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("activation: backward matches finite differences", "[autograd][activation]") {
  const auto x = Tensor<double>::randn({5, 4}, 21, 0.0, 2.0).permute({1, 0});  // (4, 5) view
  REQUIRE_FALSE(x.is_contiguous());
  const auto u = Tensor<double>::rand({4, 5}, 22);
  const auto away = Tensor<double>(where(u < 0.5, u - 0.8, u + 0.3));  // |x| >= 0.3
  check_gradients([](const Vars<double>& v) { return relu(v[0]); }, {away});
  check_gradients([](const Vars<double>& v) { return gelu(v[0]); }, {x});
  check_gradients([](const Vars<double>& v) { return gelu_tanh(v[0]); }, {x});
  check_gradients([](const Vars<double>& v) { return sigmoid(v[0]); }, {x});
  check_gradients([](const Vars<double>& v) { return tanh(v[0]); }, {x});
  check_gradients([](const Vars<double>& v) { return softplus(v[0]); },
                  {Tensor<double>::from_data({-25.0, -3.0, 0.5, 4.0, 19.5, 21.0, 30.0}, {7})});
}

TEST_CASE("activation: forward and backward match PyTorch", "[autograd][activation]") {
  check_against_torch("activation", "relu", [](const Vars<float>& v) { return relu(v[0]); });
  check_against_torch("activation", "gelu", [](const Vars<float>& v) { return gelu(v[0]); });
  check_against_torch("activation", "gelu_tanh",
                      [](const Vars<float>& v) { return gelu_tanh(v[0]); });
  check_against_torch("activation", "sigmoid", [](const Vars<float>& v) { return sigmoid(v[0]); });
  check_against_torch("activation", "tanh", [](const Vars<float>& v) { return tanh(v[0]); });
  check_against_torch("activation", "softplus",
                      [](const Vars<float>& v) { return softplus(v[0]); });
}
