// psalm/psalm/visual_prompt.hpp — interactive prompts rasterised from user coordinates in the
// original image (PSALM_SPEC §2.4, §8.3): point (disc r = 10), scribble (polyline, disc r = 5),
// box (filled), mask (as given), then the image's resize + pad -> (K, T, T) 0/1 masks.
// Host code (CPU masks, filled by loops and tensor/host.hpp's copies).
// Depends on: io/resize, psalm/preprocess, tensor. Test: tests/psalm/test_visual_prompt.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/resize.hpp"
#include "psalm/psalm/preprocess.hpp"
#include "psalm/tensor/host.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm {

// Letters: H0 W0 original image, T padded model input side, K prompts.

/// The kinds of visual prompt PSALM was trained with.
enum class VisualPromptKind : std::uint8_t { point, scribble, box, mask };

inline const char* to_string(VisualPromptKind kind) {
  switch (kind) {
    case VisualPromptKind::point:
      return "point";
    case VisualPromptKind::scribble:
      return "scribble";
    case VisualPromptKind::box:
      return "box";
    case VisualPromptKind::mask:
      return "mask";
  }
  return "unknown";
}

/// A position in the original image in pixel units: x = column, y = row, pixel centres at
/// integers. Fractional positions round to the nearest pixel (halves up).
struct PromptPoint {
  double x = 0.0, y = 0.0;
};

/// One user prompt for one target region.
struct VisualPrompt {
  VisualPromptKind kind = VisualPromptKind::point;
  /// point: one or more clicks; scribble: the polyline's vertices (one or more); box: two
  /// opposite corners (inclusive, any order).
  std::vector<PromptPoint> points;
  Tensor<std::uint8_t> mask;  ///< mask kind: (H0, W0), nonzero = inside

  static VisualPrompt point(double x, double y) { return {VisualPromptKind::point, {{x, y}}, {}}; }
  static VisualPrompt clicks(std::vector<PromptPoint> points) {
    return {VisualPromptKind::point, std::move(points), {}};
  }
  static VisualPrompt scribble(std::vector<PromptPoint> vertices) {
    return {VisualPromptKind::scribble, std::move(vertices), {}};
  }
  static VisualPrompt box(double x0, double y0, double x1, double y1) {
    return {VisualPromptKind::box, {{x0, y0}, {x1, y1}}, {}};
  }
  static VisualPrompt from_mask(Tensor<std::uint8_t> mask) {
    return {VisualPromptKind::mask, {}, std::move(mask)};
  }
};

/// Radii of the load-time dilation (upstream: point 10, scribble 5).
struct VisualPromptOptions {
  std::int64_t point_radius = 10;
  std::int64_t scribble_radius = 5;
};

