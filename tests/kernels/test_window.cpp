// Tests for psalm/kernels/window.hpp: the source row of every window token worked out by hand
// for a small shifted, padded map, and window_row as its inverse; every map position is read
// exactly once and every padded window token reads nothing; WindowReverseRows undoes
// WindowPartitionRows for any shift.
#include <catch2/catch.hpp>

#include <array>
#include <vector>

#include "psalm/kernels/window.hpp"
#include "psalm/tensor.hpp"

using namespace psalm;
using namespace psalm::kernels;

TEST_CASE("window rows: sources of a 3x3 map in 2x2 windows shifted by 1, by hand",
          "[kernels][window]") {
  // Padded to 4x4 and rolled by -1: window (0,0) holds map (1,1) (1,2) (2,1) (2,2); window
  // (0,1) holds padding, (1,0), padding, (2,0); window (1,0) padding twice, (0,1), (0,2);
  // window (1,1) padding three times and (0,0).
  const std::vector<std::int64_t> want{4, 5, 7, 8, -1, 3, -1, 6, -1, -1, 1, 2, -1, -1, -1, 0};
  std::vector<std::int64_t> got;
  const WindowLayout at{1, 3, 3, 2, 1, 4, 4};
  for (std::int64_t r = 0; r < 16; ++r) got.push_back(at.source(r));
  CHECK(got == want);
  for (std::int64_t r = 0; r < 16; ++r)
    if (want[r] >= 0) CHECK(at.window_row(want[r]) == r);
  // A second image starts 9 map rows further on.
  CHECK(at.source(16 + 3) == 9 + 8);
}

TEST_CASE("window rows: every position read once, padding zero, reverse inverts partition",
          "[kernels][window]") {
  for (const auto& [h, w, win, shift] : std::vector<std::array<std::int64_t, 4>>{
           {7, 8, 3, 0}, {7, 8, 3, 2}, {4, 5, 6, 3}, {6, 6, 3, 1}}) {
    INFO("map " << h << "x" << w << ", window " << win << ", shift " << shift);
    const std::int64_t hp = (h + win - 1) / win * win, wp = (w + win - 1) / win * win;
    const std::int64_t b = 2, c = 3, rows = b * hp * wp;
    const WindowLayout at{c, h, w, win, shift, hp, wp};
    std::vector<int> reads(b * h * w, 0);
    std::int64_t padded = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t src = at.source(r);
      if (src < 0)
        ++padded;
      else
        ++reads[src];
    }
    CHECK(padded == b * (hp * wp - h * w));
    CHECK(std::vector<int>(b * h * w, 1) == reads);

    const Tensor<float> map = Tensor<float>::randn({b, h, w, c}, 3);
    Tensor<float> windows(Shape{rows, c}), back(map.shape());
    Executor<cpu>::launch(rows, WindowPartitionRows<float>{map.data(), windows.data(), at});
    Executor<cpu>::launch(b * h * w, WindowReverseRows<float>{windows.data(), back.data(), at});
    CHECK(back.to_vector() == map.to_vector());
    for (std::int64_t r = 0; r < rows; ++r)
      if (at.source(r) < 0)
        for (std::int64_t j = 0; j < c; ++j) CHECK(windows.item({r, j}) == 0.0f);
  }
}
