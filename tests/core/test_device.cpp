// Tests of psalm/core/device.hpp: the device tags, their names, and the Device concept that
// keeps anything else out of a tensor's device parameter.
#include <catch2/catch.hpp>

#include <string_view>

#include "psalm/core/device.hpp"

using namespace psalm;

static_assert(Device<cpu> && Device<cuda>);
static_assert(!Device<int> && !Device<const cpu> && !Device<cpu&>);

TEST_CASE("device tags: names as the CLI and error messages print them", "[core][device]") {
  CHECK(cpu::name == std::string_view("cpu"));
  CHECK(cuda::name == std::string_view("cuda"));
}
