// Tests of psalm/core/macros.hpp under the host compiler: PSALM_HD / PSALM_HD_INLINE functions
// are plain host functions, device-only code is reported absent, PSALM_STRINGIFY expands its
// argument first. (Under nvcc the same headers are compiled by the CUDA header check.)
#include <catch2/catch.hpp>

#include <string_view>

#include "psalm/core/macros.hpp"

namespace {

#define PSALM_TEST_VALUE 42

PSALM_HD_INLINE int twice(int x) { return 2 * x; }
PSALM_HD constexpr int thrice(int x) { return 3 * x; }

}  // namespace

static_assert(PSALM_IN_DEVICE_CODE == 0);
static_assert(thrice(3) == 9);

TEST_CASE("macros: host-and-device functions run on the host; stringify expands first",
          "[core][macros]") {
  CHECK(twice(21) == 42);
  CHECK(std::string_view(PSALM_STRINGIFY(PSALM_TEST_VALUE)) == "42");
  CHECK(std::string_view(PSALM_STRINGIFY(a + b)) == "a + b");
}
