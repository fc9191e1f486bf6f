// psalm/kernels/bilinear.hpp — bilinear sampling with zero padding and its gradient, in the
// conventions of torch.nn.functional.grid_sample (align_corners true or false). Used by
// grid_sample / point_sample, bilinear interpolation and multi-scale deformable attention.
// Depends on: core, kernels/atomic. Test: tests/kernels/test_bilinear.cpp.
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/kernels/atomic.hpp"

namespace psalm::kernels {

/// Maps a normalised coordinate in [-1, 1] to a pixel coordinate on an axis of `size` pixels:
/// align_corners: -1 and 1 are the centres of the first and last pixels;
/// otherwise: -1 and 1 are the outer edges of the first and last pixels.
template <class C>
PSALM_HD_INLINE C unnormalize_coordinate(C g, std::int64_t size, bool align_corners) {
  return align_corners ? (g + C(1)) / C(2) * static_cast<C>(size - 1)
                       : ((g + C(1)) * static_cast<C>(size) - C(1)) / C(2);
}

/// Bilinear value of a (height, width) plane with strides at pixel coordinates (x, y), corners
/// outside the plane reading as zero.
template <class T, class C = compute_type_t<T>>
PSALM_HD C bilinear_sample(const T* plane, std::int64_t height, std::int64_t width,
                           std::int64_t stride_y, std::int64_t stride_x, C x, C y) {
  const C fx = std::floor(x), fy = std::floor(y);
  const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy);
  const C tx = x - fx, ty = y - fy;
  C out = 0;
  for (int dy = 0; dy < 2; ++dy) {
    const std::int64_t yy = y0 + dy;
    if (yy < 0 || yy >= height) continue;
    const C wy = dy ? ty : C(1) - ty;
    for (int dx = 0; dx < 2; ++dx) {
      const std::int64_t xx = x0 + dx;
      if (xx < 0 || xx >= width) continue;
      const C wx = dx ? tx : C(1) - tx;
      out += wy * wx * convert<C>(plane[yy * stride_y + xx * stride_x]);
    }
  }
  return out;
}

/// Gradient of bilinear_sample: adds d_out * weight into d_plane (atomically, so concurrent
/// samples may hit the same pixel) and returns d_out * d(value)/d(x, y) in d_x, d_y.
/// requires: d_plane contiguous-compatible with the given strides; C is the accumulation type.
template <class T, class C = compute_type_t<T>>
PSALM_HD void bilinear_sample_backward(const T* plane, T* d_plane, std::int64_t height,
                                       std::int64_t width, std::int64_t stride_y,
                                       std::int64_t stride_x, C x, C y, C d_out, C* d_x, C* d_y) {
  const C fx = std::floor(x), fy = std::floor(y);
  const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy);
  const C tx = x - fx, ty = y - fy;
  C gx = 0, gy = 0;
  for (int dy = 0; dy < 2; ++dy) {
    const std::int64_t yy = y0 + dy;
    if (yy < 0 || yy >= height) continue;
    const C wy = dy ? ty : C(1) - ty;
    const C dwy = dy ? C(1) : C(-1);
    for (int dx = 0; dx < 2; ++dx) {
      const std::int64_t xx = x0 + dx;
      if (xx < 0 || xx >= width) continue;
      const C wx = dx ? tx : C(1) - tx;
      const C dwx = dx ? C(1) : C(-1);
      const std::int64_t off = yy * stride_y + xx * stride_x;
      const C v = plane ? convert<C>(plane[off]) : C(0);
      if (d_plane) atomic_add(d_plane + off, convert<T>(d_out * wy * wx));
      gx += dwx * wy * v;
      gy += dwy * wx * v;
    }
  }
  if (d_x) *d_x = d_out * gx;
  if (d_y) *d_y = d_out * gy;
}

/// grid_sample(input, grid, mode='bilinear', padding_mode='zeros'): one body call per output
/// element (n, c, h, w) of out (N, C, Ho, Wo); input (N, C, H, W), grid (N, Ho, Wo, 2) holding
/// (x, y) in [-1, 1]; all contiguous.
template <class T>
struct GridSampleBilinear {
  const T* input;
  const T* grid;
  T* out;
  std::int64_t channels, height, width, out_height, out_width;
  bool align_corners;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const std::int64_t w = i % out_width, h = (i / out_width) % out_height;
    const std::int64_t c = (i / (out_width * out_height)) % channels;
    const std::int64_t n = i / (out_width * out_height * channels);
    const T* g = grid + ((n * out_height + h) * out_width + w) * 2;
    const C x = unnormalize_coordinate(convert<C>(g[0]), width, align_corners);
    const C y = unnormalize_coordinate(convert<C>(g[1]), height, align_corners);
    const T* plane = input + (n * channels + c) * height * width;
    out[i] = convert<T>(bilinear_sample<T>(plane, height, width, width, 1, x, y));
  }
};

}  // namespace psalm::kernels
