// psalm/io/rle.hpp — COCO run-length encoding (RLE) of binary masks, bit-compatible with
// pycocotools: encode / decode, the compressed `counts` string and the uncompressed list, area,
// bounding box, IoU with the crowd rule, polygon and box rasterisation, union / intersection.
// Depends on: core/error, nlohmann-json. Test: tests/io/test_rle.cpp (pycocotools fixtures).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"

namespace psalm::io {

/// A binary mask of height x width as COCO runs: the pixels are scanned in column-major
/// (Fortran) order and `counts` alternates runs of 0 and 1, starting with 0 (possibly empty).
struct Rle {
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::vector<std::uint32_t> counts;

  friend bool operator==(const Rle&, const Rle&) = default;
};

/// The most pixels an RLE may cover: pycocotools stores counts and positions as uint32.
inline constexpr std::int64_t kMaxRlePixels = std::numeric_limits<std::uint32_t>::max();

namespace detail {

inline std::int64_t rle_pixels(std::int64_t height, std::int64_t width) {
  PSALM_CHECK(height >= 0 && width >= 0, "rle: negative size ", height, " x ", width);
  PSALM_CHECK(width == 0 || height <= kMaxRlePixels / width, "rle: ", height, " x ", width,
              " pixels exceed the uint32 range of COCO RLE");
  return height * width;
}

}  // namespace detail

/// Throws psalm::Error unless the runs of `rle` cover exactly height * width pixels.
inline void rle_validate(const Rle& rle) {
  const std::int64_t pixels = detail::rle_pixels(rle.height, rle.width);
  std::int64_t sum = 0;
  for (const std::uint32_t c : rle.counts) sum += c;  // at most 2^32 runs of < 2^32: no overflow
  PSALM_CHECK(sum == pixels, "rle: counts sum to ", sum, " but the mask has ", rle.height, " x ",
              rle.width, " = ", pixels, " pixels");
}

/// Encodes a row-major height x width mask (nonzero = foreground) as runs in column-major order.
/// ref: pycocotools common/maskApi.c rleEncode (an empty mask gives counts [h*w], or [0] for 0x0).
inline Rle rle_encode(const std::uint8_t* mask, std::int64_t height, std::int64_t width) {
  const std::int64_t pixels = detail::rle_pixels(height, width);
  PSALM_CHECK(mask != nullptr || pixels == 0, "rle_encode: null mask of ", height, " x ", width);
  Rle rle{height, width, {}};
  bool value = false;
  std::uint32_t run = 0;
  for (std::int64_t x = 0; x < width; ++x) {
    for (std::int64_t y = 0; y < height; ++y) {
      const bool pixel = mask[y * width + x] != 0;
      if (pixel != value) {
        rle.counts.push_back(run);
        run = 0;
        value = pixel;
      }
      ++run;
    }
  }
  rle.counts.push_back(run);
  return rle;
}

/// Writes the mask of `rle` into `mask`, row-major height x width, as 0 / 1 bytes.
inline void rle_decode_into(const Rle& rle, std::uint8_t* mask) {
  rle_validate(rle);
  const std::int64_t h = rle.height, w = rle.width;
  std::fill(mask, mask + h * w, std::uint8_t{0});
  std::int64_t t = 0;  // column-major position
  for (std::size_t i = 0; i < rle.counts.size(); ++i) {
    const std::int64_t end = t + rle.counts[i];
    if (i % 2 == 1) {
      for (std::int64_t p = t; p < end; ++p) mask[(p % h) * w + p / h] = 1;
    }
    t = end;
  }
}

/// The row-major height x width mask of `rle` (0 / 1 bytes).
inline std::vector<std::uint8_t> rle_decode(const Rle& rle) {
  rle_validate(rle);
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(rle.height * rle.width));
  rle_decode_into(rle, mask.data());
  return mask;
}

