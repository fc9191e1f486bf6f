// Tests for psalm/tensor/print.hpp.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "psalm/tensor.hpp"

using namespace psalm;

TEST_CASE("printing shows shape, dtype, device and the first values", "[tensor][print]") {
  const auto x = Tensor<float>::arange(6).reshape({2, 3});
  REQUIRE(to_string(x) == "Tensor(2, 3) float32 cpu [0, 1, 2, 3, 4, 5]");
  REQUIRE(fmt::format("{}", Tensor<std::int64_t>::arange(20)) ==
          "Tensor(20,) int64 cpu [0, 1, 2, 3, 4, 5, 6, 7, ... (12 more)]");
  REQUIRE(to_string(Tensor<float>()) == "Tensor(undefined)");
  std::ostringstream os;
  os << Tensor<bf16>::full({1}, bf16(0.5f));
  REQUIRE(os.str() == "Tensor(1,) bfloat16 cpu [0.5]");
}
