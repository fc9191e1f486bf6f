// Tests for psalm/core/dtype.hpp.
#include <catch2/catch.hpp>

#include "psalm/core/dtype.hpp"

using namespace psalm;

TEST_CASE("dtype: tags, sizes and names of every element type", "[core][dtype]") {
  STATIC_REQUIRE(dtype_of<float>() == DType::f32);
  STATIC_REQUIRE(dtype_of<bf16>() == DType::bf16);
  STATIC_REQUIRE(dtype_of<std::int64_t>() == DType::i64);
  STATIC_REQUIRE(size_of(DType::bf16) == 2);
  STATIC_REQUIRE(size_of(DType::u8) == 1);
  STATIC_REQUIRE(std::is_same_v<compute_type_t<bf16>, float>);
  STATIC_REQUIRE(std::is_same_v<compute_type_t<double>, double>);
  REQUIRE(name_of(DType::f64) == "float64");
  STATIC_REQUIRE(!Scalar<long double>);
}

TEST_CASE("convert: routes bf16 through float, truncates to integers like static_cast",
          "[core][dtype]") {
  REQUIRE(convert<float>(bf16(2.5f)) == 2.5f);
  REQUIRE(convert<std::int32_t>(bf16(-3.75f)) == -3);
  REQUIRE(convert<bf16>(7).bits == bf16(7.0f).bits);
  REQUIRE(convert<std::uint8_t>(200.9) == 200);
}