/// The compressed `counts` string of pycocotools: each count (minus the count two back, from the
/// fourth on) in 5-bit groups, low first, as chars 48 + group, bit 0x20 = "more groups follow".
/// ref: pycocotools common/maskApi.c rleToString (the delta starts at index 3, not 2).
inline std::string rle_to_string(const Rle& rle) {
  std::string out;
  out.reserve(rle.counts.size() * 2);
  for (std::size_t i = 0; i < rle.counts.size(); ++i) {
    std::int64_t x = rle.counts[i];
    if (i > 2) x -= rle.counts[i - 2];
    bool more = true;
    while (more) {
      char c = static_cast<char>(x & 0x1f);
      x >>= 5;  // arithmetic shift: negative deltas end at -1
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      out.push_back(static_cast<char>(c + 48));
    }
  }
  return out;
}

/// Parses a compressed `counts` string for a height x width mask. Throws psalm::Error for chars
/// outside '0'..'o', a truncated or over-long number, a negative run, or runs that do not sum
/// to height * width. ref: pycocotools common/maskApi.c rleFrString.
inline Rle rle_from_string(std::string_view counts, std::int64_t height, std::int64_t width) {
  const std::int64_t pixels = detail::rle_pixels(height, width);
  Rle rle{height, width, {}};
  std::size_t p = 0;
  std::int64_t sum = 0;
  while (p < counts.size()) {
    std::int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      PSALM_CHECK(p < counts.size(), "rle counts string: truncated number at char ", p);
      const int c = static_cast<unsigned char>(counts[p]) - 48;
      PSALM_CHECK(c >= 0 && c < 64, "rle counts string: invalid char '", counts[p], "' at ", p);
      PSALM_CHECK(k < 7, "rle counts string: number longer than 7 chars at char ", p);
      x |= static_cast<std::int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= static_cast<std::int64_t>(-1) * (std::int64_t{1} << (5 * k));
    }
    const std::size_t m = rle.counts.size();
    if (m > 2) x += rle.counts[m - 2];
    PSALM_CHECK(x >= 0 && x <= pixels - sum, "rle counts string: run ", m, " has length ", x, " (",
                pixels - sum, " pixels left of ", height, " x ", width, ")");
    sum += x;
    rle.counts.push_back(static_cast<std::uint32_t>(x));
  }
  PSALM_CHECK(sum == pixels, "rle counts string: runs sum to ", sum, " but the mask has ", height,
              " x ", width, " = ", pixels, " pixels");
  return rle;
}

/// The number of foreground pixels. ref: pycocotools rleArea.
inline std::int64_t rle_area(const Rle& rle) {
  std::int64_t area = 0;
  for (std::size_t j = 1; j < rle.counts.size(); j += 2) area += rle.counts[j];
  return area;
}

/// The bounding box [x, y, w, h] of the foreground, all 0 for an empty mask.
/// ref: pycocotools common/maskApi.c rleToBbox (uint32 arithmetic kept as there).
inline std::array<double, 4> rle_to_bbox(const Rle& rle) {
  detail::rle_pixels(rle.height, rle.width);
  const auto h = static_cast<std::uint32_t>(rle.height);
  const auto w = static_cast<std::uint32_t>(rle.width);
  const std::size_t m = (rle.counts.size() / 2) * 2;
  if (m == 0 || h == 0) return {0, 0, 0, 0};
  std::uint32_t xs = w, ys = h, xe = 0, ye = 0, xp = 0, cc = 0;
  for (std::size_t j = 0; j < m; ++j) {
    cc += rle.counts[j];
    const std::uint32_t t = cc - static_cast<std::uint32_t>(j % 2);
    const std::uint32_t y = t % h, x = (t - y) / h;
    if (j % 2 == 0) {
      xp = x;
    } else if (xp < x) {  // the run wraps over a column: the box spans the full height
      ys = 0;
      ye = h - 1;
    }
    xs = std::min(xs, x);
    xe = std::max(xe, x);
    ys = std::min(ys, y);
    ye = std::max(ye, y);
  }
  return {double(xs), double(ys), double(xe) - double(xs) + 1, double(ye) - double(ys) + 1};
}

