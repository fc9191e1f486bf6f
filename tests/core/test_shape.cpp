// Tests for psalm/core/shape.hpp.
#include <catch2/catch.hpp>

#include <limits>

#include "psalm/core/shape.hpp"

using psalm::Shape;

TEST_CASE("Shape: extents, element count, contiguous strides", "[core][shape]") {
  const Shape s{2, 3, 4};
  REQUIRE(s.rank() == 3);
  REQUIRE(s.numel() == 24);
  REQUIRE(s.size(-1) == 4);
  const auto st = s.contiguous_strides();
  REQUIRE((st[0] == 12 && st[1] == 4 && st[2] == 1));
  REQUIRE(Shape{}.numel() == 1);
  REQUIRE(Shape{3, 0}.numel() == 0);
  REQUIRE(s.to_string() == "(2, 3, 4)");
  REQUIRE(Shape{5}.to_string() == "(5,)");
}

TEST_CASE("Shape: rejects negative extents, rank above 6 and int64 overflow", "[core][shape]") {
  REQUIRE_THROWS_WITH((Shape{2, -1}), Catch::Contains("negative extent -1"));
  REQUIRE_THROWS_WITH((Shape{1, 1, 1, 1, 1, 1, 1}), Catch::Contains("exceeds the maximum rank"));
  const std::int64_t big = std::numeric_limits<std::int64_t>::max() / 2;
  REQUIRE_THROWS_WITH((Shape{big, 3}), Catch::Contains("overflows"));
  REQUIRE_THROWS_WITH(Shape{2}.size(1), Catch::Contains("out of range"));
}

TEST_CASE("broadcast_shapes: NumPy rules and a clear error naming both shapes", "[core][shape]") {
  REQUIRE(psalm::broadcast_shapes(Shape{2, 1, 4}, Shape{3, 1}) == (Shape{2, 3, 4}));
  REQUIRE(psalm::broadcast_shapes(Shape{}, Shape{5}) == (Shape{5}));
  REQUIRE(psalm::broadcast_shapes(Shape{0, 1}, Shape{3}) == (Shape{0, 3}));
  REQUIRE_THROWS_WITH(psalm::broadcast_shapes(Shape{2, 3}, Shape{4}),
                      Catch::Contains("(2, 3)") && Catch::Contains("(4,)"));
}

TEST_CASE("checked arithmetic throws on overflow", "[core][shape]") {
  using namespace psalm::checked;
  REQUIRE(mul(1 << 20, 1 << 20) == (std::int64_t{1} << 40));
  REQUIRE_THROWS_AS(mul(std::numeric_limits<std::int64_t>::max(), 2), psalm::Error);
  REQUIRE_THROWS_AS(add(std::numeric_limits<std::int64_t>::max(), 1), psalm::Error);
}
