// Tests for psalm/backend/cpu/emulate.hpp and psalm/kernels/launch.hpp: the grid-stride loop
// the CUDA executor runs covers every index once for any grid and block size.
#include <catch2/catch.hpp>

#include <vector>

#include "psalm/backend/cpu/emulate.hpp"
#include "psalm/kernels/launch.hpp"

using namespace psalm;

namespace {
struct Count {
  int* hits;
  PSALM_HD void operator()(std::int64_t i) const { ++hits[i]; }
};
}  // namespace

TEST_CASE("grid-stride loop under host emulation covers [0, n) exactly once",
          "[backend][emulate]") {
  for (std::int64_t n : {0, 1, 31, 1000}) {
    for (auto [grid, block] : {std::pair{1, 1}, std::pair{3, 7}, std::pair{65, 256}}) {
      std::vector<int> hits(static_cast<std::size_t>(n), 0);
      cpu_backend::emulate_launch(grid, block, kernels::GridStride<Count>{n, Count{hits.data()}});
      for (int h : hits) REQUIRE(h == 1);
    }
  }
  REQUIRE_THROWS_AS(cpu_backend::emulate_launch(0, 4, [](const kernels::ThreadIndex&) {}), Error);
}

TEST_CASE("ThreadIndex: global index and total thread count", "[backend][emulate]") {
  const kernels::ThreadIndex t{2, 5, 32, 10};
  REQUIRE(t.global() == 69);
  REQUIRE(t.total() == 320);
}