/// IoU of two boxes [x, y, w, h]; with `crowd`, the union is the area of `dt` (pycocotools bbIou).
inline double bbox_iou(const std::array<double, 4>& dt, const std::array<double, 4>& gt,
                       bool crowd) {
  const double w = std::fmin(dt[0] + dt[2], gt[0] + gt[2]) - std::fmax(dt[0], gt[0]);
  if (w <= 0) return 0;
  const double h = std::fmin(dt[1] + dt[3], gt[1] + gt[3]) - std::fmax(dt[1], gt[1]);
  if (h <= 0) return 0;
  const double i = w * h;
  const double u = crowd ? dt[2] * dt[3] : dt[2] * dt[3] + gt[2] * gt[3] - i;
  return i / u;
}

/// Mask IoU of a detection and a ground truth. For a crowd ground truth the union is the
/// detection's area (COCO's iscrowd rule); no overlap gives 0. Masks must have equal sizes
/// (pycocotools returns -1 there; psalm throws). ref: pycocotools common/maskApi.c rleIou.
inline double rle_iou(const Rle& dt, const Rle& gt, bool gt_is_crowd) {
  PSALM_CHECK(dt.height == gt.height && dt.width == gt.width, "rle_iou: detection is ", dt.height,
              " x ", dt.width, " but ground truth is ", gt.height, " x ", gt.width);
  if (dt.counts.empty() || gt.counts.empty()) return 0;
  if (bbox_iou(rle_to_bbox(dt), rle_to_bbox(gt), gt_is_crowd) <= 0) return 0;
  std::int64_t ca = dt.counts[0], cb = gt.counts[0], inter = 0, uni = 0;
  std::size_t a = 1, b = 1;
  bool va = false, vb = false;
  for (std::int64_t ct = 1; ct > 0;) {
    const std::int64_t c = std::min(ca, cb);
    if (va || vb) {
      uni += c;
      if (va && vb) inter += c;
    }
    ca -= c;
    if (ca == 0 && a < dt.counts.size()) {
      ca = dt.counts[a++];
      va = !va;
    }
    cb -= c;
    if (cb == 0 && b < gt.counts.size()) {
      cb = gt.counts[b++];
      vb = !vb;
    }
    ct = ca + cb;
  }
  if (inter == 0) return 0;
  if (gt_is_crowd) uni = rle_area(dt);
  return static_cast<double>(inter) / static_cast<double>(uni);
}

/// IoUs of every detection against every ground truth, row-major (dts.size(), gts.size()).
inline std::vector<double> rle_iou_matrix(const std::vector<Rle>& dts, const std::vector<Rle>& gts,
                                          const std::vector<bool>& gt_is_crowd) {
  PSALM_CHECK(gt_is_crowd.size() == gts.size(), "rle_iou_matrix: ", gts.size(),
              " ground truths but ", gt_is_crowd.size(), " crowd flags");
  std::vector<double> out(dts.size() * gts.size());
  for (std::size_t d = 0; d < dts.size(); ++d)
    for (std::size_t g = 0; g < gts.size(); ++g)
      out[d * gts.size() + g] = rle_iou(dts[d], gts[g], gt_is_crowd[g]);
  return out;
}

