// Tests for psalm/tensor/matmul.hpp against PyTorch (tests/fixtures/tensor/matmul.json): NN, NT,
// TN, batched, transposed views, broadcast weights, bf16, and shape errors.
#include <catch2/catch.hpp>

#include "psalm/tensor.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
namespace tol = psalm::testing::tol;

TEST_CASE("matmul layouts match PyTorch in double and float", "[tensor][matmul]") {
  const auto j = testing::load_json("tensor/matmul.json");
  const auto a = testing::tensor_from_json<double>(j["a"]);
  const auto b = testing::tensor_from_json<double>(j["b"]);
  const auto w = testing::tensor_from_json<double>(j["w"]);
  auto want = [&](const char* k) { return testing::tensor_from_json<double>(j[k]); };
  testing::require_close(matmul(a, b), want("ab"), 1e-12, 1e-12);
  testing::require_close(matmul(a, w, {.transpose_b = true}), want("a_wt"), 1e-12,
                         1e-12);  // linear layer
  testing::require_close(matmul(a, w.transpose(0, 1)), want("a_wt"), 1e-12,
                         1e-12);  // a transposed view
  testing::require_close(matmul(a, a, {.transpose_a = true}), want("at_a"), 1e-12, 1e-12);
  const Tensor<float> af = cast<float>(a), bf = cast<float>(b), wf = cast<float>(w);
  testing::require_close(matmul(af, bf), want("ab"), tol::f32_sum_rtol, tol::f32_sum_atol);
  testing::require_close(matmul(af, wf, {.transpose_b = true}), want("a_wt"), tol::f32_sum_rtol,
                         tol::f32_sum_atol);
  testing::require_close(matmul(af.transpose(1, 2), af.transpose(1, 2), {.transpose_b = true}),
                         want("at_a"), tol::f32_sum_rtol, tol::f32_sum_atol);
  const Tensor<bf16> ah = cast<bf16>(a), bh = cast<bf16>(b);
  testing::require_close(matmul(ah, bh), want("ab"), tol::bf16_rtol, tol::bf16_atol * 4);
}

TEST_CASE("matmul_into accumulates with alpha and beta", "[tensor][matmul]") {
  const auto a = Tensor<float>::from_data({1, 2, 3, 4}, {2, 2});
  auto c = Tensor<float>::ones({2, 2});
  matmul_into(c, a, a, {.alpha = 2.0, .beta = 1.0});
  REQUIRE(c.to_vector() == std::vector<float>{15, 21, 31, 45});  // 2 * [[7,10],[15,22]] + 1
}

TEST_CASE("matmul errors name the shapes", "[tensor][matmul]") {
  const auto a = Tensor<float>::zeros({2, 3}), b = Tensor<float>::zeros({4, 5});
  REQUIRE_THROWS_WITH(matmul(a, b),
                      Catch::Contains("inner dimensions differ") && Catch::Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(matmul(Tensor<float>::zeros({2, 2, 3}), Tensor<float>::zeros({3, 3, 4})),
                      Catch::Contains("batch axes"));
  REQUIRE_THROWS_WITH(matmul(Tensor<float>::zeros({3}), b), Catch::Contains("at least 2 axes"));
}

TEST_CASE("matmul with k = 0 gives zeros and empty outputs are fine", "[tensor][matmul]") {
  REQUIRE(matmul(Tensor<float>::zeros({2, 0}), Tensor<float>::zeros({0, 3})).to_vector() ==
          std::vector<float>(6, 0.0f));
  REQUIRE(matmul(Tensor<float>::zeros({0, 4}), Tensor<float>::zeros({4, 3})).numel() == 0);
}
