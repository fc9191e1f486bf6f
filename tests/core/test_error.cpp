// Tests for psalm/core/error.hpp.
#include <catch2/catch.hpp>

#include "psalm/core/error.hpp"

TEST_CASE("PSALM_CHECK: passes silently when the condition holds", "[core][error]") {
  REQUIRE_NOTHROW([] { PSALM_CHECK(1 + 1 == 2, "never shown"); }());
}

TEST_CASE("PSALM_CHECK: throws psalm::Error with the streamed message and location",
          "[core][error]") {
  try {
    const int got = 3;
    PSALM_CHECK(got == 4, "expected 4 items, got ", got);
    FAIL("no exception");
  } catch (const psalm::Error& e) {
    const std::string what = e.what();
    REQUIRE(what.find("expected 4 items, got 3") == 0);
    REQUIRE(what.find("test_error.cpp:") != std::string::npos);
  }
}

TEST_CASE("psalm::fail and PSALM_DEVICE_ASSERT throw psalm::Error on the host", "[core][error]") {
  REQUIRE_THROWS_AS(psalm::fail("bad ", 1), psalm::Error);
  REQUIRE_THROWS_WITH([] { PSALM_DEVICE_ASSERT(2 < 1); }(), Catch::Contains("2 < 1"));
}
