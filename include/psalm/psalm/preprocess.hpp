// psalm/psalm/preprocess.hpp — PSALM's image preprocessing (PSALM_SPEC §1.1, detectron2's
// ResizeShortestEdge(T, T) + FixedSizeCrop(T) as the mappers run them): resize so the long
// side is T with Pillow BILINEAR, pad bottom/right to T x T with 128, normalise with the
// ImageNet mean / std in 0-255 space; keeps the padding mask and the geometry that
// postprocess.hpp needs to bring predictions back to the original image. Host code (CPU
// tensors, no executor). Depends on: io/resize, tensor/host.
// Test: tests/preprocess/test_preprocess.cpp. Docs: docs/preprocessing.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

#include "psalm/core/error.hpp"
#include "psalm/io/resize.hpp"
#include "psalm/tensor/host.hpp"  // host_contiguous(): host code, no executor

namespace psalm {

// Letters: H0 W0 original image, h w resized (valid) extent, T padded square side (1024).

/// Where an image sits in the model's padded input: the original size, the resized extent at
/// the top-left corner (upstream's original_height / original_width, computed from the padding
/// mask), and the padded size.
struct ImageGeometry {
  std::int64_t original_height = 0, original_width = 0;  // H0, W0
  std::int64_t valid_height = 0, valid_width = 0;        // h, w
  std::int64_t padded_height = 0, padded_width = 0;      // T, T

  /// Throws unless 1 <= valid <= padded on both axes and the original size is positive.
  void validate(const char* who) const {
    PSALM_CHECK(original_height >= 1 && original_width >= 1, who, ": original size ",
                original_width, "x", original_height, " must be positive");
    PSALM_CHECK(valid_height >= 1 && valid_width >= 1 && valid_height <= padded_height &&
                    valid_width <= padded_width,
                who, ": valid extent ", valid_width, "x", valid_height,
                " must be positive and fit the padded size ", padded_width, "x", padded_height);
  }
};

/// Options of preprocess_image. `target` is 1024 for PSALM; tests and small configs use
/// 128 or 256.
struct PreprocessOptions {
  std::int64_t target = 1024;
  io::PixelNormalization normalization{};  // mean, std (0-255, RGB) and the pad value 128
};

/// The model input for one image.
struct PreprocessedImage {
  Tensor<float> pixels;  // (3, T, T): (pixel - mean) / std, padding = (128 - mean) / std
  Tensor<std::uint8_t> padding_mask;  // (T, T): 1 on padded pixels (upstream's True), 0 inside
  ImageGeometry geometry;
};

namespace detail {

/// (H, W) grey, (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> (H, W, 3) RGB, as
/// PIL's convert("RGB") (grey replicated, alpha dropped without compositing).
inline Tensor<std::uint8_t> as_rgb(const Tensor<std::uint8_t>& image) {
  PSALM_CHECK(
      image.rank() == 2 ||
          (image.rank() == 3 && (image.size(2) == 1 || image.size(2) == 3 || image.size(2) == 4)),
      "preprocess_image: expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 ",
      "image, got shape ", image.shape());
  PSALM_CHECK(image.size(0) >= 1 && image.size(1) >= 1, "preprocess_image: empty image of shape ",
              image.shape());
  if (image.rank() == 3 && image.size(2) == 3) return host_contiguous(image);  // (H, W, 3)
  const std::int64_t h = image.size(0), w = image.size(1);
  const Tensor<std::uint8_t> src = image.rank() == 2 ? host_contiguous(image.view({h, w, 1}))
                                                     : host_contiguous(image);  // (H, W, c)
  const std::int64_t c = src.size(2);
  Tensor<std::uint8_t> rgb(Shape{h, w, 3});  // (H, W, 3)
  const std::uint8_t* in = src.data();
  std::uint8_t* out = rgb.data();
  for (std::int64_t i = 0; i < h * w; ++i)
    for (std::int64_t k = 0; k < 3; ++k) out[i * 3 + k] = in[i * c + (c == 1 ? 0 : k)];
  return rgb;
}

}  // namespace detail

/// The size the image is resized to: detectron2 ResizeShortestEdge(T, max_size = T), i.e.
/// the long side becomes T and the short side int(scaled + 0.5). Returns (h, w).
inline std::pair<std::int64_t, std::int64_t> resized_extent(std::int64_t height, std::int64_t width,
                                                            std::int64_t target) {
  return io::shortest_edge_size(height, width, target, target);
}

/// image (H0, W0, 3) uint8 RGB (grey and RGBA are converted as PIL does) -> PSALM's input:
/// Pillow-BILINEAR resize to (h, w) with max(h, w) = T, pad to (T, T) with 128, normalise.
inline PreprocessedImage preprocess_image(const Tensor<std::uint8_t>& image,
                                          const PreprocessOptions& options = {}) {
  PSALM_CHECK(options.target >= 1, "preprocess_image: target size must be positive, got ",
              options.target);
  const Tensor<std::uint8_t> rgb = detail::as_rgb(image);  // (H0, W0, 3)
  const std::int64_t h0 = rgb.size(0), w0 = rgb.size(1), t = options.target;
  const auto [h, w] = resized_extent(h0, w0, t);
  // ref: detectron2 ResizeTransform.apply_image: uint8 images go through PIL's resize (Pillow
  // returns a copy when the size is unchanged; the BILINEAR filter is then the identity too).
  const Tensor<std::uint8_t> resized =
      (h == h0 && w == w0) ? rgb : io::resize_bilinear(rgb, h, w);  // (h, w, 3)
  PreprocessedImage out;
  out.pixels = io::normalize_image(resized, options.normalization, t, t);  // (3, T, T)
  out.padding_mask = Tensor<std::uint8_t>(Shape{t, t});                    // (T, T)
  std::uint8_t* mask = out.padding_mask.data();
  for (std::int64_t y = 0; y < t; ++y)
    for (std::int64_t x = 0; x < t; ++x) mask[y * t + x] = (y >= h || x >= w) ? 1 : 0;
  out.geometry = {h0, w0, h, w, t, t};
  return out;
}

/// The geometry of an image of `height` x `width` preprocessed to side `target`, without the
/// pixels (for predictions on images preprocessed elsewhere).
inline ImageGeometry image_geometry(std::int64_t height, std::int64_t width,
                                    std::int64_t target = 1024) {
  const auto [h, w] = resized_extent(height, width, target);
  return {height, width, h, w, target, target};
}

/// The valid extent recovered from a padding mask (T, T) as upstream eval_seg does: the
/// bounding box of the non-padded pixels (rows 0..max_y, columns 0..max_x). Returns (h, w).
inline std::pair<std::int64_t, std::int64_t> valid_extent(
    const Tensor<std::uint8_t>& padding_mask) {
  PSALM_CHECK(padding_mask.rank() == 2, "valid_extent: padding mask must be (T, T), got ",
              padding_mask.shape());
  const Tensor<std::uint8_t> m = host_contiguous(padding_mask);
  const std::int64_t rows = m.size(0), cols = m.size(1);
  std::int64_t min_y = rows, max_y = -1, min_x = cols, max_x = -1;
  for (std::int64_t y = 0; y < rows; ++y)
    for (std::int64_t x = 0; x < cols; ++x)
      if (m.data()[y * cols + x] == 0) {
        min_y = std::min(min_y, y);
        max_y = std::max(max_y, y);
        min_x = std::min(min_x, x);
        max_x = std::max(max_x, x);
      }
  PSALM_CHECK(max_y >= 0, "valid_extent: the padding mask has no valid pixel");
  return {max_y - min_y + 1, max_x - min_x + 1};
}

}  // namespace psalm
