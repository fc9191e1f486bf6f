// Tests for psalm/autograd/ops/softmax.hpp: softmax and log_softmax over the last axis, with
// and without an additive mask (trailing and broadcast shapes), against finite differences in
// double and PyTorch (tests/fixtures/autograd/softmax.json).
#include <limits>

#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("softmax: backward matches finite differences, with and without a mask",
          "[autograd][softmax]") {
  const auto x = Tensor<double>::randn({5, 3, 2}, 31).permute({2, 1, 0});  // (2, 3, 5) view
  auto mask = Tensor<double>::zeros({3, 5});
  mask.select(0, 1).select(0, 2).fill(-std::numeric_limits<double>::infinity());
  mask.select(0, 0).select(0, 4).fill(-1.0);
  const auto mask_b = Tensor<double>::randn({2, 1, 5}, 32);
  for (bool log : {false, true}) {
    INFO("log " << log);
    auto sm = [log](const Var<double>& v, const Tensor<double>& m) {
      return log ? log_softmax(v, m) : softmax(v, m);
    };
    check_gradients([&](const Vars<double>& v) { return sm(v[0], {}); }, {x});
    // log_softmax is -inf where the mask is: the finite-difference loss needs finite values.
    const Tensor<double> m = log ? Tensor<double>(maximum(mask, -3.0)) : mask;
    check_gradients([&](const Vars<double>& v) { return sm(v[0], m); }, {x});
    check_gradients([&](const Vars<double>& v) { return sm(v[0], mask_b); }, {x});
  }
}

TEST_CASE("softmax: forward and backward match PyTorch", "[autograd][softmax]") {
  check_against_torch("softmax", "softmax", [](const Vars<float>& v) { return softmax(v[0]); });
  check_against_torch("softmax", "log_softmax",
                      [](const Vars<float>& v) { return log_softmax(v[0]); });
  const auto m1 = testing::fixture_tensor<float>("softmax", "softmax_mask_trailing", "mask");
  check_against_torch("softmax", "softmax_mask_trailing",
                      [&](const Vars<float>& v) { return softmax(v[0], m1); });
  const auto m2 = testing::fixture_tensor<float>("softmax", "log_softmax_mask_broadcast", "mask");
  check_against_torch("softmax", "log_softmax_mask_broadcast",
                      [&](const Vars<float>& v) { return log_softmax(v[0], m2); });
}

TEST_CASE("softmax: a mask that does not broadcast is a psalm::Error", "[autograd][softmax]") {
  auto x = Var<float>::parameter(Tensor<float>::zeros({2, 3}));
  REQUIRE_THROWS_AS(softmax(x, Tensor<float>::zeros({4})), psalm::Error);
}
