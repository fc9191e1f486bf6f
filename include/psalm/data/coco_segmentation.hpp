// psalm/data/coco_segmentation.hpp — a COCO `segmentation` field (a list of polygons, an
// uncompressed RLE with a list of counts, or a compressed RLE string) read from an annotation
// entry, and its mask at the image size as pycocotools' annToRLE / annToMask make it (polygons
// rasterised and merged). Host code. Depends on: io/rle, data/annotation_json.
// Test: tests/data/test_coco_instances.cpp (against pycocotools fixtures).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/annotation_json.hpp"
#include "psalm/io/rle.hpp"

namespace psalm::data {

/// Polygon coordinates beyond this magnitude (pixels) are malformed.
inline constexpr double kMaxPolygonCoordinate = 1.0e6;
/// The most boundary steps the rasteriser may walk for one annotation (pycocotools walks each
/// edge at 5x resolution): bounds the work of a polygon far outside its image.
inline constexpr std::int64_t kMaxPolygonWalk = std::int64_t{1} << 24;

/// One `segmentation` field as written: polygons, or an RLE (counts as a list or a string).
struct Segmentation {
  std::vector<std::vector<double>> polygons;  ///< [x0, y0, x1, y1, ...] each, pixel coordinates
  std::optional<io::Rle> rle;                 ///< when the field is an RLE object

  bool is_rle() const { return rle.has_value(); }
};

/// Reads the segmentation under `key` of `entry`: a list of polygons (each a list of finite
/// numbers of magnitude <= kMaxPolygonCoordinate) or an RLE object (`size` [h, w] and
/// `counts`, string or list, whose runs cover exactly h * w pixels). Errors name the field.
inline Segmentation parse_segmentation(const JsonEntry& entry, std::string_view key) {
  const nlohmann::json& v = entry.at(key);
  Segmentation out;
  if (v.is_array()) {
    out.polygons.reserve(v.size());
    for (std::size_t p = 0; p < v.size(); ++p) {
      const nlohmann::json& poly = v[p];
      if (!poly.is_array())
        entry.fail_field(key, "polygon ", p, " must be a list of numbers, got ",
                         detail::json_kind(poly));
      std::vector<double> xy;
      xy.reserve(poly.size());
      for (std::size_t i = 0; i < poly.size(); ++i) {
        if (!poly[i].is_number())
          entry.fail_field(key, "polygon ", p, " coordinate ", i, " must be a number, got ",
                           detail::json_kind(poly[i]));
        const double c = poly[i].get<double>();
        if (!std::isfinite(c) || std::fabs(c) > kMaxPolygonCoordinate)
          entry.fail_field(key, "polygon ", p, " coordinate ", i, " = ", c,
                           " is not finite or beyond ", kMaxPolygonCoordinate);
        xy.push_back(c);
      }
      out.polygons.push_back(std::move(xy));
    }
    return out;
  }
  if (!v.is_object())
    entry.fail_field(key, "must be a list of polygons or an RLE object, got ",
                     detail::json_kind(v));
  try {
    out.rle = io::rle_from_json(v);
  } catch (const Error& e) {
    entry.fail_field(key, "is not a valid RLE: ", e.what());
  }
  return out;
}

/// The polygons detectron2's load_coco_json keeps: an even number of coordinates, at least 3
/// points. ref: detectron2/data/datasets/coco.py (load_coco_json, "valid polygons").
inline std::vector<std::vector<double>> valid_polygons(const Segmentation& s) {
  std::vector<std::vector<double>> out;
  for (const auto& p : s.polygons)
    if (p.size() % 2 == 0 && p.size() >= 6) out.push_back(p);
  return out;
}

/// The mask of `s` at the image size (height, width) as an RLE: an RLE must have exactly that
/// size; polygons are rasterised and merged as pycocotools' frPyObjects + merge. Polygons with
/// fewer than 3 points or an odd number of coordinates are dropped (detectron2's rule);
/// nullopt when none is left. Errors name `context` ("file: entry") and `key`.
inline std::optional<io::Rle> segmentation_rle(const Segmentation& s, std::int64_t height,
                                               std::int64_t width, std::string_view context,
                                               std::string_view key) {
  if (s.rle) {
    PSALM_CHECK(s.rle->height == height && s.rle->width == width, context, ": field \"", key,
                "\" has size [", s.rle->height, ", ", s.rle->width, "] but the image is ", height,
                " x ", width);
    return s.rle;
  }
  const std::vector<std::vector<double>> polygons = valid_polygons(s);
  if (polygons.empty()) return std::nullopt;
  std::int64_t walk = 0;  // boundary steps at pycocotools' 5x resolution
  for (const auto& p : polygons) {
    const std::size_t k = p.size() / 2;
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t n = (j + 1) % k;
      const double dx = std::fabs(p[2 * n] - p[2 * j]), dy = std::fabs(p[2 * n + 1] - p[2 * j + 1]);
      walk += static_cast<std::int64_t>(5.0 * std::max(dx, dy)) + 2;
    }
    PSALM_CHECK(walk <= kMaxPolygonWalk, context, ": field \"", key,
                "\" polygons are too long to rasterise (outline beyond ", kMaxPolygonWalk / 5,
                " pixels: coordinates far outside the ", height, " x ", width, " image?)");
  }
  try {
    return io::rle_from_polygons(polygons, height, width);
  } catch (const Error& e) {
    fail(context, ": field \"", key, "\" cannot be rasterised: ", e.what());
  }
}

}  // namespace psalm::data
