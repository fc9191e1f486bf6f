// psalm/data/synthetic/prompts.hpp — interactive (visual-prompt) masks of an object following
// PSALM's offline generation rules (PSALM_SPEC §2.4, datasets/bulid_COCO_Interactivate.py): per
// connected component (8-connected, area > 5) a point, a jittered box, a sine-perturbed scribble
// across a jittered box; and the Gaussian-blurred (sigma 2), mean-thresholded mask. Plus the
// load-time disc dilation (point radius 10, scribble radius 5).
// Depends on: scene, random. Test: tests/data/test_synthetic_prompts.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "psalm/data/synthetic/random.hpp"
#include "psalm/data/synthetic/scene.hpp"

namespace psalm::data::synthetic {

/// The four prompt masks of one object, each H * W bytes (0 / 1).
struct PromptMasks {
  std::vector<std::uint8_t> point, scribble, box, mask;
};

/// One connected component of a mask: its pixel indices and bbox [x0, y0, x1, y1] (inclusive).
struct Component {
  std::vector<std::int64_t> pixels;
  std::array<std::int64_t, 4> box;
};

/// The 8-connected components of a mask with more than `min_area` pixels, in scan order.
inline std::vector<Component> connected_components(const std::vector<std::uint8_t>& mask,
                                                   std::int64_t height, std::int64_t width,
                                                   std::int64_t min_area = 5) {
  std::vector<std::uint8_t> seen(mask.size(), 0);
  std::vector<Component> out;
  std::vector<std::int64_t> stack;
  for (std::int64_t start = 0; start < height * width; ++start) {
    if (!mask[static_cast<std::size_t>(start)] || seen[static_cast<std::size_t>(start)]) continue;
    Component c{{}, {width, height, -1, -1}};
    stack.assign(1, start);
    seen[static_cast<std::size_t>(start)] = 1;
    while (!stack.empty()) {
      const std::int64_t p = stack.back();
      stack.pop_back();
      c.pixels.push_back(p);
      const std::int64_t x = p % width, y = p / width;
      c.box = {std::min(c.box[0], x), std::min(c.box[1], y), std::max(c.box[2], x),
               std::max(c.box[3], y)};
      for (std::int64_t dy = -1; dy <= 1; ++dy)
        for (std::int64_t dx = -1; dx <= 1; ++dx) {
          const std::int64_t nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const auto q = static_cast<std::size_t>(ny * width + nx);
          if (mask[q] && !seen[q]) {
            seen[q] = 1;
            stack.push_back(ny * width + nx);
          }
        }
    }
    if (static_cast<std::int64_t>(c.pixels.size()) > min_area) {
      std::sort(c.pixels.begin(), c.pixels.end());
      out.push_back(std::move(c));
    }
  }
  return out;
}

namespace detail {

inline void fill_box(std::vector<std::uint8_t>& m, std::int64_t width, std::int64_t height,
                     double x0, double y0, double x1, double y1) {
  const auto cx0 = std::clamp<std::int64_t>(std::llround(x0), 0, width - 1);
  const auto cy0 = std::clamp<std::int64_t>(std::llround(y0), 0, height - 1);
  const auto cx1 = std::clamp<std::int64_t>(std::llround(x1), 0, width - 1);
  const auto cy1 = std::clamp<std::int64_t>(std::llround(y1), 0, height - 1);
  for (std::int64_t y = cy0; y <= cy1; ++y)
    for (std::int64_t x = cx0; x <= cx1; ++x) m[static_cast<std::size_t>(y * width + x)] = 1;
}

/// A 1-pixel line from (x0, y0) to (x1, y1), clipped to the image (Bresenham).
inline void draw_line(std::vector<std::uint8_t>& m, std::int64_t width, std::int64_t height,
                      std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1) {
  const std::int64_t dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const std::int64_t sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  std::int64_t err = dx + dy;
  for (;;) {
    if (x0 >= 0 && y0 >= 0 && x0 < width && y0 < height)
      m[static_cast<std::size_t>(y0 * width + x0)] = 1;
    if (x0 == x1 && y0 == y1) break;
    const std::int64_t e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

inline double box_iou(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double iw = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  const double ih = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const double inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

}  // namespace detail

/// Gaussian blur (sigma, kernel truncated at 4 sigma, zero outside the image) of a 0 / 1 mask,
/// thresholded at the mean of the blurred values over the blur's support (pixels it made
/// nonzero): a smooth, slightly grown copy of the mask. The spec's "thresholded at its mean
/// value" does not say over which pixels; the mean over the whole image would grow small
/// objects by most of the kernel radius, so the support is used (docs/data.md).
inline std::vector<std::uint8_t> blurred_mask_prompt(const std::vector<std::uint8_t>& mask,
                                                     std::int64_t height, std::int64_t width,
                                                     double sigma = 2.0) {
  const auto radius = static_cast<std::int64_t>(4.0 * sigma + 0.5);
  std::vector<double> kernel(static_cast<std::size_t>(2 * radius + 1));
  double total = 0;
  for (std::int64_t k = -radius; k <= radius; ++k)
    total += kernel[static_cast<std::size_t>(k + radius)] =
        std::exp(-0.5 * double(k * k) / (sigma * sigma));
  for (double& v : kernel) v /= total;
  std::vector<double> tmp(mask.size(), 0.0), out(mask.size(), 0.0);
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      double s = 0;
      for (std::int64_t k = -radius; k <= radius; ++k) {
        const std::int64_t xx = x + k;
        if (xx >= 0 && xx < width && mask[static_cast<std::size_t>(y * width + xx)])
          s += kernel[static_cast<std::size_t>(k + radius)];
      }
      tmp[static_cast<std::size_t>(y * width + x)] = s;
    }
  double sum = 0;
  std::int64_t support = 0;
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      double s = 0;
      for (std::int64_t k = -radius; k <= radius; ++k) {
        const std::int64_t yy = y + k;
        if (yy >= 0 && yy < height)
          s += kernel[static_cast<std::size_t>(k + radius)] *
               tmp[static_cast<std::size_t>(yy * width + x)];
      }
      out[static_cast<std::size_t>(y * width + x)] = s;
      sum += s;
      support += s > 0 ? 1 : 0;
    }
  const double mean = support > 0 ? sum / static_cast<double>(support) : 1.0;
  std::vector<std::uint8_t> result(mask.size());
  for (std::size_t p = 0; p < out.size(); ++p) result[p] = out[p] > mean ? 1 : 0;
  return result;
}

/// The prompt masks of one binary mask (H * W). Point, box and scribble are made per connected
/// component and joined. The scribble's sine amplitude U[10, 20] px is scaled down for objects
/// under 100 px (min box side / 100) so the stroke stays near small synthetic objects.
inline PromptMasks prompts_for_mask(const std::vector<std::uint8_t>& mask, std::int64_t height,
                                    std::int64_t width, Draws& d) {
  const auto n = static_cast<std::size_t>(height * width);
  PromptMasks out{std::vector<std::uint8_t>(n, 0),
                  std::vector<std::uint8_t>(n, 0),
                  std::vector<std::uint8_t>(n, 0),
                  {}};
  for (const Component& c : connected_components(mask, height, width)) {
    const double bx0 = double(c.box[0]), by0 = double(c.box[1]);
    const double bw = double(c.box[2] - c.box[0] + 1), bh = double(c.box[3] - c.box[1] + 1);
    // Point: inside a disc of radius 0.5 * min(h, w) around the centroid, retried until on the
    // mask.
    double mx = 0, my = 0;
    for (const std::int64_t p : c.pixels) mx += double(p % width), my += double(p / width);
    mx /= double(c.pixels.size()), my /= double(c.pixels.size());
    const double r = 0.5 * std::min(bw, bh);
    std::int64_t chosen = -1;
    for (int attempt = 0; attempt < 200 && chosen < 0; ++attempt) {
      const double a = d.uniform(0, 2 * detail::kPi), rr = r * std::sqrt(d.uniform());
      const auto x = std::llround(mx + rr * std::cos(a)), y = std::llround(my + rr * std::sin(a));
      if (x >= 0 && y >= 0 && x < width && y < height &&
          mask[static_cast<std::size_t>(y * width + x)])
        chosen = y * width + x;
    }
    if (chosen < 0) {  // fallback: the component pixel nearest the centroid
      double best = 1e300;
      for (const std::int64_t p : c.pixels) {
        const double dx = double(p % width) - mx, dy = double(p / width) - my;
        if (dx * dx + dy * dy < best) best = dx * dx + dy * dy, chosen = p;
      }
    }
    out.point[static_cast<std::size_t>(chosen)] = 1;
    // Box: the component's box, height and width scaled by U[0.9, 1.1] about its centre.
    const double cx = bx0 + 0.5 * (bw - 1), cy = by0 + 0.5 * (bh - 1);
    const double jw = bw * d.uniform(0.9, 1.1), jh = bh * d.uniform(0.9, 1.1);
    detail::fill_box(out.box, width, height, cx - 0.5 * (jw - 1), cy - 0.5 * (jh - 1),
                     cx + 0.5 * (jw - 1), cy + 0.5 * (jh - 1));
    // Scribble: a box scaled by U[0.5, 1.2] (IoU >= 0.5 with the component box), a stroke
    // between two opposite corners with rows moved by A sin(2 pi f t + phase).
    const std::array<double, 4> gt{bx0, by0, bx0 + bw, by0 + bh};
    std::array<double, 4> sb = gt;
    for (int attempt = 0; attempt < 50; ++attempt) {
      const double sw = bw * d.uniform(0.5, 1.2), sh = bh * d.uniform(0.5, 1.2);
      const double ox = d.uniform(-0.25, 0.25) * bw, oy = d.uniform(-0.25, 0.25) * bh;
      const std::array<double, 4> cand{cx + ox - sw / 2, cy + oy - sh / 2, cx + ox + sw / 2,
                                       cy + oy + sh / 2};
      if (detail::box_iou(cand, gt) >= 0.5) {
        sb = cand;
        break;
      }
    }
    const double amplitude = d.uniform(10, 20) * std::min(1.0, std::min(bw, bh) / 100.0);
    const double freq = d.uniform(0.2, 1.0), phase = d.uniform(0, 2 * detail::kPi);
    const bool anti = d.chance(0.5);
    const double x0 = sb[0], x1 = sb[2], y0 = anti ? sb[3] : sb[1], y1 = anti ? sb[1] : sb[3];
    const auto steps =
        std::max<std::int64_t>(2, std::llround(std::max(x1 - x0, std::fabs(y1 - y0))));
    std::int64_t px = 0, py = 0;
    for (std::int64_t s = 0; s <= steps; ++s) {
      const double t = double(s) / double(steps);
      const auto x = std::llround(x0 + t * (x1 - x0));
      const auto y = std::llround(y0 + t * (y1 - y0) +
                                  amplitude * std::sin(2 * detail::kPi * freq * t + phase));
      if (s > 0) detail::draw_line(out.scribble, width, height, px, py, x, y);
      px = x, py = y;
    }
  }
  out.mask = blurred_mask_prompt(mask, height, width);
  return out;
}

/// Every pixel of `mask` grown into a disc of `radius` (the load-time point / scribble widening).
inline std::vector<std::uint8_t> dilate_disc(const std::vector<std::uint8_t>& mask,
                                             std::int64_t height, std::int64_t width,
                                             std::int64_t radius) {
  std::vector<std::uint8_t> out(mask.size(), 0);
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      if (!mask[static_cast<std::size_t>(y * width + x)]) continue;
      for (std::int64_t dy = -radius; dy <= radius; ++dy)
        for (std::int64_t dx = -radius; dx <= radius; ++dx) {
          const std::int64_t nx = x + dx, ny = y + dy;
          if (dx * dx + dy * dy <= radius * radius && nx >= 0 && ny >= 0 && nx < width &&
              ny < height)
            out[static_cast<std::size_t>(ny * width + nx)] = 1;
        }
    }
  return out;
}

/// The prompts of every object of a scene (in object order), drawn from the scene's prompt stream.
inline std::vector<PromptMasks> interactive_prompts(const Scene& scene) {
  Draws d(scene.options.seed, scene.index, Purpose::prompts);
  std::vector<PromptMasks> out;
  for (const Object& o : scene.objects)
    out.push_back(prompts_for_mask(visible_mask(scene, o.id), scene.height(), scene.width(), d));
  return out;
}

}  // namespace psalm::data::synthetic