/// Union (or intersection) of masks of one size; an empty list gives a 0 x 0 RLE as pycocotools.
/// The result is canonical (no empty runs past the first). ref: pycocotools rleMerge.
inline Rle rle_merge(const std::vector<Rle>& rles, bool intersect = false) {
  if (rles.empty()) return Rle{};
  const Rle& first = rles.front();
  for (const Rle& r : rles) {
    PSALM_CHECK(r.height == first.height && r.width == first.width, "rle_merge: sizes ",
                first.height, " x ", first.width, " and ", r.height, " x ", r.width, " differ");
    rle_validate(r);
  }
  if (rles.size() == 1) return first;
  // Sweep all run boundaries in order, counting how many inputs are "on" in each stretch.
  struct Edge {
    std::int64_t pos;
    int delta;
  };
  std::vector<Edge> edges;
  for (const Rle& r : rles) {
    std::int64_t t = 0;
    for (std::size_t i = 0; i < r.counts.size(); ++i) {
      t += r.counts[i];
      if (i + 1 < r.counts.size()) edges.push_back({t, i % 2 == 0 ? +1 : -1});
    }
  }
  std::stable_sort(edges.begin(), edges.end(),
                   [](const Edge& x, const Edge& y) { return x.pos < y.pos; });
  const auto n = static_cast<int>(rles.size());
  const std::int64_t pixels = first.height * first.width;
  Rle out{first.height, first.width, {}};
  int on = 0;
  bool value = false;
  std::int64_t start = 0;
  for (std::size_t e = 0; e < edges.size();) {
    const std::int64_t pos = edges[e].pos;
    for (; e < edges.size() && edges[e].pos == pos; ++e) on += edges[e].delta;
    const bool v = intersect ? on == n : on > 0;
    if (v != value) {
      out.counts.push_back(static_cast<std::uint32_t>(pos - start));
      start = pos;
      value = v;
    }
  }
  out.counts.push_back(static_cast<std::uint32_t>(pixels - start));
  return out;
}

/// Rasterises one polygon [x0, y0, x1, y1, ...] (pixel coordinates, pixel centres at integers)
/// exactly as pycocotools: the outline is upsampled by 5, walked densely, and the crossings of
/// pixel columns become run boundaries. ref: pycocotools common/maskApi.c rleFrPoly.
inline Rle rle_from_polygon(const std::vector<double>& xy, std::int64_t height,
                            std::int64_t width) {
  detail::rle_pixels(height, width);
  PSALM_CHECK(height > 0 && width > 0, "rle_from_polygon: empty image ", height, " x ", width);
  PSALM_CHECK(!xy.empty() && xy.size() % 2 == 0, "rle_from_polygon: need an even, non-zero ",
              "number of coordinates, got ", xy.size());
  constexpr double kScale = 5, kLimit = 1e6;  // coordinates beyond +-1e6 px are rejected
  const std::size_t k = xy.size() / 2;
  std::vector<int> x(k + 1), y(k + 1);
  for (std::size_t j = 0; j < k; ++j) {
    PSALM_CHECK(std::isfinite(xy[2 * j]) && std::isfinite(xy[2 * j + 1]) &&
                    std::fabs(xy[2 * j]) <= kLimit && std::fabs(xy[2 * j + 1]) <= kLimit,
                "rle_from_polygon: point ", j, " (", xy[2 * j], ", ", xy[2 * j + 1],
                ") is not finite or beyond 1e6");
    x[j] = static_cast<int>(kScale * xy[2 * j] + .5);  // C truncation toward zero, as upstream
    y[j] = static_cast<int>(kScale * xy[2 * j + 1] + .5);
  }
  x[k] = x[0];
  y[k] = y[0];
  std::vector<int> u, v;  // dense boundary points in upsampled space
  for (std::size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    // A repeated vertex (dx = dy = 0) makes upstream's slope 0 / 0 = NaN and its one boundary
    // point's row (int)NaN, undefined behaviour; that point shares its column with both
    // neighbours, so no crossing ever reads it: slope 0 gives the same mask without the UB.
    const double s = dx == 0 && dy == 0 ? 0.0
                     : dx >= dy         ? static_cast<double>(ye - ys) / dx
                                        : static_cast<double>(xe - xs) / dy;
    const int steps = dx >= dy ? dx : dy;
    for (int d = 0; d <= steps; ++d) {
      const int t = flip ? steps - d : d;
      volatile double st = s * t;  // volatile: no fused multiply-add, to round as upstream
      if (dx >= dy) {
        u.push_back(t + xs);
        v.push_back(static_cast<int>(ys + st + .5));
      } else {
        v.push_back(t + ys);
        u.push_back(static_cast<int>(xs + st + .5));
      }
    }
  }
  // Points where the outline crosses a pixel column, downsampled; each toggles the mask.
  std::vector<std::int64_t> a;
  for (std::size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + .5) / kScale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > static_cast<double>(width - 1)) continue;
    double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
    yd = (yd + .5) / kScale - .5;
    if (yd < 0) {
      yd = 0;
    } else if (yd > static_cast<double>(height)) {
      yd = static_cast<double>(height);
    }
    yd = std::ceil(yd);
    a.push_back(static_cast<std::int64_t>(xd) * height + static_cast<std::int64_t>(yd));
  }
  a.push_back(height * width);
  std::sort(a.begin(), a.end());
  std::int64_t prev = 0;
  for (auto& value : a) {
    const std::int64_t t = value;
    value -= prev;
    prev = t;
  }
  // Equal positions toggle twice: drop the empty run and join its neighbours.
  Rle rle{height, width, {}};
  std::size_t j = 0;
  rle.counts.push_back(static_cast<std::uint32_t>(a[j++]));
  while (j < a.size()) {
    if (a[j] > 0) {
      rle.counts.push_back(static_cast<std::uint32_t>(a[j++]));
    } else {
      ++j;
      if (j < a.size()) rle.counts.back() += static_cast<std::uint32_t>(a[j++]);
    }
  }
  return rle;
}

