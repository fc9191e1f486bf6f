// Tests for psalm/autograd/ops/arithmetic.hpp: +, -, *, / with broadcasting and scalars,
// against finite differences in double (including non-contiguous inputs) and PyTorch
// (tests/fixtures/autograd/arithmetic.json).
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("arithmetic: broadcast add/sub/mul/div backward matches finite differences",
          "[autograd][arithmetic]") {
  const auto a = Tensor<double>::randn({2, 3, 4}, 1);
  const auto b = Tensor<double>::randn({3, 1}, 2);
  const auto c = Tensor<double>::rand({4}, 3) + 0.5;  // divisor away from 0
  check_gradients([](const Vars<double>& v) { return v[0] + v[1]; }, {a, b});
  check_gradients([](const Vars<double>& v) { return v[1] - v[0]; }, {a, b});
  check_gradients([](const Vars<double>& v) { return v[0] * v[1]; }, {a, b});
  check_gradients([](const Vars<double>& v) { return v[0] / v[1]; }, {a, Tensor<double>(c)});
  check_gradients([](const Vars<double>& v) { return v[1] / v[0]; },
                  {Tensor<double>(c), Tensor<double>(b * 0.3)});
}

TEST_CASE("arithmetic: non-contiguous inputs (permuted, sliced) get correct gradients",
          "[autograd][arithmetic]") {
  const auto base = Tensor<double>::randn({4, 3, 6}, 4);
  const auto permuted = base.permute({2, 1, 0});  // (6, 3, 4), non-contiguous
  const auto sliced = Tensor<double>::randn({6, 8}, 5).slice(1, 1, 8, 2);  // (6, 4), stride 2
  REQUIRE_FALSE(permuted.is_contiguous());
  REQUIRE_FALSE(sliced.is_contiguous());
  check_gradients([](const Vars<double>& v) { return v[0] * (2.0 * v[1]); },
                  {permuted, Tensor<double>(sliced.unsqueeze(1))});
  check_gradients([](const Vars<double>& v) { return (v[0] - v[1]) * v[0]; },
                  {sliced, Tensor<double>::randn({4}, 6)});
}

TEST_CASE("arithmetic: scalar operands on either side", "[autograd][arithmetic]") {
  const auto a = Tensor<double>::randn({3, 4}, 7);
  check_gradients(
      [](const Vars<double>& v) {
        return (2 - v[0]) * 3 + v[0] / 4 - 1 + 2 / (v[0] * v[0] + 1) - (-v[0]);
      },
      {a});
}

TEST_CASE("arithmetic: gradient of an input used twice is the sum of both paths",
          "[autograd][arithmetic]") {
  auto x = Var<double>::parameter(Tensor<double>::from_data({1.5, -2.0}, {2}));
  backward(sum(x * x + x * 3.0));  // d/dx = 2x + 3
  const auto g = x.grad().to_vector();
  REQUIRE(g[0] == Approx(6.0));
  REQUIRE(g[1] == Approx(-1.0));
}

TEST_CASE("arithmetic: forward and backward match PyTorch", "[autograd][arithmetic]") {
  check_against_torch("arithmetic", "add_broadcast",
                      [](const Vars<float>& v) { return v[0] + v[1]; });
  check_against_torch("arithmetic", "sub_broadcast",
                      [](const Vars<float>& v) { return v[0] - v[1]; });
  check_against_torch("arithmetic", "mul_broadcast",
                      [](const Vars<float>& v) { return v[0] * v[1]; });
  check_against_torch("arithmetic", "div", [](const Vars<float>& v) { return v[0] / v[1]; });
  check_against_torch("arithmetic", "scalars", [](const Vars<float>& v) {
    return (2 - v[0]) * 3 + v[0] / 4 - 1 + 2 / (v[0] * v[0] + 1) - (-v[0]);
  });
}

TEST_CASE("arithmetic: incompatible shapes are a psalm::Error", "[autograd][arithmetic]") {
  auto a = Var<float>::parameter(Tensor<float>::zeros({2, 3}));
  auto b = Var<float>::parameter(Tensor<float>::zeros({4}));
  REQUIRE_THROWS_AS(a + b, psalm::Error);
  Tape::current().clear();
}
