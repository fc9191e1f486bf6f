// Tests for psalm/autograd/ops/pad.hpp: constant padding of one and two trailing axes against
// finite differences in double (sliced input) and PyTorch (tests/fixtures/autograd_ops2/pad.json).
#include "op_check.hpp"
#include "psalm/autograd/ops/pad.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops2/pad";
}  // namespace

TEST_CASE("pad: backward matches finite differences", "[autograd][pad]") {
  const auto x = Tensor<double>::randn({3, 4, 5}, 81).slice(2, 1, 5, 2);  // (3, 4, 2)
  check_gradients([](const Vars<double>& v) { return pad(v[0], {1, 2, 0, 3}, -1.0); }, {x});
  check_gradients([](const Vars<double>& v) { return pad(v[0], {0, 0, 0, 0, 2, 1}); }, {x});
}

TEST_CASE("pad: forward and backward match PyTorch", "[autograd][pad]") {
  testing::check_against_torch(kFile, "last_two_axes", [](const Vars<float>& v) {
    return pad(v[0], {1, 2, 0, 1}, 0.5);
  });
  testing::check_against_torch(kFile, "last_axis", [](const Vars<float>& v) {
    return pad(v[0], {3, 0});
  });
}

TEST_CASE("pad: rejects odd, negative and too many amounts", "[autograd][pad]") {
  const Var<float> x(Tensor<float>::zeros({2, 3}));
  REQUIRE_THROWS_AS(pad(x, {1}), Error);
  REQUIRE_THROWS_AS(pad(x, {1, -1}), Error);
  REQUIRE_THROWS_AS(pad(x, {1, 1, 1, 1, 1, 1}), Error);
  REQUIRE(pad(x, {}).shape() == Shape{2, 3});
}
