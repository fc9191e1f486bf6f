// psalm/kernels/interpolate.hpp — resizing NCHW planes as torch.nn.functional.interpolate with
// an output size: bilinear (align_corners true or false, no antialias; also fused with a
// top-left crop) and nearest (PyTorch's 'nearest' floor rule), forward bodies and gradient
// bodies that scatter-add atomically (several outputs read the same input pixel).
// Depends on: core, kernels/atomic. Test: tests/kernels/test_interpolate.cpp.
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/kernels/atomic.hpp"

namespace psalm::kernels {

/// Where output pixel `dst` of a bilinear resize reads on an axis of `in` -> `out` pixels.
/// ref: aten/src/ATen/native/UpSample.h (area_pixel_compute_source_index): align_corners maps
/// the corner centres onto each other; otherwise centres scale by in/out and the result is
/// clamped at 0.
template <class C>
PSALM_HD_INLINE C bilinear_source_index(std::int64_t dst, std::int64_t in, std::int64_t out,
                                        bool align_corners) {
  if (align_corners)
    return out > 1 ? static_cast<C>(dst) * static_cast<C>(in - 1) / static_cast<C>(out - 1) : C(0);
  const C src = (static_cast<C>(dst) + C(0.5)) * static_cast<C>(in) / static_cast<C>(out) - C(0.5);
  return src < C(0) ? C(0) : src;
}

/// The two taps and the weight of the second one for a bilinear resize on one axis.
struct BilinearTaps {
  std::int64_t i0, i1;
  double w1;
};

template <class C>
PSALM_HD_INLINE BilinearTaps bilinear_taps(std::int64_t dst, std::int64_t in, std::int64_t out,
                                           bool align_corners) {
  const C src = bilinear_source_index<C>(dst, in, out, align_corners);
  const auto i0 = static_cast<std::int64_t>(src);  // src >= 0: truncation is floor
  const std::int64_t i1 = i0 < in - 1 ? i0 + 1 : i0;
  return {i0, i1, static_cast<double>(src - static_cast<C>(i0))};
}

/// Where element i of a bilinear resize of (height, width) planes to (out_h, out_w) reads, for
/// elements laid out (planes, rows, cols) (the whole resize, or its top-left window): its plane,
/// the two taps on each axis and the four weights.
template <class C>
struct ResizeTaps {
  std::int64_t plane;
  BilinearTaps y, x;
  C wy0, wy1, wx0, wx1;
};

template <class C>
PSALM_HD_INLINE ResizeTaps<C> resize_taps(std::int64_t i, std::int64_t rows, std::int64_t cols,
                                          std::int64_t height, std::int64_t width,
                                          std::int64_t out_h, std::int64_t out_w,
                                          bool align_corners) {
  ResizeTaps<C> t;
  t.plane = i / (cols * rows);
  t.y = bilinear_taps<C>((i / cols) % rows, height, out_h, align_corners);
  t.x = bilinear_taps<C>(i % cols, width, out_w, align_corners);
  t.wy1 = static_cast<C>(t.y.w1);
  t.wx1 = static_cast<C>(t.x.w1);
  t.wy0 = C(1) - t.wy1;
  t.wx0 = C(1) - t.wx1;
  return t;
}

/// Where output pixel `dst` of a nearest resize reads: floor(dst * in / out) with the scale in
/// float, as PyTorch's CPU and CUDA kernels compute it, clamped to in - 1.
/// ref: aten/src/ATen/native/UpSample.h (nearest_idx).
PSALM_HD_INLINE std::int64_t nearest_source_index(std::int64_t dst, std::int64_t in,
                                                  std::int64_t out) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const auto src = static_cast<std::int64_t>(std::floor(static_cast<float>(dst) * scale));
  return src < in - 1 ? src : in - 1;
}

