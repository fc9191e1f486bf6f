// psalm/kernels/grid_sample.hpp — the backward of bilinear grid sampling with zero padding
// (the forward body is kernels/bilinear.hpp's GridSampleBilinear): one body call per grid
// point, which adds its channels' contributions into the input gradient (atomically: grid
// points share pixels) and writes the grid gradient (overwrites; the sum over channels).
// Depends on: core, kernels/bilinear. Test: tests/kernels/test_grid_sample.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/kernels/bilinear.hpp"

namespace psalm::kernels {

/// For grid point (n, h, w): d_input[n, c] += d_out[n, c, h, w] * (bilinear weights) for every
/// c, and d_grid[n, h, w] = sum over c of d_out[n, c, h, w] * d(sample)/d(grid).
/// requires: input, d_input (N, C, H, W); grid, d_grid (N, Ho, Wo, 2); d_out (N, C, Ho, Wo);
/// all contiguous. d_input or d_grid may be nullptr when not needed (input only for d_grid).
template <class T>
struct GridSampleBilinearBackward {
  const T* input;
  const T* grid;
  const T* d_out;
  T* d_input;
  T* d_grid;
  std::int64_t channels, height, width, out_height, out_width;
  bool align_corners;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const std::int64_t n = i / (out_height * out_width), hw = i % (out_height * out_width);
    const T* g = grid + i * 2;
    const C x = unnormalize_coordinate(convert<C>(g[0]), width, align_corners);
    const C y = unnormalize_coordinate(convert<C>(g[1]), height, align_corners);
    C gx = 0, gy = 0;
    for (std::int64_t c = 0; c < channels; ++c) {
      const std::int64_t plane_off = (n * channels + c) * height * width;
      const C d = convert<C>(d_out[(n * channels + c) * out_height * out_width + hw]);
      C dx = 0, dy = 0;
      bilinear_sample_backward<T>(d_grid ? input + plane_off : nullptr,
                                  d_input ? d_input + plane_off : nullptr, height, width, width, 1,
                                  x, y, d, &dx, &dy);
      gx += dx;
      gy += dy;
    }
    if (d_grid) {  // chain rule through unnormalize_coordinate
      const C sx = align_corners ? C(width - 1) / C(2) : C(width) / C(2);
      const C sy = align_corners ? C(height - 1) / C(2) : C(height) / C(2);
      d_grid[i * 2] = convert<T>(gx * sx);
      d_grid[i * 2 + 1] = convert<T>(gy * sy);
    }
  }
};

}  // namespace psalm::kernels
