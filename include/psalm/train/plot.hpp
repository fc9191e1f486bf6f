// psalm/train/plot.hpp — a loss curve as a PNG, drawn without a plotting library: series of
// (x, y) points scaled into a white canvas with a frame, horizontal grid lines and one colour
// per series (raw values light, a moving average dark). Enough to look at a training run.
// Host code (a CPU canvas, tensor/host.hpp). Depends on: tensor, io/image.
// Test: tests/train/test_trainer.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "psalm/io/image.hpp"
#include "psalm/tensor/host.hpp"

namespace psalm::train {

// Letters: H W the canvas.

struct PlotSeries {
  std::vector<double> x, y;
  std::array<std::uint8_t, 3> colour{40, 90, 200};
};

/// The series drawn on a width x height RGB canvas (y on a log scale when `log_y` and every
/// value is positive). Non-finite points are skipped.
inline Tensor<std::uint8_t> plot_series(const std::vector<PlotSeries>& series, std::int64_t width,
                                        std::int64_t height, bool log_y = true) {
  PSALM_CHECK(width >= 32 && height >= 32 && width <= 4096 && height <= 4096,
              "plot_series: canvas ", width, " x ", height, " is outside 32 .. 4096");
  Tensor<std::uint8_t> img = host_full(Shape{height, width, 3}, std::uint8_t{255});  // (H, W, 3)
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  bool positive = true;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
      positive = positive && s.y[i] > 0;
    }
  const bool log = log_y && positive && std::isfinite(y0);
  auto fy = [&](double y) { return log ? std::log10(y) : y; };
  const std::int64_t m = 8;  // margin
  auto put = [&](std::int64_t x, std::int64_t y, const std::array<std::uint8_t, 3>& c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    std::uint8_t* p = img.data() + (y * width + x) * 3;
    p[0] = c[0], p[1] = c[1], p[2] = c[2];
  };
  const std::array<std::uint8_t, 3> frame{0, 0, 0}, grid{225, 225, 225};
  for (int g = 1; g < 4; ++g)
    for (std::int64_t x = m; x < width - m; ++x) put(x, m + (height - 2 * m) * g / 4, grid);
  for (std::int64_t x = m; x < width - m; ++x) put(x, m, frame), put(x, height - m - 1, frame);
  for (std::int64_t y = m; y < height - m; ++y) put(m, y, frame), put(width - m - 1, y, frame);
  if (!std::isfinite(x0)) return img;
  const double ylo = fy(y0), yhi = fy(y1);
  auto px = [&](double x) {
    return m + static_cast<std::int64_t>(std::lround((x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) *
                                                     static_cast<double>(width - 2 * m - 1)));
  };
  auto py = [&](double y) {
    const double t = yhi > ylo ? (fy(y) - ylo) / (yhi - ylo) : 0.5;
    return height - m - 1 -
           static_cast<std::int64_t>(std::lround(t * static_cast<double>(height - 2 * m - 1)));
  };
  for (const auto& s : series) {
    std::int64_t last_x = -1, last_y = -1;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (log && s.y[i] <= 0)) continue;
      const std::int64_t x = px(s.x[i]), y = py(s.y[i]);
      if (last_x >= 0) {  // a straight segment from the previous point
        const std::int64_t n = std::max(std::abs(x - last_x), std::abs(y - last_y)) + 1;
        for (std::int64_t k = 0; k <= n; ++k)
          put(last_x + (x - last_x) * k / n, last_y + (y - last_y) * k / n, s.colour);
      }
      put(x, y, s.colour);
      last_x = x, last_y = y;
    }
  }
  return img;
}

/// The moving average of `y` over `window` points (a prefix average at the start).
inline std::vector<double> moving_average(const std::vector<double>& y, std::size_t window) {
  std::vector<double> out(y.size());
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    sum += y[i], ++n;
    if (n > window) sum -= y[i - window], --n;
    out[i] = sum / static_cast<double>(n);
  }
  return out;
}

}  // namespace psalm::train
