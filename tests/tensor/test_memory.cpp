// Tests for psalm/tensor/memory.hpp: allocations are aligned and counted, and freed when the
// last tensor sharing them goes away.
#include <catch2/catch.hpp>

#include "psalm/tensor.hpp"

using namespace psalm;

TEST_CASE("Memory<cpu>: live bytes rise with tensors and fall when the last view dies",
          "[tensor][memory]") {
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

TEST_CASE("Memory<cpu>: large freed blocks are cached, reused and released on request",
          "[tensor][memory]") {
  const std::size_t old_limit = Memory<cpu>::cache_limit();
  Memory<cpu>::set_cache_limit(std::size_t{64} << 20);
  Memory<cpu>::release_cache();
  const std::int64_t before = Memory<cpu>::stats().live_bytes;
  const float* first = nullptr;
  {
    auto a = Tensor<float>::zeros({1 << 20});  // 4 MiB
    first = a.data();
    REQUIRE(Memory<cpu>::stats().cached_bytes == 0);
  }
  // Freed: no longer live, but kept.
  REQUIRE(Memory<cpu>::stats().live_bytes == before);
  REQUIRE(Memory<cpu>::stats().cached_bytes >= (4 << 20));
  {
    auto b = Tensor<float>::empty({(1 << 20) - 100});  // the same size bucket: the same block
    REQUIRE(b.data() == first);
    REQUIRE(Memory<cpu>::stats().cached_bytes == 0);
    REQUIRE(reinterpret_cast<std::uintptr_t>(b.data()) % Memory<cpu>::kAlignment == 0);
  }
  Memory<cpu>::release_cache();
  REQUIRE(Memory<cpu>::stats().cached_bytes == 0);
  // Above the limit nothing is kept.
  Memory<cpu>::set_cache_limit(std::size_t{1} << 20);
  { auto c = Tensor<float>::zeros({1 << 20}); }
  REQUIRE(Memory<cpu>::stats().cached_bytes == 0);
  Memory<cpu>::set_cache_limit(old_limit);
}
