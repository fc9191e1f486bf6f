// psalm/data/synthetic/geometry.hpp — a thing of the scene graph (shape, colour, size, pattern,
// pose) and the exact point-in-shape test the rasteriser and the tests share the definition of:
// a pixel (x, y) belongs to an object when its centre (x + 0.5, y + 0.5) is inside the shape.
// Depends on: vocabulary. Test: tests/data/test_synthetic_scene.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "psalm/data/synthetic/vocabulary.hpp"

namespace psalm::data::synthetic {

/// One thing. `id` is its instance id (1-based, stable across the frames of a video).
struct Object {
  int id = 0;
  ShapeKind kind = ShapeKind::circle;
  Colour colour = Colour::red;
  SizeClass size = SizeClass::medium;
  Pattern pattern = Pattern::solid;
  double cx = 0, cy = 0;      // centre in pixels (x right, y down)
  double radius = 1;          // the shape fits in the disc of this radius
  double rotation = 0;        // radians, counter-clockwise on screen
  double pattern_angle = 0;   // stripe direction in the object frame (radians)
  double pattern_period = 8;  // stripe / dot spacing in pixels
};

namespace detail {

inline constexpr double kPi = 3.14159265358979323846;

/// Inside a regular n-gon of circumradius 1 with a vertex pointing up (v < 0 is up).
inline bool in_regular_polygon(double u, double v, int n) {
  const double apothem = std::cos(kPi / n);
  for (int k = 0; k < n; ++k) {
    const double a = -kPi / 2 + kPi / n + 2 * kPi * k / n;  // edge normal angles
    if (u * std::cos(a) + v * std::sin(a) > apothem) return false;
  }
  return true;
}

/// Inside a five-pointed star (outer radius 1, inner 0.45), first point up.
inline bool in_star(double u, double v) {
  const double r = std::sqrt(u * u + v * v);
  if (r > 1.0) return false;
  if (r < 0.45 * std::cos(kPi / 5)) return true;
  // Fold the angle into one point's half sector and test against the edge outer -> inner.
  double a = std::atan2(u, -v);  // 0 at the top, clockwise positive
  const double sector = 2 * kPi / 5;
  a = std::fmod(std::fabs(a), sector);
  if (a > sector / 2) a = sector - a;
  const double x = r * std::sin(a), y = r * std::cos(a);  // point in the folded frame
  const double ox = 0, oy = 1;                            // outer vertex
  const double ix = 0.45 * std::sin(sector / 2), iy = 0.45 * std::cos(sector / 2);
  // Inside when on the same side of the edge (outer -> inner) as the centre.
  const double cross = (ix - ox) * (y - oy) - (iy - oy) * (x - ox);
  const double centre = (ix - ox) * (0 - oy) - (iy - oy) * (0 - ox);
  return (cross > 0) == (centre > 0) || cross == 0;
}

}  // namespace detail

/// Whether the point (u, v) of the unit frame (v down) is inside shape `kind`. Every shape lies
/// within the unit disc.
inline bool shape_contains(ShapeKind kind, double u, double v) {
  switch (kind) {
    case ShapeKind::circle:
      return u * u + v * v <= 1.0;
    case ShapeKind::ellipse:
      return u * u + (v * v) / 0.36 <= 1.0;
    case ShapeKind::square:
      return std::fabs(u) <= 0.7 && std::fabs(v) <= 0.7;
    case ShapeKind::diamond:
      return std::fabs(u) / 0.7 + std::fabs(v) <= 1.0;
    case ShapeKind::triangle:
      return detail::in_regular_polygon(u, v, 3);
    case ShapeKind::pentagon:
      return detail::in_regular_polygon(u, v, 5);
    case ShapeKind::hexagon:
      return detail::in_regular_polygon(u, v, 6);
    case ShapeKind::star:
      return detail::in_star(u, v);
    case ShapeKind::ring: {
      const double r2 = u * u + v * v;
      return r2 <= 1.0 && r2 >= 0.3;
    }
    case ShapeKind::cross:
      return (std::fabs(u) <= 0.3 && std::fabs(v) <= 0.9) ||
             (std::fabs(v) <= 0.3 && std::fabs(u) <= 0.9);
    case ShapeKind::heart: {
      const double x = 1.35 * u, y = 0.12 - 1.35 * v;  // y up
      const double q = x * x + y * y - 1.0;
      return q * q * q - x * x * y * y * y <= 0.0;
    }
    case ShapeKind::moon: {
      const double du = u - 0.45, dv = v + 0.15;
      return u * u + v * v <= 1.0 && du * du + dv * dv > 0.6;
    }
  }
  return false;
}

/// The object frame coordinates (u, v) of the image point (x, y).
inline std::array<double, 2> to_object_frame(const Object& o, double x, double y) {
  const double c = std::cos(o.rotation), s = std::sin(o.rotation);
  const double dx = x - o.cx, dy = y - o.cy;
  return {(c * dx - s * dy) / o.radius, (s * dx + c * dy) / o.radius};
}

/// Whether pixel (x, y) (integer column and row) is covered by the full, unoccluded object.
inline bool object_covers_pixel(const Object& o, std::int64_t x, std::int64_t y) {
  const auto [u, v] =
      to_object_frame(o, static_cast<double>(x) + 0.5, static_cast<double>(y) + 0.5);
  if (u * u + v * v > 1.0) return false;
  return shape_contains(o.kind, u, v);
}

/// The pixel rectangle [x0, x1) x [y0, y1) that holds every pixel the object may cover,
/// clipped to a height x width image (empty when the object is outside).
struct PixelBox {
  std::int64_t x0, y0, x1, y1;
};
inline PixelBox object_pixel_box(const Object& o, std::int64_t height, std::int64_t width) {
  const auto clampi = [](double v, std::int64_t hi) {
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(v)), 0, hi);
  };
  PixelBox b{clampi(o.cx - o.radius - 1, width), clampi(o.cy - o.radius - 1, height),
             clampi(o.cx + o.radius + 2, width), clampi(o.cy + o.radius + 2, height)};
  return b;
}

}  // namespace psalm::data::synthetic
