// psalm/data/synthetic/render.hpp — the rasteriser of the synthetic scenes: stuff regions with
// irregular (domain-warped Voronoi) boundaries and a texture per class, then things painted back
// to front with their fill pattern, so later objects occlude earlier ones. Per-pixel noise comes
// from psalm::CounterRng keyed by the pixel index.
// Depends on: core/rng, geometry, vocabulary. Test: tests/data/test_synthetic_scene.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "psalm/core/rng.hpp"
#include "psalm/data/synthetic/geometry.hpp"
#include "psalm/data/synthetic/vocabulary.hpp"

namespace psalm::data::synthetic {

/// The background: one region per entry of `kinds`, grown from `seeds` (pixels) under a smooth
/// random warp of amplitude `warp_amplitude` pixels on a lattice of `warp_cell` pixels.
struct StuffLayout {
  std::vector<StuffKind> kinds;
  std::vector<std::array<double, 2>> seeds;  // (x, y) per region
  double warp_amplitude = 0;
  double warp_cell = 16;
  CounterRng lattice_rng;  // draws of the warp lattice
};

namespace detail {

inline std::uint8_t clamp_u8(double v) {
  return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
}

inline double smooth(double t) { return t * t * (3 - 2 * t); }

/// Value noise in [-1, 1] on a lattice of `gx` columns, bilinear with smoothstep weights.
inline double lattice_noise(const std::vector<float>& lattice, std::int64_t gx, double x,
                            double y) {
  const auto ix = static_cast<std::int64_t>(x), iy = static_cast<std::int64_t>(y);
  const double fx = smooth(x - static_cast<double>(ix)), fy = smooth(y - static_cast<double>(iy));
  const float* row0 = lattice.data() + iy * gx + ix;
  const float* row1 = row0 + gx;
  const double top = row0[0] + (row0[1] - row0[0]) * fx;
  const double bottom = row1[0] + (row1[1] - row1[0]) * fx;
  return top + (bottom - top) * fy;
}

/// The colour of stuff class `kind` at pixel (x, y) with per-pixel noise n in [0, 1).
inline Rgb stuff_texture(StuffKind kind, std::int64_t x, std::int64_t y, std::int64_t height,
                         double n) {
  const Rgb b = kStuff[static_cast<int>(kind)].base;
  const double fx = static_cast<double>(x), fy = static_cast<double>(y);
  double shade = 0;  // added to every channel
  double scale = 1;  // multiplies every channel
  switch (kind) {
    case StuffKind::sky:
      shade = 30.0 * (1.0 - fy / static_cast<double>(height)) + (n - 0.5) * 6;
      break;
    case StuffKind::grass:
      scale = 0.8 + 0.25 * std::sin(fx * 1.9 + 2.5 * std::sin(fy * 0.11)) + 0.2 * (n - 0.5);
      break;
    case StuffKind::water:
      shade = 22.0 * std::sin(0.45 * fy + 1.8 * std::sin(0.06 * fx)) + (n - 0.5) * 10;
      break;
    case StuffKind::sand:
      shade = (n - 0.5) * 46;
      break;
    case StuffKind::wall: {
      const std::int64_t row = y / 10;
      const std::int64_t col = (x + (row % 2) * 11) / 22;
      const bool mortar = y % 10 == 0 || (x + (row % 2) * 11) % 22 == 0;
      if (mortar) return Rgb{205, 200, 190};
      shade = 14.0 * std::sin(static_cast<double>(col * 7 + row * 3)) + (n - 0.5) * 14;
      break;
    }
    case StuffKind::floor: {
      const bool dark = ((x / 28) + (y / 28)) % 2 == 1;
      scale = dark ? 0.75 : 1.0;
      shade = (n - 0.5) * 12;
      break;
    }
  }
  return Rgb{clamp_u8(b[0] * scale + shade), clamp_u8(b[1] * scale + shade),
             clamp_u8(b[2] * scale + shade)};
}

}  // namespace detail

/// The second colour of a striped or dotted object: darker for light colours, lighter for dark.
inline Rgb pattern_colour(Colour c) {
  const Rgb p = kColours[static_cast<int>(c)].rgb;
  const int lum = (p[0] * 3 + p[1] * 6 + p[2]) / 10;
  Rgb out;
  for (int k = 0; k < 3; ++k)
    out[k] =
        static_cast<std::uint8_t>(lum > 110 ? p[k] * 45 / 100 : p[k] + (255 - p[k]) * 55 / 100);
  return out;
}

/// Whether pixel (x, y) of object `o` shows the pattern colour (stripe or dot).
inline bool pattern_at(const Object& o, std::int64_t x, std::int64_t y) {
  if (o.pattern == Pattern::solid) return false;
  const auto [u, v] =
      to_object_frame(o, static_cast<double>(x) + 0.5, static_cast<double>(y) + 0.5);
  const double pu = u * o.radius / o.pattern_period, pv = v * o.radius / o.pattern_period;
  if (o.pattern == Pattern::striped) {
    const double t = pu * std::cos(o.pattern_angle) + pv * std::sin(o.pattern_angle);
    return t - std::floor(t) < 0.5;
  }
  const double du = pu - std::round(pu), dv = pv - std::round(pv);
  return du * du + dv * dv < 0.09;  // dots of radius 0.3 period
}

/// Per-pixel stuff region index (H * W, row-major) of `layout`.
inline std::vector<std::uint8_t> render_stuff_regions(const StuffLayout& layout,
                                                      std::int64_t height, std::int64_t width) {
  const double cell = layout.warp_cell;
  const std::int64_t gx = static_cast<std::int64_t>(static_cast<double>(width) / cell) + 3;
  const std::int64_t gy = static_cast<std::int64_t>(static_cast<double>(height) / cell) + 3;
  std::vector<float> lx(static_cast<std::size_t>(gx * gy)), ly(lx.size());
  for (std::size_t k = 0; k < lx.size(); ++k) {
    const Philox4x32 r = layout.lattice_rng.raw(k);
    lx[k] = static_cast<float>(r.v[0] >> 8) * (2.0f / 16777216.0f) - 1.0f;
    ly[k] = static_cast<float>(r.v[1] >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
  std::vector<std::uint8_t> regions(static_cast<std::size_t>(height * width));
  const std::size_t n = layout.seeds.size();
  for (std::int64_t y = 0; y < height; ++y) {
    for (std::int64_t x = 0; x < width; ++x) {
      const double px = static_cast<double>(x) + 0.5, py = static_cast<double>(y) + 0.5;
      const double wx =
          px + layout.warp_amplitude * detail::lattice_noise(lx, gx, px / cell, py / cell);
      const double wy =
          py + layout.warp_amplitude * detail::lattice_noise(ly, gx, px / cell, py / cell);
      std::size_t best = 0;
      double best_d = 1e300;
      for (std::size_t s = 0; s < n; ++s) {
        const double dx = wx - layout.seeds[s][0], dy = wy - layout.seeds[s][1];
        const double d = dx * dx + dy * dy;
        if (d < best_d) {
          best_d = d;
          best = s;
        }
      }
      regions[static_cast<std::size_t>(y * width + x)] = static_cast<std::uint8_t>(best);
    }
  }
  return regions;
}

/// Paints the objects (back to front) into `object_map` (H * W): each covered pixel takes the
/// object's id, so the last object covering a pixel owns it. Other pixels are left unchanged.
inline void paint_objects(const std::vector<Object>& objects, std::int64_t height,
                          std::int64_t width, std::vector<std::int32_t>& object_map) {
  for (const Object& o : objects) {
    const PixelBox b = object_pixel_box(o, height, width);
    for (std::int64_t y = b.y0; y < b.y1; ++y)
      for (std::int64_t x = b.x0; x < b.x1; ++x)
        if (object_covers_pixel(o, x, y))
          object_map[static_cast<std::size_t>(y * width + x)] = o.id;
  }
}

/// The RGB image (H * W * 3 bytes) of a scene: the stuff texture of each pixel's region, or the
/// colour (and pattern colour) of the object that owns it, each with a little per-pixel noise
/// drawn from `pixel_rng` at the pixel index. `object_of_id[id]` points into `objects`.
inline void shade_image(const StuffLayout& layout, const std::vector<std::uint8_t>& regions,
                        const std::vector<Object>& objects,
                        const std::vector<std::int32_t>& object_map, std::int64_t height,
                        std::int64_t width, const CounterRng& pixel_rng, std::uint8_t* rgb) {
  std::int32_t max_id = 0;
  for (const Object& o : objects) max_id = std::max(max_id, o.id);
  std::vector<const Object*> by_id(static_cast<std::size_t>(max_id) + 1, nullptr);
  for (const Object& o : objects) by_id[static_cast<std::size_t>(o.id)] = &o;
  for (std::int64_t y = 0; y < height; ++y) {
    for (std::int64_t x = 0; x < width; ++x) {
      const std::size_t p = static_cast<std::size_t>(y * width + x);
      const Philox4x32 r = pixel_rng.raw(p);
      const double n0 = static_cast<double>(r.v[0] >> 8) * (1.0 / 16777216.0);
      Rgb c;
      const std::int32_t id = object_map[p];
      if (id > 0) {
        const Object& o = *by_id[static_cast<std::size_t>(id)];
        c = pattern_at(o, x, y) ? pattern_colour(o.colour)
                                : kColours[static_cast<int>(o.colour)].rgb;
        const double noise = (n0 - 0.5) * 12;
        for (auto& ch : c) ch = detail::clamp_u8(ch + noise);
      } else {
        c = detail::stuff_texture(layout.kinds[regions[p]], x, y, height, n0);
      }
      rgb[3 * p] = c[0];
      rgb[3 * p + 1] = c[1];
      rgb[3 * p + 2] = c[2];
    }
  }
}

}  // namespace psalm::data::synthetic
