// tools/commands/overlay.hpp — the picture `psalm segment` writes next to its masks: the image
// with every mask tinted in its own colour and outlined, and below it a legend (a colour
// swatch, the label and the score per mask) drawn with stb_easy_font (public domain, in the stb
// package psalm already needs).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "psalm/core/error.hpp"
#include "psalm/tensor.hpp"

namespace psalm::cli {

// Letters: H W the image, h w the canvas (image + legend).

/// One mask to draw and its legend line.
struct OverlayItem {
  const Tensor<std::uint8_t>* mask = nullptr;  ///< (H, W) 0 / 1
  std::string text;                            ///< the legend line ("label 0.87")
};

/// A distinct colour per index (a fixed, well-separated list, then repeated).
inline std::array<std::uint8_t, 3> overlay_colour(std::size_t i) {
  static constexpr std::array<std::array<std::uint8_t, 3>, 12> kColours{{{230, 25, 75},
                                                                         {60, 180, 75},
                                                                         {255, 225, 25},
                                                                         {0, 130, 200},
                                                                         {245, 130, 48},
                                                                         {145, 30, 180},
                                                                         {70, 240, 240},
                                                                         {240, 50, 230},
                                                                         {210, 245, 60},
                                                                         {250, 190, 212},
                                                                         {0, 128, 128},
                                                                         {170, 110, 40}}};
  return kColours[i % kColours.size()];
}

namespace detail {

/// Fills the axis-aligned quads stb_easy_font makes of `text` at (x, y), scaled by `scale`.
inline void draw_text(Tensor<std::uint8_t>& canvas, std::int64_t x, std::int64_t y,
                      const std::string& text, std::array<std::uint8_t, 3> colour, int scale) {
  std::string buffer = text;
  for (char& c : buffer)
    if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) > 126) c = '?';
  std::vector<char> vertices(
      static_cast<std::size_t>(std::max<std::size_t>(buffer.size(), 1) * 270 * 16));
  unsigned char rgba[4] = {255, 255, 255, 255};
  const int quads = stb_easy_font_print(0, 0, buffer.data(), rgba, vertices.data(),
                                        static_cast<int>(vertices.size()));
  const std::int64_t h = canvas.size(0), w = canvas.size(1);
  for (int q = 0; q < quads; ++q) {
    const auto* v =
        reinterpret_cast<const float*>(vertices.data() + static_cast<std::size_t>(q) * 64);
    // Vertices 0 and 2 are opposite corners (x, y, z, colour: 16 bytes each).
    const float x0 = std::min(v[0], v[8]), x1 = std::max(v[0], v[8]);
    const float y0 = std::min(v[1], v[9]), y1 = std::max(v[1], v[9]);
    for (std::int64_t py = y + static_cast<std::int64_t>(y0 * scale);
         py < y + static_cast<std::int64_t>(y1 * scale); ++py)
      for (std::int64_t px = x + static_cast<std::int64_t>(x0 * scale);
           px < x + static_cast<std::int64_t>(x1 * scale); ++px)
        if (py >= 0 && py < h && px >= 0 && px < w)
          std::copy(colour.begin(), colour.end(), canvas.data() + (py * w + px) * 3);
  }
}

inline int text_width(const std::string& text) {
  std::string buffer = text;
  return stb_easy_font_width(buffer.data());
}

}  // namespace detail

/// image (H, W, 3) RGB and its masks -> (h, w, 3): the image, each mask tinted 50 % and
/// outlined in its colour, and a legend below it (one line per mask; none without masks).
/// `title` opens the legend (the prompt) when not empty.
inline Tensor<std::uint8_t> render_overlay(const Tensor<std::uint8_t>& image,
                                           const std::vector<OverlayItem>& items,
                                           const std::string& title = {}) {
  PSALM_CHECK(image.rank() == 3 && image.size(2) == 3, "overlay: expected an (H, W, 3) image");
  const Tensor<std::uint8_t> src = image.contiguous();
  const std::int64_t h = src.size(0), w = src.size(1);
  const int scale = static_cast<int>(std::clamp<std::int64_t>(std::max(h, w) / 400, 1, 4));
  const std::int64_t line = 12 * scale, pad = 4 * scale, swatch = 9 * scale;
  std::vector<std::string> lines;
  if (!title.empty()) lines.push_back(title);
  for (const OverlayItem& it : items) lines.push_back(it.text);
  std::int64_t legend_w = 0;
  for (std::size_t i = 0; i < lines.size(); ++i)
    legend_w =
        std::max<std::int64_t>(legend_w, pad + (i == 0 && !title.empty() ? 0 : swatch + pad) +
                                             detail::text_width(lines[i]) * scale + pad);
  const std::int64_t legend_h =
      lines.empty() ? 0 : pad + static_cast<std::int64_t>(lines.size()) * line + pad;
  const std::int64_t cw = std::max(w, legend_w), ch = h + legend_h;
  Tensor<std::uint8_t> canvas = Tensor<std::uint8_t>::full(Shape{ch, cw, 3}, 40);  // (h, w, 3)
  for (std::int64_t y = 0; y < h; ++y)
    std::copy_n(src.data() + y * w * 3, w * 3, canvas.data() + y * cw * 3);
  for (std::size_t k = 0; k < items.size(); ++k) {
    const Tensor<std::uint8_t>& m = *items[k].mask;
    PSALM_CHECK(m.rank() == 2 && m.size(0) == h && m.size(1) == w, "overlay: mask ", k, " is ",
                m.shape(), ", the image (", h, ", ", w, ")");
    const Tensor<std::uint8_t> mc = m.contiguous();
    const std::uint8_t* p = mc.data();
    const auto colour = overlay_colour(k);
    auto inside = [&](std::int64_t y, std::int64_t x) {
      return y >= 0 && y < h && x >= 0 && x < w && p[y * w + x] != 0;
    };
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) {
        if (!inside(y, x)) continue;
        std::uint8_t* o = canvas.data() + (y * cw + x) * 3;
        bool edge = false;
        for (std::int64_t d = 1; d <= scale && !edge; ++d)
          edge = !inside(y - d, x) || !inside(y + d, x) || !inside(y, x - d) || !inside(y, x + d);
        for (int c = 0; c < 3; ++c)
          o[c] = edge ? colour[static_cast<std::size_t>(c)]
                      : static_cast<std::uint8_t>((o[c] + colour[static_cast<std::size_t>(c)]) / 2);
      }
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::int64_t y = h + pad + static_cast<std::int64_t>(i) * line;
    std::int64_t x = pad;
    const bool is_title = i == 0 && !title.empty();
    if (!is_title) {
      const std::size_t k = i - (title.empty() ? 0 : 1);
      const auto colour = overlay_colour(k);
      for (std::int64_t yy = y; yy < y + swatch && yy < ch; ++yy)
        for (std::int64_t xx = x; xx < x + swatch; ++xx)
          std::copy(colour.begin(), colour.end(), canvas.data() + (yy * cw + xx) * 3);
      x += swatch + pad;
    }
    detail::draw_text(canvas, x, y, lines[i], {235, 235, 235}, scale);
  }
  return canvas;
}

}  // namespace psalm::cli
