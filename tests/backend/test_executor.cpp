// Tests for psalm/backend/cpu/executor.hpp.
#include <catch2/catch.hpp>

#include <atomic>
#include <vector>

#include "psalm/tensor.hpp"

using namespace psalm;

namespace {
struct Square {
  std::int64_t* out;
  PSALM_HD void operator()(std::int64_t i) const { out[i] = i * i; }
};
}  // namespace

TEST_CASE("launch visits every index exactly once, serial and parallel", "[backend][executor]") {
  for (std::int64_t n : {0, 1, 7, 100000}) {
    for (std::int64_t grain : {1, 1 << 15}) {
      std::vector<std::int64_t> out(static_cast<std::size_t>(n), -1);
      Executor<cpu>::launch(n, Square{out.data()}, grain);
      for (std::int64_t i = 0; i < n; ++i) REQUIRE(out[i] == i * i);
    }
  }
}

TEST_CASE("parallel_for splits into contiguous chunks covering [0, n)", "[backend][executor]") {
  std::atomic<std::int64_t> covered{0}, calls{0};
  Executor<cpu>::parallel_for(1000, 10, [&](std::int64_t b, std::int64_t e) {
    REQUIRE(b < e);
    covered += e - b;
    ++calls;
  });
  REQUIRE(covered == 1000);
  REQUIRE(calls <= Executor<cpu>::max_threads());
  calls = 0;
  Executor<cpu>::parallel_for(5, 1 << 15,
                              [&](std::int64_t b, std::int64_t e) { calls += (b == 0 && e == 5); });
  REQUIRE(calls == 1);  // below the grain: one serial chunk
}
