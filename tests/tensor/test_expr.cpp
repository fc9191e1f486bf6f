// Tests for psalm/tensor/expr.hpp and psalm/tensor/assign.hpp: every node, broadcasting,
// strided operands and destinations, aliasing, against PyTorch
// (tests/fixtures/tensor/expression.json).
#include <catch2/catch.hpp>

#include "psalm/tensor.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
namespace tol = psalm::testing::tol;

TEST_CASE("a fused broadcasting expression matches PyTorch", "[tensor][expr]") {
  const auto j = testing::load_json("tensor/expression.json");
  const auto a = testing::tensor_from_json<double>(j["a"]);
  const auto b = testing::tensor_from_json<double>(j["b"]);
  const auto c = testing::tensor_from_json<double>(j["c"]);
  const Tensor<double> y = a * b + exp(c) - 2.0;
  testing::require_close(y, testing::tensor_from_json<double>(j["a_mul_b_plus_exp_c_minus_2"]),
                         tol::f64_rtol, tol::f64_atol);
  const Tensor<double> m = maximum(a, c) / b;
  testing::require_close(m, testing::tensor_from_json<double>(j["max_a_c_div_b"]), tol::f64_rtol,
                         tol::f64_atol);
  const Tensor<double> w = where(a > 0.0, a, c);
  testing::require_close(w, testing::tensor_from_json<double>(j["where_a_gt_0_a_c"]), 0, 0);
  const Tensor<double> p = a.permute({2, 0, 1}) + c.reshape({4, 1, 1});
  testing::require_close(p, testing::tensor_from_json<double>(j["permuted_sum"]), 0, 0);
  // The same in float, from float inputs.
  const Tensor<float> af = cast<float>(a), bf = cast<float>(b), cf = cast<float>(c);
  const Tensor<float> yf = af * bf + exp(cf) - 2.0f;
  testing::require_close(yf, testing::tensor_from_json<double>(j["a_mul_b_plus_exp_c_minus_2"]),
                         1e-5, 1e-5);
}

TEST_CASE("expression nodes are trivially copyable and satisfy the Expression concept",
          "[tensor][expr]") {
  const auto a = Tensor<float>::ones({2});
  using E = decltype(a * a + exp(a) - 2.0f);
  STATIC_REQUIRE(Expression<E>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<E>);
  STATIC_REQUIRE(std::is_same_v<E::value_type, float>);  // the double-free scalar does not promote
  STATIC_REQUIRE(std::is_same_v<decltype(cast<double>(a))::value_type, double>);
  STATIC_REQUIRE(std::is_same_v<decltype(a + 1)::value_type, float>);
}

TEST_CASE(
    "unary nodes: neg, abs, sqrt, rsqrt, log, tanh, relu, sigmoid, softplus, gelu, clamp, pow",
    "[tensor][expr]") {
  const auto x = Tensor<double>::from_data({0.25, 1.0, 4.0}, {3});
  auto vals = [](const Tensor<double>& t) { return t.to_vector(); };
  REQUIRE(vals(-x) == std::vector<double>{-0.25, -1.0, -4.0});
  REQUIRE(vals(abs(-x)) == vals(x));
  REQUIRE(vals(sqrt(x)) == std::vector<double>{0.5, 1.0, 2.0});
  REQUIRE(vals(rsqrt(x)) == std::vector<double>{2.0, 1.0, 0.5});
  REQUIRE(vals(log(x))[1] == 0.0);
  REQUIRE(vals(relu(x - 1.0)) == std::vector<double>{0.0, 0.0, 3.0});
  REQUIRE(vals(clamp(x, 0.5, 2.0)) == std::vector<double>{0.5, 1.0, 2.0});
  REQUIRE(vals(pow(x, 2.0)) == std::vector<double>{0.0625, 1.0, 16.0});
  REQUIRE(vals(minimum(x, 2.0)) == std::vector<double>{0.25, 1.0, 2.0});
  REQUIRE(vals(tanh(x))[0] == Approx(std::tanh(0.25)));
  REQUIRE(vals(sigmoid(x))[0] == Approx(1.0 / (1.0 + std::exp(-0.25))));
  REQUIRE(vals(softplus(x))[2] == Approx(std::log1p(std::exp(4.0))));
  REQUIRE(vals(gelu(x))[1] == Approx(0.8413447460685429));
  REQUIRE(vals(gelu_tanh(x))[1] == Approx(0.8411919906082768));
  const Tensor<std::uint8_t> eq = cast<std::uint8_t>(x == 1.0);
  REQUIRE(eq.to_vector() == std::vector<std::uint8_t>{0, 1, 0});
}

TEST_CASE("bf16 tensors compute in float and round once on store", "[tensor][expr]") {
  const auto x = Tensor<float>::from_data({1.0f, 2.0f, 3.0f}, {3});
  // x * (1 + 2^-8) in float, rounded once to bf16: 1.00390625 is a tie (to even: 1.0),
  // 3.01171875 is above the midpoint of 3 and 3.015625 (rounds up).
  const Tensor<bf16> h = cast<bf16>(x) * 1.00390625f;
  REQUIRE(h.to_vector()[0].bits == bf16(1.0f).bits);
  const Tensor<float> back = cast<float>(h) + 0.5f;
  REQUIRE(back.to_vector() == std::vector<float>{1.5f, 2.5f, 3.515625f});
}

TEST_CASE("assignment into strided destinations and from overlapping sources", "[tensor][expr]") {
  auto x = Tensor<float>::arange(9).reshape({3, 3});
  // Reading the transpose of x while writing x: evaluated through a temporary.
  x.assign(x.transpose(0, 1) * 1.0f);
  REQUIRE(x.to_vector() == std::vector<float>{0, 3, 6, 1, 4, 7, 2, 5, 8});
  // In place with the same layout is a plain elementwise update.
  x.assign(x + 1.0f);
  REQUIRE(x.item({0, 0}) == 1.0f);
  // Writing a column through a view.
  x.select(1, 0).assign(Tensor<float>::from_data({-1, -2, -3}, {3}));
  REQUIRE(x.to_vector() == std::vector<float>{-1, 4, 7, -2, 5, 8, -3, 6, 9});
  // Rank-0 results.
  auto s = Tensor<float>::zeros({});
  s.assign(Tensor<float>::full({}, 2.0f) * 3.0f);
  REQUIRE(s.item() == 6.0f);
}

TEST_CASE("shape mismatch names both shapes", "[tensor][expr]") {
  const auto a = Tensor<float>::zeros({2, 3}), b = Tensor<float>::zeros({4});
  REQUIRE_THROWS_WITH(Tensor<float>(a + b), Catch::Contains("(2, 3)") && Catch::Contains("(4,)"));
}

TEST_CASE("large expressions run in parallel chunks and agree with a serial loop",
          "[tensor][expr]") {
  const std::int64_t n = 1 << 20;
  const auto a = Tensor<float>::randn({n}, 1), b = Tensor<float>::randn({n}, 2),
             c = Tensor<float>::randn({n}, 3);
  const Tensor<float> y = a * b + c;
  const auto av = a.to_vector(), bv = b.to_vector(), cv = c.to_vector(), yv = y.to_vector();
  for (std::int64_t i = 0; i < n; i += 4099) REQUIRE(yv[i] == av[i] * bv[i] + cv[i]);
  // Broadcast rows: (1024, 1024) + (1024,) through the row loop.
  const Tensor<float> r = a.reshape({1024, 1024}).transpose(0, 1) + c.narrow(0, 0, 1024);
  REQUIRE(r.item({5, 7}) == a.item({7 * 1024 + 5}) + c.item({7}));
}
