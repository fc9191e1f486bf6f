// psalm/kernels/im2col.hpp — the two data movements of a convolution lowered to GEMM:
// im2col (unfold every receptive field of an NCHW input into a column) and col2im (its
// adjoint, the gradient of the input: each input pixel sums the column entries that read it,
// a gather, so no atomics and a deterministic order). Geometry as torch.nn.functional.conv2d.
// Depends on: core. Test: tests/kernels/test_im2col.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"

namespace psalm::kernels {

/// Sizes of one 2-D convolution: input planes (channels, height, width), kernel, stride,
/// zero padding, dilation, and the output plane they give.
struct ConvGeometry {
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t out_h = 0, out_w = 0;

  /// Fills out_h, out_w: floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1.
  PSALM_HD void compute_output() {
    out_h = (height + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1;
    out_w = (width + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1;
  }
  /// Rows of the column matrix per sample: channels * kernel_h * kernel_w.
  PSALM_HD std::int64_t col_rows() const { return channels * kernel_h * kernel_w; }
  /// Columns of the column matrix per sample: out_h * out_w.
  PSALM_HD std::int64_t col_cols() const { return out_h * out_w; }
};

/// cols[n, (c * kh + ki) * kw + kj, oh * out_w + ow] = x[n, c, oh*sh - ph + ki*dh,
/// ow*sw - pw + kj*dw], zero outside the input. One body call per (n, row, oh): it writes
/// out_w contiguous entries. requires: cols (batch, col_rows, col_cols) contiguous; x read
/// through its strides (n, c, h, w), so permuted or sliced inputs need no copy.
template <class T>
struct Im2Col {
  const T* x;
  T* cols;
  std::int64_t stride_n, stride_c, stride_h, stride_w;  // of x, in elements
  ConvGeometry g;

  PSALM_HD void operator()(std::int64_t i) const {
    const std::int64_t oh = i % g.out_h;
    const std::int64_t row = (i / g.out_h) % g.col_rows();
    const std::int64_t n = i / (g.out_h * g.col_rows());
    const std::int64_t kj = row % g.kernel_w, ki = (row / g.kernel_w) % g.kernel_h;
    const std::int64_t c = row / (g.kernel_w * g.kernel_h);
    T* out = cols + (n * g.col_rows() + row) * g.col_cols() + oh * g.out_w;
    const std::int64_t h = oh * g.stride_h - g.pad_h + ki * g.dilation_h;
    if (h < 0 || h >= g.height) {
      for (std::int64_t ow = 0; ow < g.out_w; ++ow) out[ow] = T(0);
      return;
    }
    const T* src = x + n * stride_n + c * stride_c + h * stride_h;
    // Output columns whose input column w = w0 + ow * stride lies inside [0, width).
    const std::int64_t w0 = kj * g.dilation_w - g.pad_w;
    const std::int64_t lo = w0 >= 0 ? 0 : (-w0 + g.stride_w - 1) / g.stride_w;
    std::int64_t hi = w0 >= g.width ? 0 : (g.width - 1 - w0) / g.stride_w + 1;
    hi = hi < g.out_w ? hi : g.out_w;
    const std::int64_t mid = lo < hi ? lo : hi;
    for (std::int64_t ow = 0; ow < mid; ++ow) out[ow] = T(0);
    if (g.stride_w == 1 && stride_w == 1) {  // contiguous run: a vectorisable copy
      for (std::int64_t ow = lo; ow < hi; ++ow) out[ow] = src[w0 + ow];
    } else {
      for (std::int64_t ow = lo; ow < hi; ++ow) out[ow] = src[(w0 + ow * g.stride_w) * stride_w];
    }
    for (std::int64_t ow = hi > mid ? hi : mid; ow < g.out_w; ++ow) out[ow] = T(0);
  }
};

/// d_x[n, c, h, w] = sum of d_cols entries that im2col read from x[n, c, h, w] (overwrites).
/// One body call per (n, c, h): it writes `width` contiguous entries.
/// requires: d_cols (batch, col_rows, col_cols) and d_x (batch, channels, height, width)
/// contiguous.
template <class T>
struct Col2Im {
  const T* d_cols;
  T* d_x;
  ConvGeometry g;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const std::int64_t h = i % g.height;
    const std::int64_t c = (i / g.height) % g.channels;
    const std::int64_t n = i / (g.height * g.channels);
    T* out = d_x + i * g.width;
    for (std::int64_t w = 0; w < g.width; ++w) out[w] = T(0);
    for (std::int64_t ki = 0; ki < g.kernel_h; ++ki) {
      const std::int64_t oh_num = h + g.pad_h - ki * g.dilation_h;
      if (oh_num < 0 || oh_num % g.stride_h != 0) continue;
      const std::int64_t oh = oh_num / g.stride_h;
      if (oh >= g.out_h) continue;
      for (std::int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const std::int64_t row = (c * g.kernel_h + ki) * g.kernel_w + kj;
        const T* src = d_cols + (n * g.col_rows() + row) * g.col_cols() + oh * g.out_w;
        // ow with 0 <= w = ow*sw - pw + kj*dw < width; visit only those ow.
        const std::int64_t w0 = kj * g.dilation_w - g.pad_w;
        std::int64_t ow = w0 >= 0 ? 0 : (-w0 + g.stride_w - 1) / g.stride_w;
        for (; ow < g.out_w; ++ow) {
          const std::int64_t w = w0 + ow * g.stride_w;
          if (w >= g.width) break;
          out[w] = convert<T>(convert<C>(out[w]) + convert<C>(src[ow]));
        }
      }
    }
  }
};

}  // namespace psalm::kernels
