// Tests for psalm/kernels/reduce.hpp: the body on hand-checked (outer, len, inner) layouts.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "psalm/kernels/reduce.hpp"

using namespace psalm::kernels;

TEST_CASE("ReduceAxis folds the middle axis of (outer, len, inner)", "[kernels][reduce]") {
  // x[o][k][i] = o * 100 + k * 10 + i, shape (2, 3, 2)
  float x[12];
  for (int o = 0; o < 2; ++o)
    for (int k = 0; k < 3; ++k)
      for (int i = 0; i < 2; ++i) x[(o * 3 + k) * 2 + i] = float(o * 100 + k * 10 + i);
  float s[4], m[4];
  std::int64_t am[4];
  for (int idx = 0; idx < 4; ++idx) {
    ReduceAxis<float, float, ReduceOp::sum>{x, s, 3, 2}(idx);
    ReduceAxis<float, float, ReduceOp::max>{x, m, 3, 2}(idx);
    ReduceAxis<float, std::int64_t, ReduceOp::argmin>{x, am, 3, 2}(idx);
  }
  REQUIRE((s[0] == 30 && s[1] == 33 && s[2] == 330 && s[3] == 333));
  REQUIRE((m[0] == 20 && m[3] == 121));
  REQUIRE((am[0] == 0 && am[3] == 0));
}

TEST_CASE("ReduceAxis: NaN propagates through max, sums of floats accumulate in double",
          "[kernels][reduce]") {
  const float x[3] = {1.0f, std::numeric_limits<float>::quiet_NaN(), 5.0f};
  float m;
  std::int64_t am;
  ReduceAxis<float, float, ReduceOp::max>{x, &m, 3, 1}(0);
  ReduceAxis<float, std::int64_t, ReduceOp::argmax>{x, &am, 3, 1}(0);
  REQUIRE(std::isnan(m));
  REQUIRE(am == 1);
  // 1e8 + 1 + 1 + ... in float loses every 1; a double accumulator keeps them.
  std::vector<float> big(1001, 1.0f);
  big[0] = 1e8f;
  float total;
  ReduceAxis<float, float, ReduceOp::sum>{big.data(), &total, 1001, 1}(0);
  REQUIRE(total == 100001000.0f);
}
