// psalm/io/resize.hpp — image resizing with Pillow's semantics (Image.resize BILINEAR: a
// separable triangle filter widened by the scale when shrinking, 22-bit fixed point and uint8
// rounding between passes; NEAREST: Pillow's affine pixel-centre mapping), plus PSALM's
// preprocessing arithmetic (shortest-edge size, pad, mean/std normalisation to CHW float).
// Depends on: core, tensor, OpenMP. Test: tests/io/test_resize.cpp. Docs: docs/images.md.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/tensor/host.hpp"  // host_contiguous(): host code, no executor

namespace psalm::io {

// Letters: H, W input height and width; OH, OW output; C channels.

enum class Resample { nearest, bilinear };

namespace detail {

// ref: Pillow src/libImaging/Resample.c (PRECISION_BITS = 32 - 8 - 2).
inline constexpr int kResamplePrecisionBits = 22;

/// For each output sample along one axis: the first input index, the tap count, and `ksize`
/// normalised triangle-filter weights (Pillow's precompute_coeffs with box = [0, in_size]).
struct ResampleAxis {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<double> weights;      // (out, ksize)
  std::vector<std::int32_t> fixed;  // (out, ksize), weights in 22-bit fixed point
};

inline ResampleAxis bilinear_axis(std::int64_t in_size, std::int64_t out_size) {
  // Pillow computes the box edges in float and the scale in double.
  const double scale =
      static_cast<double>(static_cast<float>(in_size)) / static_cast<double>(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;  // the triangle filter has support 1
  ResampleAxis axis;
  axis.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  const auto ks = static_cast<std::size_t>(axis.ksize);
  const auto n = static_cast<std::size_t>(out_size);
  axis.first.resize(n);
  axis.count.resize(n);
  axis.weights.assign(n * ks, 0.0);
  axis.fixed.assign(n * ks, 0);
  const double ss = 1.0 / filterscale;
  for (std::size_t xx = 0; xx < n; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);  // C truncation, as Pillow
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = static_cast<int>(in_size);
    xmax -= xmin;
    double* k = axis.weights.data() + xx * ks;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double t = std::fabs((x + xmin - center + 0.5) * ss);
      const double w = t < 1.0 ? 1.0 - t : 0.0;
      k[x] = w;
      total += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (total != 0.0) k[x] /= total;
    for (int x = 0; x < axis.ksize; ++x) {
      const double v = k[x] * (1 << kResamplePrecisionBits);
      axis.fixed[xx * ks + static_cast<std::size_t>(x)] =
          static_cast<std::int32_t>(k[x] < 0 ? v - 0.5 : v + 0.5);
    }
    axis.first[xx] = xmin;
    axis.count[xx] = xmax;
  }
  return axis;
}

inline std::uint8_t clip8(std::int32_t v) {
  if (v >= (std::int32_t{256} << kResamplePrecisionBits)) return 255;
  if (v <= 0) return 0;
  return static_cast<std::uint8_t>(v >> kResamplePrecisionBits);
}

/// The accumulator of one pass: 22-bit fixed point for uint8 (Pillow's 8bpc path), double for
/// float (Pillow's 32bpc path).
template <class T>
using ResampleAcc = std::conditional_t<std::is_same_v<T, std::uint8_t>, std::int32_t, double>;

template <class T>
const ResampleAcc<T>* pass_weights(const ResampleAxis& axis, std::int64_t o) {
  const std::size_t at = static_cast<std::size_t>(o * axis.ksize);
  if constexpr (std::is_same_v<T, std::uint8_t>)
    return axis.fixed.data() + at;
  else
    return axis.weights.data() + at;
}

template <class T>
T finish(ResampleAcc<T> acc) {
  if constexpr (std::is_same_v<T, std::uint8_t>)
    return clip8(acc);
  else
    return static_cast<T>(acc);
}

template <class T>
constexpr ResampleAcc<T> acc_start() {
  if constexpr (std::is_same_v<T, std::uint8_t>)
    return std::int32_t{1} << (kResamplePrecisionBits - 1);
  else
    return 0.0;
}

/// Horizontal pass over (rows, in_cols, C) -> (out_rows, out_cols, C), reading input rows
/// [row_offset, row_offset + out_rows). kC > 0 fixes the channel count at compile time.
template <class T, int kC>
void resample_horizontal(const T* in, std::int64_t in_cols, std::int64_t channels, T* out,
                         std::int64_t out_rows, std::int64_t out_cols, const ResampleAxis& axis,
                         std::int64_t row_offset) {
  const std::int64_t c_n = kC > 0 ? kC : channels;
#pragma omp parallel for schedule(static) if (out_rows * out_cols * c_n * axis.ksize > (1 << 17))
  for (std::int64_t y = 0; y < out_rows; ++y) {
    std::array<ResampleAcc<T>, 4> small{};
    std::vector<ResampleAcc<T>> large(kC > 0 ? 0 : static_cast<std::size_t>(c_n));
    ResampleAcc<T>* acc = (kC > 0 || c_n <= 4) ? small.data() : large.data();
    const T* row = in + (y + row_offset) * in_cols * c_n;
    for (std::int64_t x = 0; x < out_cols; ++x) {
      const int first = axis.first[static_cast<std::size_t>(x)];
      const int count = axis.count[static_cast<std::size_t>(x)];
      const ResampleAcc<T>* k = pass_weights<T>(axis, x);
      for (std::int64_t c = 0; c < c_n; ++c) acc[c] = acc_start<T>();
      const T* src = row + std::int64_t{first} * c_n;
      for (int i = 0; i < count; ++i, src += c_n)
        for (std::int64_t c = 0; c < c_n; ++c) acc[c] += static_cast<ResampleAcc<T>>(src[c]) * k[i];
      T* dst = out + (y * out_cols + x) * c_n;
      for (std::int64_t c = 0; c < c_n; ++c) dst[c] = finish<T>(acc[c]);
    }
  }
}

/// Vertical pass over (in_rows, cols, C) -> (out_rows, cols, C): whole rows at a time, so the
/// inner loop runs over contiguous memory. Per element the taps add in Pillow's order.
template <class T>
void resample_vertical(const T* in, std::int64_t cols, std::int64_t channels, T* out,
                       std::int64_t out_rows, const ResampleAxis& axis) {
  const std::int64_t n = cols * channels;
#pragma omp parallel for schedule(static) if (out_rows * n * axis.ksize > (1 << 17))
  for (std::int64_t y = 0; y < out_rows; ++y) {
    std::vector<ResampleAcc<T>> acc(static_cast<std::size_t>(n), acc_start<T>());
    const int first = axis.first[static_cast<std::size_t>(y)];
    const int count = axis.count[static_cast<std::size_t>(y)];
    const ResampleAcc<T>* k = pass_weights<T>(axis, y);
    for (int i = 0; i < count; ++i) {
      const T* src = in + (std::int64_t{first} + i) * n;
      const ResampleAcc<T> w = k[i];
      for (std::int64_t j = 0; j < n; ++j)
        acc[static_cast<std::size_t>(j)] += static_cast<ResampleAcc<T>>(src[j]) * w;
    }
    T* dst = out + y * n;
    for (std::int64_t j = 0; j < n; ++j) dst[j] = finish<T>(acc[static_cast<std::size_t>(j)]);
  }
}

/// One pass over an (rows, cols, C) contiguous buffer along `cols` (horizontal = true) or
/// along `rows`. Pillow rounds each 8-bit pass to uint8 and keeps float passes in float.
template <class T>
void resample_pass(const T* in, std::int64_t in_rows, std::int64_t in_cols, std::int64_t channels,
                   T* out, std::int64_t out_rows, std::int64_t out_cols, const ResampleAxis& axis,
                   bool horizontal, std::int64_t row_offset) {
  (void)in_rows;
  if (!horizontal) return resample_vertical(in, in_cols, channels, out, out_rows, axis);
  if (channels == 1)
    resample_horizontal<T, 1>(in, in_cols, 1, out, out_rows, out_cols, axis, row_offset);
  else if (channels == 3)
    resample_horizontal<T, 3>(in, in_cols, 3, out, out_rows, out_cols, axis, row_offset);
  else if (channels == 4)
    resample_horizontal<T, 4>(in, in_cols, 4, out, out_rows, out_cols, axis, row_offset);
  else
    resample_horizontal<T, 0>(in, in_cols, channels, out, out_rows, out_cols, axis, row_offset);
}

/// (H, W) or (H, W, C) -> contiguous (H, W, C) plus whether the caller passed rank 2.
template <class T>
Tensor<T> as_hwc(const Tensor<T>& image, const char* what, bool& had_channels) {
  PSALM_CHECK(image.rank() == 2 || image.rank() == 3, what,
              ": expected an (H, W) or (H, W, C) image, got shape ", image.shape());
  had_channels = image.rank() == 3;
  PSALM_CHECK(image.numel() > 0, what, ": cannot resize an empty image of shape ", image.shape());
  const Tensor<T> c = host_contiguous(image);
  return had_channels ? c : c.view({image.size(0), image.size(1), 1});
}

template <class T>
Tensor<T> bilinear(const Tensor<T>& image, std::int64_t out_h, std::int64_t out_w) {
  bool had_channels = false;
  const Tensor<T> src = as_hwc(image, "resize (bilinear)", had_channels);  // (H, W, C)
  const std::int64_t h = src.size(0), w = src.size(1), c = src.size(2);
  PSALM_CHECK(out_h > 0 && out_w > 0 && out_h <= (1 << 24) && out_w <= (1 << 24),
              "resize: output size ", out_w, "x", out_h, " must be within 1..2^24");
  PSALM_CHECK(h <= (1 << 24) && w <= (1 << 24), "resize: input of ", w, "x", h,
              " is too large (sides up to 2^24)");
  const auto shape_of = [&](std::int64_t hh, std::int64_t ww) {
    return had_channels ? std::vector<std::int64_t>{hh, ww, c} : std::vector<std::int64_t>{hh, ww};
  };
  if (out_h == h && out_w == w) return host_clone(src).view(shape_of(h, w));
  const ResampleAxis vertical = bilinear_axis(h, out_h);
  if (out_w == w) {
    Tensor<T> out(Shape{out_h, w, c});  // (OH, W, C)
    resample_pass(src.data(), h, w, c, out.data(), out_h, w, vertical, false, 0);
    return out.view(shape_of(out_h, out_w));
  }
  const ResampleAxis horizontal = bilinear_axis(w, out_w);
  if (out_h == h) {
    Tensor<T> out(Shape{h, out_w, c});  // (H, OW, C)
    resample_pass(src.data(), h, w, c, out.data(), h, out_w, horizontal, true, 0);
    return out.view(shape_of(out_h, out_w));
  }
  Tensor<T> out(Shape{out_h, out_w, c});  // (OH, OW, C)
  // ref: Pillow >= 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height
  // shrinks by more than twice as many pixels as the width; the passes round in between, so
  // the order is visible in the result. Older Pillow always ran the horizontal pass first.
  if (out_h < h && (h - out_h) > 2 * (w - out_w)) {
    Tensor<T> temp(Shape{out_h, w, c});  // (OH, W, C)
    resample_pass(src.data(), h, w, c, temp.data(), out_h, w, vertical, false, 0);
    resample_pass(temp.data(), out_h, w, c, out.data(), out_h, out_w, horizontal, true, 0);
    return out.view(shape_of(out_h, out_w));
  }
  // Horizontal first, over only the input rows the vertical pass reads: [first, last).
  const int row_first = vertical.first.front();
  const int row_last = vertical.first.back() + vertical.count.back();
  Tensor<T> temp(Shape{row_last - row_first, out_w, c});  // (rows used, OW, C)
  resample_pass(src.data(), h, w, c, temp.data(), row_last - row_first, out_w, horizontal, true,
                row_first);
  ResampleAxis shifted = vertical;
  for (int& f : shifted.first) f -= row_first;
  resample_pass(temp.data(), temp.size(0), out_w, c, out.data(), out_h, out_w, shifted, false, 0);
  return out.view(shape_of(out_h, out_w));
}

/// Pillow's NEAREST source index for each output index: the pixel-centre position is
/// accumulated by repeated addition of the scale, exactly as ImagingScaleAffine does.
/// -1 marks an output index whose source falls outside the image (Pillow fills it with 0).
inline std::vector<std::int64_t> nearest_table(std::int64_t in_size, std::int64_t out_size) {
  // ref: Pillow src/_imaging.c _resize (a[0] = box width / out size) and
  // src/libImaging/Geometry.c ImagingScaleAffine (xo = a[2] + a[0] * 0.5; xo += a[0]).
  const double a = static_cast<double>(static_cast<float>(in_size)) / static_cast<double>(out_size);
  std::vector<std::int64_t> table(static_cast<std::size_t>(out_size));
  double pos = a * 0.5;
  for (auto& t : table) {
    const int i = pos < 0.0 ? -1 : static_cast<int>(pos);
    t = (i >= 0 && i < in_size) ? i : -1;
    pos += a;
  }
  return table;
}

}  // namespace detail

/// Pillow's Image.resize((out_w, out_h), NEAREST) for an (H, W) or (H, W, C) image of any
/// element type: label maps and masks keep their exact values.
template <Scalar T>
Tensor<T> resize_nearest(const Tensor<T>& image, std::int64_t out_h, std::int64_t out_w) {
  bool had_channels = false;
  const Tensor<T> src = detail::as_hwc(image, "resize (nearest)", had_channels);  // (H, W, C)
  const std::int64_t h = src.size(0), w = src.size(1), c = src.size(2);
  PSALM_CHECK(out_h > 0 && out_w > 0 && out_h <= (1 << 24) && out_w <= (1 << 24),
              "resize: output size ", out_w, "x", out_h, " must be within 1..2^24");
  const std::vector<std::int64_t> xs = detail::nearest_table(w, out_w);
  const std::vector<std::int64_t> ys = detail::nearest_table(h, out_h);
  Tensor<T> out(Shape{out_h, out_w, c});  // (OH, OW, C)
  const auto copy_rows = [&]<int kC>() {
    const std::int64_t cn = kC > 0 ? kC : c;
    const T* in = src.data();
    T* dst = out.data();
#pragma omp parallel for schedule(static) if (out_h * out_w * cn > (1 << 18))
    for (std::int64_t y = 0; y < out_h; ++y) {
      const std::int64_t sy = ys[static_cast<std::size_t>(y)];
      T* row = dst + y * out_w * cn;
      if (sy < 0) {
        std::fill(row, row + out_w * cn, T{});
        continue;
      }
      const T* in_row = in + sy * w * cn;
      for (std::int64_t x = 0; x < out_w; ++x) {
        const std::int64_t sx = xs[static_cast<std::size_t>(x)];
        if (sx < 0) [[unlikely]] {
          std::fill(row + x * cn, row + (x + 1) * cn, T{});
          continue;
        }
        for (std::int64_t k = 0; k < cn; ++k) row[x * cn + k] = in_row[sx * cn + k];
      }
    }
  };
  if (c == 1)
    copy_rows.template operator()<1>();
  else if (c == 3)
    copy_rows.template operator()<3>();
  else
    copy_rows.template operator()<0>();
  return had_channels ? out : out.view({out_h, out_w});
}

/// Pillow's Image.resize((out_w, out_h), BILINEAR). uint8: bit-exact with Pillow for modes L
/// and RGB (each channel is filtered independently; Pillow premultiplies RGBA by alpha first,
/// which this does not). float: Pillow mode 'F' (double accumulation, float between passes).
inline Tensor<std::uint8_t> resize_bilinear(const Tensor<std::uint8_t>& image, std::int64_t out_h,
                                            std::int64_t out_w) {
  return detail::bilinear(image, out_h, out_w);
}
inline Tensor<float> resize_bilinear(const Tensor<float>& image, std::int64_t out_h,
                                     std::int64_t out_w) {
  return detail::bilinear(image, out_h, out_w);
}

/// Resize with the named filter (bilinear for uint8 and float images only).
template <Scalar T>
Tensor<T> resize(const Tensor<T>& image, std::int64_t out_h, std::int64_t out_w, Resample filter) {
  if (filter == Resample::nearest) return resize_nearest(image, out_h, out_w);
  if constexpr (std::is_same_v<T, std::uint8_t> || std::is_same_v<T, float>) {
    return resize_bilinear(image, out_h, out_w);
  } else {
    fail("resize: bilinear resizing supports uint8 and float images, not ", name_of(dtype_of<T>()));
  }
}

// ---- PSALM preprocessing (PSALM_SPEC §1.1) --------------------------------------------------

/// detectron2 ResizeShortestEdge.get_output_shape: the short side becomes `short_edge`, then
/// the long side is capped at `max_size`; sizes rounded with int(x + 0.5). Returns (OH, OW).
inline std::pair<std::int64_t, std::int64_t> shortest_edge_size(std::int64_t height,
                                                                std::int64_t width,
                                                                std::int64_t short_edge = 1024,
                                                                std::int64_t max_size = 1024) {
  PSALM_CHECK(height > 0 && width > 0 && short_edge > 0 && max_size > 0,
              "shortest_edge_size: sizes must be positive, got ", width, "x", height,
              " short edge ", short_edge, " max ", max_size);
  const double size = static_cast<double>(short_edge);
  const double scale = size / static_cast<double>(std::min(height, width));
  double new_h = 0, new_w = 0;
  if (height < width) {
    new_h = size;
    new_w = scale * static_cast<double>(width);
  } else {
    new_h = scale * static_cast<double>(height);
    new_w = size;
  }
  if (std::max(new_h, new_w) > static_cast<double>(max_size)) {
    const double rescale = static_cast<double>(max_size) / std::max(new_h, new_w);
    new_h *= rescale;
    new_w *= rescale;
  }
  return {static_cast<std::int64_t>(new_h + 0.5), static_cast<std::int64_t>(new_w + 0.5)};
}

/// PSALM's pixel statistics (0-255 scale, RGB order) and the pad value before normalisation.
struct PixelNormalization {
  std::array<float, 3> mean = {123.675f, 116.28f, 103.53f};
  std::array<float, 3> std = {58.395f, 57.12f, 57.375f};
  float pad_value = 128.0f;  ///< detectron2 FixedSizeCrop image pad value, before normalising
};

/// (H, W, 3) uint8 RGB -> (3, PH, PW) float, (pixel - mean) / std, padded bottom/right to
/// (pad_h, pad_w) with `pad_value` (normalised like a pixel). pad 0 means no padding.
inline Tensor<float> normalize_image(const Tensor<std::uint8_t>& rgb,
                                     const PixelNormalization& norm = {}, std::int64_t pad_h = 0,
                                     std::int64_t pad_w = 0) {
  PSALM_CHECK(rgb.rank() == 3 && rgb.size(2) == 3,
              "normalize_image: expected an (H, W, 3) RGB image, got shape ", rgb.shape());
  const std::int64_t h = rgb.size(0), w = rgb.size(1);
  const std::int64_t ph = pad_h == 0 ? h : pad_h, pw = pad_w == 0 ? w : pad_w;
  PSALM_CHECK(ph >= h && pw >= w, "normalize_image: pad size ", pw, "x", ph,
              " is smaller than the image ", w, "x", h);
  const Tensor<std::uint8_t> src = host_contiguous(rgb);
  Tensor<float> out(Shape{3, ph, pw});  // (3, PH, PW)
  const std::uint8_t* in = src.data();
  float* dst = out.data();
  for (std::int64_t c = 0; c < 3; ++c) {
    const float mean = norm.mean[static_cast<std::size_t>(c)];
    const float sd = norm.std[static_cast<std::size_t>(c)];
    const float pad = (norm.pad_value - mean) / sd;
    for (std::int64_t y = 0; y < ph; ++y)
      for (std::int64_t x = 0; x < pw; ++x)
        dst[(c * ph + y) * pw + x] =
            (y < h && x < w) ? (static_cast<float>(in[(y * w + x) * 3 + c]) - mean) / sd : pad;
  }
  return out;
}

}  // namespace psalm::io