namespace detail {

/// The pixel (column, row) of a user coordinate; throws unless it lies in the W x H image.
inline std::pair<std::int64_t, std::int64_t> prompt_pixel(const PromptPoint& p, std::int64_t height,
                                                          std::int64_t width, std::size_t index,
                                                          const char* kind) {
  PSALM_CHECK(std::isfinite(p.x) && std::isfinite(p.y), "visual prompt: ", kind, " coordinate ",
              index, " (", p.x, ", ", p.y, ") is not finite");
  const double cx = std::floor(p.x + 0.5), cy = std::floor(p.y + 0.5);
  PSALM_CHECK(
      cx >= 0 && cy >= 0 && cx < static_cast<double>(width) && cy < static_cast<double>(height),
      "visual prompt: ", kind, " coordinate ", index, " (x ", p.x, ", y ", p.y,
      ") lies outside the ", width, "x", height, " image (x must round to 0..", width - 1,
      ", y to 0..", height - 1, ")");
  return {static_cast<std::int64_t>(cx), static_cast<std::int64_t>(cy)};
}

/// Sets the pixels of the line from (r0, c0) to (r1, c1), both ends included: Bresenham with
/// skimage.draw.line's stepping rule (d = 2 dr - dc; step the minor axis while d >= 0).
/// ref: datasets/bulid_COCO_Interactivate.py draws its scribbles with skimage.draw.line.
inline void draw_line(std::uint8_t* m, std::int64_t width, std::int64_t r0, std::int64_t c0,
                      std::int64_t r1, std::int64_t c1) {
  std::int64_t r = r0, c = c0, dr = std::abs(r1 - r0), dc = std::abs(c1 - c0);
  std::int64_t sr = r1 - r > 0 ? 1 : -1, sc = c1 - c > 0 ? 1 : -1;
  const bool steep = dr > dc;
  if (steep) std::swap(r, c), std::swap(dr, dc), std::swap(sr, sc);
  std::int64_t d = 2 * dr - dc;
  for (std::int64_t i = 0; i < dc; ++i) {
    if (steep)
      m[c * width + r] = 1;
    else
      m[r * width + c] = 1;
    while (d >= 0) r += sr, d -= 2 * dc;
    c += sc;
    d += 2 * dr;
  }
  m[r1 * width + c1] = 1;
}

/// Every set pixel of `src` grown into the disc dx^2 + dy^2 <= radius^2 (clipped to the image).
/// ref: coco_instance_mapper.py enhance_with_circles / draw_circle (distance <= radius).
inline void dilate_disc(const std::uint8_t* src, std::uint8_t* dst, std::int64_t height,
                        std::int64_t width, std::int64_t radius) {
  std::vector<std::int64_t> half(static_cast<std::size_t>(radius + 1));  // row half-widths
  for (std::int64_t dy = 0; dy <= radius; ++dy) {
    std::int64_t w = 0;
    while ((w + 1) * (w + 1) + dy * dy <= radius * radius) ++w;
    half[static_cast<std::size_t>(dy)] = w;
  }
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      if (!src[y * width + x]) continue;
      for (std::int64_t dy = -radius; dy <= radius; ++dy) {
        const std::int64_t yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        const std::int64_t w = half[static_cast<std::size_t>(std::abs(dy))];
        const std::int64_t x0 = std::max<std::int64_t>(0, x - w);
        const std::int64_t x1 = std::min<std::int64_t>(width - 1, x + w);
        std::fill(dst + yy * width + x0, dst + yy * width + x1 + 1, std::uint8_t{1});
      }
    }
}

}  // namespace detail

/// The prompt as a 0/1 mask of the original image (H0, W0), before resizing. Throws on a
/// coordinate outside the image, a box without two corners, a mask of another size, an
/// empty prompt.
inline Tensor<std::uint8_t> rasterize_visual_prompt(const VisualPrompt& prompt, std::int64_t height,
                                                    std::int64_t width,
                                                    const VisualPromptOptions& options = {}) {
  PSALM_CHECK(height >= 1 && width >= 1, "visual prompt: image size ", width, "x", height,
              " must be positive");
  PSALM_CHECK(options.point_radius >= 0 && options.scribble_radius >= 0,
              "visual prompt: radii must be non-negative");
  const char* kind = to_string(prompt.kind);
  Tensor<std::uint8_t> out = host_full(Shape{height, width}, std::uint8_t{0});  // (H0, W0)
  std::uint8_t* m = out.data();
  if (prompt.kind == VisualPromptKind::mask) {
    PSALM_CHECK(prompt.mask.defined() && prompt.mask.rank() == 2 && prompt.mask.size(0) == height &&
                    prompt.mask.size(1) == width,
                "visual prompt: a mask prompt must be (", height, ", ", width,
                ") like the image, got ", prompt.mask.defined() ? prompt.mask.shape() : Shape{});
    const Tensor<std::uint8_t> src = host_contiguous(prompt.mask);  // (H0, W0)
    for (std::int64_t i = 0; i < height * width; ++i) m[i] = src.data()[i] ? 1 : 0;
  } else {
    PSALM_CHECK(!prompt.points.empty(), "visual prompt: a ", kind, " prompt needs coordinates");
    PSALM_CHECK(prompt.kind != VisualPromptKind::box || prompt.points.size() == 2,
                "visual prompt: a box needs exactly two corners, got ", prompt.points.size());
    std::vector<std::pair<std::int64_t, std::int64_t>> px;  // (column, row)
    for (std::size_t i = 0; i < prompt.points.size(); ++i)
      px.push_back(detail::prompt_pixel(prompt.points[i], height, width, i, kind));
    if (prompt.kind == VisualPromptKind::box) {
      const auto [xa, ya] = px[0];
      const auto [xb, yb] = px[1];
      for (std::int64_t y = std::min(ya, yb); y <= std::max(ya, yb); ++y)
        std::fill(m + y * width + std::min(xa, xb), m + y * width + std::max(xa, xb) + 1,
                  std::uint8_t{1});
    } else {
      Tensor<std::uint8_t> seeds = host_full(Shape{height, width}, std::uint8_t{0});  // (H0, W0)
      std::uint8_t* s = seeds.data();
      if (prompt.kind == VisualPromptKind::point) {
        for (const auto& [x, y] : px) s[y * width + x] = 1;
      } else {  // scribble
        s[px[0].second * width + px[0].first] = 1;
        for (std::size_t i = 1; i < px.size(); ++i)
          detail::draw_line(s, width, px[i - 1].second, px[i - 1].first, px[i].second, px[i].first);
      }
      const std::int64_t radius =
          prompt.kind == VisualPromptKind::point ? options.point_radius : options.scribble_radius;
      detail::dilate_disc(s, m, height, width, radius);
    }
  }
  PSALM_CHECK(std::any_of(m, m + height * width, [](std::uint8_t v) { return v != 0; }),
              "visual prompt: the ", kind, " prompt covers no pixel");
  return out;
}

