// Tests for psalm/kernels/atomic.hpp: concurrent adds from the OpenMP executor lose nothing.
#include <catch2/catch.hpp>

#include "psalm/kernels/atomic.hpp"
#include "psalm/tensor.hpp"

using namespace psalm;

namespace {
template <class T>
struct AddOne {
  T* target;
  PSALM_HD void operator()(std::int64_t i) const { kernels::atomic_add(target + (i % 3), T(1)); }
};
}  // namespace

TEST_CASE("atomic_add: parallel scatter-adds into three slots lose no update",
          "[kernels][atomic]") {
  float f[3] = {0, 0, 0};
  std::int64_t n[3] = {0, 0, 0};
  double d[3] = {0, 0, 0};
  const std::int64_t count = 300000;
  Executor<cpu>::launch(count, AddOne<float>{f}, 1);
  Executor<cpu>::launch(count, AddOne<std::int64_t>{n}, 1);
  Executor<cpu>::launch(count, AddOne<double>{d}, 1);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f[i] == 100000.0f);  // integers below 2^24 are exact in float
    REQUIRE(n[i] == 100000);
    REQUIRE(d[i] == 100000.0);
  }
}
