// Tests for psalm/core/bf16.hpp against PyTorch's float -> bfloat16 rounding
// (fixture: tools/reference/tensor_fixtures.py -> tests/fixtures/tensor/bf16.json).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "psalm/core/bf16.hpp"
#include "support/fixtures.hpp"

TEST_CASE("bf16: float -> bf16 rounds to nearest even exactly as PyTorch", "[core][bf16]") {
  const auto j = psalm::testing::load_json("tensor/bf16.json");
  const auto x = psalm::testing::doubles_from_json(j["x"]["data"]);
  const auto want = psalm::testing::doubles_from_json(j["rounded"]["data"]);
  REQUIRE(x.size() == want.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("input " << x[i]);
    REQUIRE(static_cast<float>(psalm::bf16(static_cast<float>(x[i]))) ==
            static_cast<float>(want[i]));
  }
}

TEST_CASE("bf16: exact values convert both ways, ties go to even, NaN stays NaN", "[core][bf16]") {
  REQUIRE(static_cast<float>(psalm::bf16(1.5f)) == 1.5f);
  REQUIRE(psalm::bf16(1.0f).bits == 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even mantissa (1.0).
  REQUIRE(static_cast<float>(psalm::bf16(1.00390625f)) == 1.0f);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
  REQUIRE(static_cast<float>(psalm::bf16(1.01171875f)) == 1.015625f);
  REQUIRE(std::isnan(static_cast<float>(psalm::bf16(std::numeric_limits<float>::quiet_NaN()))));
  REQUIRE(std::isinf(static_cast<float>(psalm::bf16(std::numeric_limits<float>::infinity()))));
}