/// A mask of the original image (H0, W0) brought to the model input like the image: resized
/// so the long side is `target` (Pillow NEAREST, as detectron2 resizes segmentations), padded
/// bottom/right with 0 to (T, T).
/// ref: coco_instance_mapper.py transforms.apply_segmentation (ResizeTransform with NEAREST,
/// FixedSizeCrop with seg_pad_value 0).
inline Tensor<std::uint8_t> resize_pad_mask(const Tensor<std::uint8_t>& mask, std::int64_t target) {
  PSALM_CHECK(mask.rank() == 2, "resize_pad_mask: mask must be (H, W), got ", mask.shape());
  PSALM_CHECK(target >= 1, "resize_pad_mask: target must be positive, got ", target);
  const auto [h, w] = resized_extent(mask.size(0), mask.size(1), target);
  const Tensor<std::uint8_t> resized = (h == mask.size(0) && w == mask.size(1))
                                           ? host_contiguous(mask)
                                           : io::resize_nearest(mask, h, w);     // (h, w)
  Tensor<std::uint8_t> out = host_full(Shape{target, target}, std::uint8_t{0});  // (T, T)
  for (std::int64_t y = 0; y < h; ++y)
    std::copy_n(resized.data() + y * w, w, out.data() + y * target);
  return out;
}

/// The K prompts of one image (original size H0 x W0) as the model's (K, T, T) 0/1 masks.
/// Throws when a prompt leaves no pixel after resizing (the pooling would have nothing to
/// sample; upstream would print 'error' and go on).
inline Tensor<std::uint8_t> visual_prompt_masks(std::span<const VisualPrompt> prompts,
                                                std::int64_t height, std::int64_t width,
                                                std::int64_t target,
                                                const VisualPromptOptions& options = {}) {
  PSALM_CHECK(!prompts.empty(), "visual_prompt_masks: no prompts");
  const auto k_count = static_cast<std::int64_t>(prompts.size());
  Tensor<std::uint8_t> out(Shape{k_count, target, target});  // (K, T, T)
  for (std::int64_t k = 0; k < k_count; ++k) {
    Tensor<std::uint8_t> one;  // (T, T)
    try {
      one = resize_pad_mask(
          rasterize_visual_prompt(prompts[static_cast<std::size_t>(k)], height, width, options),
          target);
    } catch (const Error& e) {
      fail("visual prompt ", k, ": ", e.what());
    }
    PSALM_CHECK(std::any_of(one.data(), one.data() + target * target,
                            [](std::uint8_t v) { return v != 0; }),
                "visual prompt ", k, " (", to_string(prompts[static_cast<std::size_t>(k)].kind),
                ") covers no pixel after resizing ", width, "x", height, " to side ", target);
    std::copy_n(one.data(), target * target, out.data() + k * target * target);
  }
  return out;
}

}  // namespace psalm
