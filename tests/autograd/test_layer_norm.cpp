// Tests for psalm/autograd/ops/layer_norm.hpp: layer norm over the last axis with and without
// weight and bias, against finite differences in double (non-contiguous input) and PyTorch
// (tests/fixtures/autograd/layer_norm.json).
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("layer_norm: backward matches finite differences for x, weight and bias",
          "[autograd][layer_norm]") {
  const auto x = Tensor<double>::randn({6, 3, 2}, 71, 1.0, 2.0).permute({2, 1, 0});  // (2, 3, 6)
  const auto w = Tensor<double>::randn({6}, 72, 1.0);
  const auto b = Tensor<double>::randn({6}, 73);
  check_gradients([](const Vars<double>& v) { return layer_norm(v[0], v[1], v[2]); }, {x, w, b});
  check_gradients([](const Vars<double>& v) { return layer_norm(v[0]); }, {x});
  check_gradients([](const Vars<double>& v) { return layer_norm(v[0], v[1], {}, 1e-3); }, {x, w});
}

TEST_CASE("layer_norm: forward and backward match PyTorch", "[autograd][layer_norm]") {
  check_against_torch("layer_norm", "affine",
                      [](const Vars<float>& v) { return layer_norm(v[0], v[1], v[2]); });
  check_against_torch("layer_norm", "plain", [](const Vars<float>& v) { return layer_norm(v[0]); });
}
