// Tests for psalm/tensor/memory.hpp: allocations are aligned and counted, and freed when the
// last tensor sharing them goes away.
#include <catch2/catch.hpp>

#include "psalm/tensor.hpp"

using namespace psalm;

TEST_CASE("Memory<cpu>: live bytes rise with tensors and fall when the last view dies", "[tensor][memory]") {
  const std::int64_t before = Memory<cpu>::stats().live_bytes;
  {
    auto a = Tensor<float>::zeros({256, 256});
    REQUIRE(reinterpret_cast<std::uintptr_t>(a.data()) % Memory<cpu>::kAlignment == 0);
    REQUIRE(Memory<cpu>::stats().live_bytes == before + 256 * 256 * 4);
    auto view = a.transpose(0, 1).slice(0, 1, 3);
    a = Tensor<float>();  // the view still holds the storage
    REQUIRE(Memory<cpu>::stats().live_bytes == before + 256 * 256 * 4);
  }
  REQUIRE(Memory<cpu>::stats().live_bytes == before);
  Memory<cpu>::reset_peak();
  { auto big = Tensor<double>::zeros({1000}); }
  REQUIRE(Memory<cpu>::stats().peak_bytes >= before + 8000);
}
