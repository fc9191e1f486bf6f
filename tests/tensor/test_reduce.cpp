// Tests for psalm/tensor/reduce.hpp against PyTorch (tests/fixtures/tensor/reduce.json).
#include <catch2/catch.hpp>

#include "psalm/tensor.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
namespace tol = psalm::testing::tol;

TEST_CASE("reductions along an axis and in total match PyTorch", "[tensor][reduce]") {
  const auto j = testing::load_json("tensor/reduce.json");
  const auto x = testing::tensor_from_json<double>(j["x"]);
  auto want = [&](const char* k) { return testing::tensor_from_json<double>(j[k]); };
  testing::require_close(sum(x, 0), want("sum_0"), tol::f64_rtol, tol::f64_atol);
  testing::require_close(sum(x, 1), want("sum_1"), tol::f64_rtol, tol::f64_atol);
  testing::require_close(sum(x, -1, true), want("sum_2_keepdim"), tol::f64_rtol, tol::f64_atol);
  testing::require_close(mean(x, 1), want("mean_1"), tol::f64_rtol, tol::f64_atol);
  testing::require_close(max(x, 2), want("max_2"), 0, 0);
  testing::require_close(min(x, 0), want("min_0"), 0, 0);
  testing::require_close(argmax(x, 1), want("argmax_1"), 0, 0);
  testing::require_close(argmin(x, 2), want("argmin_2"), 0, 0);
  testing::require_close(sum(x), want("sum_all"), tol::f64_rtol, tol::f64_atol);
  testing::require_close(mean(x), want("mean_all"), tol::f64_rtol, tol::f64_atol);
  testing::require_close(sum(x.transpose(0, 2), 1), want("sum_1_of_transpose_0_2"), tol::f64_rtol,
                         tol::f64_atol);
  const Tensor<float> xf = cast<float>(x);
  testing::require_close(sum(xf, 1), want("sum_1"), tol::f32_sum_rtol, tol::f32_sum_atol);
}

TEST_CASE("total sums of large tensors are accurate and integers widen to int64",
          "[tensor][reduce]") {
  const std::int64_t n = 3'000'001;  // not a multiple of the chunk count
  const auto ones = Tensor<float>::ones({n});
  REQUIRE(sum(ones).item() == float(n));
  REQUIRE(mean(ones).item() == 1.0f);
  const auto ints = Tensor<std::int32_t>::full({100000}, 50000);
  const Tensor<std::int64_t> s = sum(ints);
  REQUIRE(s.item() == std::int64_t{5'000'000'000});
  REQUIRE(max(Tensor<float>::arange(10)).item() == 9.0f);
}

TEST_CASE("reductions reject empty axes where undefined", "[tensor][reduce]") {
  const auto e = Tensor<float>::zeros({2, 0});
  REQUIRE(sum(e, 1).to_vector() == std::vector<float>{0, 0});
  REQUIRE_THROWS_WITH(max(e, 1), Catch::Contains("empty axis"));
  REQUIRE_THROWS_WITH(sum(e, 2), Catch::Contains("out of range"));
}