/// The union of several polygons (one COCO object), as `merge(frPyObjects(polys, h, w))`.
inline Rle rle_from_polygons(const std::vector<std::vector<double>>& polygons, std::int64_t height,
                             std::int64_t width) {
  std::vector<Rle> parts;
  parts.reserve(polygons.size());
  for (const auto& poly : polygons) parts.push_back(rle_from_polygon(poly, height, width));
  PSALM_CHECK(!parts.empty(), "rle_from_polygons: no polygon");
  return rle_merge(parts);
}

/// Rasterises a box [x, y, w, h] as the polygon pycocotools' rleFrBbox builds.
inline Rle rle_from_bbox(const std::array<double, 4>& box, std::int64_t height,
                         std::int64_t width) {
  const double xs = box[0], xe = box[0] + box[2], ys = box[1], ye = box[1] + box[3];
  return rle_from_polygon({xs, ys, xs, ye, xe, ye, xe, ys}, height, width);
}

/// `{"size": [h, w], "counts": "..."}` (compressed) or with `counts` as a list (uncompressed).
inline nlohmann::json rle_to_json(const Rle& rle, bool compressed = true) {
  nlohmann::json out;
  out["size"] = {rle.height, rle.width};
  if (compressed) {
    out["counts"] = rle_to_string(rle);
  } else {
    out["counts"] = rle.counts;
  }
  return out;
}

/// Reads a COCO RLE object with `size` [h, w] and `counts` as a string or a list of runs.
/// Throws psalm::Error naming the field for anything malformed.
inline Rle rle_from_json(const nlohmann::json& j) {
  PSALM_CHECK(j.is_object(), "rle json: expected an object with size and counts, got ", j.dump());
  PSALM_CHECK(j.contains("size") && j["size"].is_array() && j["size"].size() == 2 &&
                  j["size"][0].is_number_integer() && j["size"][1].is_number_integer(),
              "rle json: `size` must be [height, width]");
  const auto h = j["size"][0].get<std::int64_t>(), w = j["size"][1].get<std::int64_t>();
  PSALM_CHECK(j.contains("counts"), "rle json: missing `counts`");
  const auto& counts = j["counts"];
  if (counts.is_string()) return rle_from_string(counts.get_ref<const std::string&>(), h, w);
  PSALM_CHECK(counts.is_array(), "rle json: `counts` must be a string or a list");
  Rle rle{h, w, {}};
  rle.counts.reserve(counts.size());
  for (const auto& c : counts) {
    PSALM_CHECK(c.is_number_integer() && c.get<std::int64_t>() >= 0 &&
                    c.get<std::int64_t>() <= kMaxRlePixels,
                "rle json: run ", rle.counts.size(), " is not a count in [0, 2^32): ", c.dump());
    rle.counts.push_back(static_cast<std::uint32_t>(c.get<std::int64_t>()));
  }
  rle_validate(rle);
  return rle;
}

}  // namespace psalm::io