/// out[p, y, x] = bilinear resize of plane p to (out_h, out_w), for the top-left (win_h, win_w)
/// window of that resize only: a resize fused with a crop (PSALM's post-processing resizes to
/// the padded size and crops the valid region), so cropped pixels are never computed. One call
/// per output element. requires: in (planes, height, width) and out (planes, win_h, win_w)
/// contiguous, win_h <= out_h, win_w <= out_w.
template <class T>
struct ResizeBilinearWindow {
  const T* in;
  T* out;
  std::int64_t height, width, out_h, out_w, win_h, win_w;
  bool align_corners;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const ResizeTaps<C> t =
        resize_taps<C>(i, win_h, win_w, height, width, out_h, out_w, align_corners);
    const T* plane = in + t.plane * height * width;
    const T* row0 = plane + t.y.i0 * width;
    const T* row1 = plane + t.y.i1 * width;
    const C top = t.wx0 * convert<C>(row0[t.x.i0]) + t.wx1 * convert<C>(row0[t.x.i1]);
    const C bottom = t.wx0 * convert<C>(row1[t.x.i0]) + t.wx1 * convert<C>(row1[t.x.i1]);
    out[i] = convert<T>(t.wy0 * top + t.wy1 * bottom);
  }
};

/// out[p, y, x] = bilinear resize of plane p: the whole window of ResizeBilinearWindow.
/// requires: in (planes, height, width) and out (planes, out_h, out_w) contiguous.
template <class T>
struct ResizeBilinear {
  const T* in;
  T* out;
  std::int64_t height, width, out_h, out_w;
  bool align_corners;

  PSALM_HD void operator()(std::int64_t i) const {
    ResizeBilinearWindow<T>{in, out, height, width, out_h, out_w, out_h, out_w, align_corners}(i);
  }
};

/// d_in += the gradient of ResizeBilinear for output element i (atomic adds into d_in).
/// requires: d_out (planes, out_h, out_w) and d_in (planes, height, width) contiguous.
template <class T>
struct ResizeBilinearBackward {
  const T* d_out;
  T* d_in;
  std::int64_t height, width, out_h, out_w;
  bool align_corners;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const ResizeTaps<C> t =
        resize_taps<C>(i, out_h, out_w, height, width, out_h, out_w, align_corners);
    T* row0 = d_in + t.plane * height * width + t.y.i0 * width;
    T* row1 = d_in + t.plane * height * width + t.y.i1 * width;
    const C g = convert<C>(d_out[i]);
    atomic_add(row0 + t.x.i0, convert<T>(g * t.wy0 * t.wx0));
    atomic_add(row0 + t.x.i1, convert<T>(g * t.wy0 * t.wx1));
    atomic_add(row1 + t.x.i0, convert<T>(g * t.wy1 * t.wx0));
    atomic_add(row1 + t.x.i1, convert<T>(g * t.wy1 * t.wx1));
  }
};

/// out[p, y, x] = in[p, nearest(y), nearest(x)]; layout as ResizeBilinear.
template <class T>
struct ResizeNearest {
  const T* in;
  T* out;
  std::int64_t height, width, out_h, out_w;

  PSALM_HD void operator()(std::int64_t i) const {
    const std::int64_t x = i % out_w, y = (i / out_w) % out_h, p = i / (out_w * out_h);
    out[i] = in[(p * height + nearest_source_index(y, height, out_h)) * width +
                nearest_source_index(x, width, out_w)];
  }
};

/// d_in[p, nearest(y), nearest(x)] += d_out[i] (atomic); layout as ResizeBilinearBackward.
template <class T>
struct ResizeNearestBackward {
  const T* d_out;
  T* d_in;
  std::int64_t height, width, out_h, out_w;

  PSALM_HD void operator()(std::int64_t i) const {
    const std::int64_t x = i % out_w, y = (i / out_w) % out_h, p = i / (out_w * out_h);
    atomic_add(d_in + (p * height + nearest_source_index(y, height, out_h)) * width +
                   nearest_source_index(x, width, out_w),
               d_out[i]);
  }
};

}  // namespace psalm::kernels
