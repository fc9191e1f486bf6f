// Tests for psalm/autograd/ops/unary.hpp: exp, log, sqrt, rsqrt, pow, abs, clamp against
// finite differences in double (inputs away from kinks, some non-contiguous) and PyTorch
// (tests/fixtures/autograd/unary.json).
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

namespace {
// |x| in [0.3, 1.5] with random signs, as a transposed (non-contiguous) view.
Tensor<double> away_from_zero(std::uint64_t seed) {
  const auto u = Tensor<double>::rand({4, 3}, seed);
  const auto s = Tensor<double>::rand({4, 3}, seed + 1);
  return Tensor<double>(where(s < 0.5, -1.0, 1.0) * (u * 1.2 + 0.3)).transpose(0, 1);
}
Tensor<double> positive(std::uint64_t seed) {
  return Tensor<double>(Tensor<double>::rand({3, 4}, seed) * 2.0 + 0.5);
}
}  // namespace

TEST_CASE("unary: backward matches finite differences", "[autograd][unary]") {
  const auto x = away_from_zero(1);
  REQUIRE_FALSE(x.is_contiguous());
  check_gradients([](const Vars<double>& v) { return exp(v[0]); }, {x});
  check_gradients([](const Vars<double>& v) { return log(v[0]); }, {positive(2)});
  check_gradients([](const Vars<double>& v) { return sqrt(v[0]); }, {positive(3)});
  check_gradients([](const Vars<double>& v) { return rsqrt(v[0]); }, {positive(4)});
  check_gradients([](const Vars<double>& v) { return pow(v[0], 3.0); }, {x});
  check_gradients([](const Vars<double>& v) { return pow(v[0], -1.5); }, {positive(5)});
  check_gradients([](const Vars<double>& v) { return abs(v[0]); }, {x});
  check_gradients([](const Vars<double>& v) { return clamp(v[0], -0.8, 0.9); }, {x});
}

TEST_CASE("unary: pow with exponent 0 has zero gradient, abs at 0 has zero gradient",
          "[autograd][unary]") {
  auto x = Var<double>::parameter(Tensor<double>::from_data({0.0, 2.0}, {2}));
  backward(sum(pow(x, 0.0) + abs(x)));
  const auto g = x.grad().to_vector();
  REQUIRE(g[0] == 0.0);
  REQUIRE(g[1] == 1.0);
}

TEST_CASE("unary: forward and backward match PyTorch", "[autograd][unary]") {
  check_against_torch("unary", "exp", [](const Vars<float>& v) { return exp(v[0]); });
  check_against_torch("unary", "log", [](const Vars<float>& v) { return log(v[0]); });
  check_against_torch("unary", "sqrt", [](const Vars<float>& v) { return sqrt(v[0]); });
  check_against_torch("unary", "rsqrt", [](const Vars<float>& v) { return rsqrt(v[0]); });
  check_against_torch("unary", "pow3", [](const Vars<float>& v) { return pow(v[0], 3.0); });
  check_against_torch("unary", "pow_half", [](const Vars<float>& v) { return pow(v[0], 0.5); });
  check_against_torch("unary", "abs", [](const Vars<float>& v) { return abs(v[0]); });
  check_against_torch("unary", "clamp",
                      [](const Vars<float>& v) { return clamp(v[0], -0.5, 0.5); });
}
