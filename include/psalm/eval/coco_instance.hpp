// psalm/eval/coco_instance.hpp — COCO instance-segmentation AP: pycocotools COCOeval with
// iouType 'segm' (evaluate, accumulate, summarize), reproduced rule for rule on RLE masks.
// Depends on: core/error, io/rle, eval/mask_view, nlohmann-json.
// Test: tests/eval/test_coco_instance.cpp (pycocotools fixtures in tests/fixtures/coco_eval/).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"
#include "psalm/io/rle.hpp"

namespace psalm::eval {

/// The protocol of COCOeval 'segm' (its `Params` with iouType 'segm', useCats = 1).
struct CocoInstanceParams {
  std::vector<double> iou_thresholds;     // T = 10: .50:.05:.95, as np.linspace makes them
  std::vector<double> recall_thresholds;  // R = 101: 0:.01:1, as np.linspace makes them
  std::vector<int> max_dets{1, 10, 100};  // M = 3
  std::vector<std::array<double, 2>> area_ranges{
      {0, 1e10}, {0, 32.0 * 32}, {32.0 * 32, 96.0 * 96}, {96.0 * 96, 1e10}};  // A = 4
  std::vector<std::string> area_labels{"all", "small", "medium", "large"};

  CocoInstanceParams() {
    iou_thresholds = linspace(0.5, 0.95, 10);
    recall_thresholds = linspace(0.0, 1.0, 101);
  }

  /// np.linspace(start, stop, num): i * step + start with the last value set to stop. The
  /// volatile product keeps the compiler from fusing it into an FMA, which rounds differently
  /// and would move recall thresholds such as 0.03 across tp / npig values.
  static std::vector<double> linspace(double start, double stop, int num) {
    std::vector<double> out(static_cast<std::size_t>(num));
    const double step = (stop - start) / (num - 1);
    for (int i = 0; i < num; ++i) {
      volatile double product = i * step;
      out[i] = product + start;
    }
    out.back() = stop;
    return out;
  }
};

struct CocoImage {
  std::int64_t id = 0, height = 0, width = 0;
};

/// One ground-truth annotation. `area` is the annotation's own `area` field: COCOeval uses it
/// (not the mask area) to place the object in an area range.
struct CocoGtAnnotation {
  std::int64_t id = 0, image_id = 0, category_id = 0;
  bool iscrowd = false;
  double area = 0;
  io::Rle segmentation;
};

/// One detection (a results-list entry). Its area range comes from the RLE area.
struct CocoDetection {
  std::int64_t image_id = 0, category_id = 0;
  double score = 0;
  io::Rle segmentation;
};

struct CocoGroundTruth {
  std::vector<CocoImage> images;
  std::vector<std::int64_t> category_ids;
  std::vector<CocoGtAnnotation> annotations;
};

/// The outcome of evaluate + accumulate + summarize.
struct CocoInstanceResult {
  /// AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (-1 where undefined).
  std::array<double, 12> stats{};
  std::vector<std::int64_t> category_ids;  // K, sorted
  std::vector<double> precision;           // (T, R, K, A, M) row-major, -1 where undefined
  std::vector<double> recall;              // (T, K, A, M) row-major, -1 where undefined
  CocoInstanceParams params;

  double precision_at(std::size_t t, std::size_t r, std::size_t k, std::size_t a,
                      std::size_t m) const {
    const std::size_t R = params.recall_thresholds.size(), K = category_ids.size(),
                      A = params.area_ranges.size(), M = params.max_dets.size();
    return precision[(((t * R + r) * K + k) * A + a) * M + m];
  }
  double recall_at(std::size_t t, std::size_t k, std::size_t a, std::size_t m) const {
    const std::size_t K = category_ids.size(), A = params.area_ranges.size(),
                      M = params.max_dets.size();
    return recall[((t * K + k) * A + a) * M + m];
  }
  std::string to_string() const;
};

namespace detail {

inline const nlohmann::json& coco_field(const nlohmann::json& j, const char* key, const char* what,
                                        std::size_t index) {
  PSALM_CHECK(j.is_object() && j.contains(key), "coco: ", what, " ", index, " has no `", key, "`");
  return j[key];
}

inline std::int64_t coco_int(const nlohmann::json& j, const char* key, const char* what,
                             std::size_t index) {
  const auto& v = coco_field(j, key, what, index);
  PSALM_CHECK(v.is_number_integer() || v.is_boolean(), "coco: ", what, " ", index, " field `", key,
              "` is not an integer: ", v.dump());
  PSALM_CHECK(!v.is_number_unsigned() ||
                  v.get<std::uint64_t>() <=
                      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
              "coco: ", what, " ", index, " field `", key, "` = ", v.dump(),
              " is out of the int64 range");
  return v.is_boolean() ? std::int64_t{v.get<bool>()} : v.get<std::int64_t>();
}

inline double coco_number(const nlohmann::json& j, const char* key, const char* what,
                          std::size_t index) {
  const auto& v = coco_field(j, key, what, index);
  PSALM_CHECK(v.is_number(), "coco: ", what, " ", index, " field `", key,
              "` is not a number: ", v.dump());
  const double x = v.get<double>();
  PSALM_CHECK(std::isfinite(x), "coco: ", what, " ", index, " field `", key, "` is not finite");
  return x;
}

/// A `segmentation` field as COCO's annToRLE reads it: a list of polygons (rasterised at the
/// image size and merged), an uncompressed or a compressed RLE (at its own `size`).
inline io::Rle coco_segmentation(const nlohmann::json& seg, const CocoImage& image,
                                 std::size_t index) {
  if (seg.is_array()) {
    std::vector<std::vector<double>> polygons;
    for (const auto& poly : seg) {
      PSALM_CHECK(poly.is_array(), "coco: annotation ", index, " polygon is not a list");
      for (const auto& v : poly)
        PSALM_CHECK(v.is_number(), "coco: annotation ", index, " polygon has a non-number");
      polygons.push_back(poly.get<std::vector<double>>());
    }
    // pycocotools' frPyObjects reads a first entry of 4 numbers as boxes (and 2.0.11 then
    // fails with a TypeError); a polygon of 2 points has no area anyway: reject it.
    PSALM_CHECK(!polygons.empty() && polygons.front().size() > 4, "coco: annotation ", index,
                " needs polygons of at least 3 points");
    return io::rle_from_polygons(polygons, image.height, image.width);
  }
  return io::rle_from_json(seg);
}

}  // namespace detail

/// Reads a COCO ground-truth dict (`images`, `annotations`, `categories`). Annotations of
/// categories not listed are kept (COCOeval ignores them); image ids and annotation ids must
/// be unique, and every annotation must name a listed image.
inline CocoGroundTruth coco_ground_truth_from_json(const nlohmann::json& gt) {
  PSALM_CHECK(gt.is_object(), "coco gt: expected a JSON object");
  for (const char* key : {"images", "annotations", "categories"})
    PSALM_CHECK(gt.contains(key) && gt[key].is_array(), "coco gt: `", key, "` must be a list");
  CocoGroundTruth out;
  std::map<std::int64_t, std::size_t> image_index;
  for (std::size_t i = 0; i < gt["images"].size(); ++i) {
    const auto& im = gt["images"][i];
    CocoImage image{detail::coco_int(im, "id", "image", i),
                    detail::coco_int(im, "height", "image", i),
                    detail::coco_int(im, "width", "image", i)};
    PSALM_CHECK(image.height >= 0 && image.width >= 0, "coco gt: image ", image.id,
                " has negative size");
    PSALM_CHECK(image_index.emplace(image.id, out.images.size()).second,
                "coco gt: duplicate image id ", image.id);
    out.images.push_back(image);
  }
  std::set<std::int64_t> cats;
  for (std::size_t i = 0; i < gt["categories"].size(); ++i) {
    const std::int64_t id = detail::coco_int(gt["categories"][i], "id", "category", i);
    PSALM_CHECK(cats.insert(id).second, "coco gt: duplicate category id ", id);
    out.category_ids.push_back(id);
  }
  std::set<std::int64_t> ann_ids;
  for (std::size_t i = 0; i < gt["annotations"].size(); ++i) {
    const auto& a = gt["annotations"][i];
    CocoGtAnnotation ann;
    ann.id = detail::coco_int(a, "id", "annotation", i);
    PSALM_CHECK(ann_ids.insert(ann.id).second, "coco gt: duplicate annotation id ", ann.id);
    ann.image_id = detail::coco_int(a, "image_id", "annotation", i);
    ann.category_id = detail::coco_int(a, "category_id", "annotation", i);
    ann.iscrowd = a.contains("iscrowd") && detail::coco_int(a, "iscrowd", "annotation", i) != 0;
    ann.area = detail::coco_number(a, "area", "annotation", i);
    const auto it = image_index.find(ann.image_id);
    PSALM_CHECK(it != image_index.end(), "coco gt: annotation ", ann.id, " names unknown image ",
                ann.image_id);
    ann.segmentation = detail::coco_segmentation(
        detail::coco_field(a, "segmentation", "annotation", i), out.images[it->second], i);
    out.annotations.push_back(std::move(ann));
  }
  return out;
}

/// Reads a results list: {image_id, category_id, segmentation (RLE, string or list), score}.
inline std::vector<CocoDetection> coco_detections_from_json(const nlohmann::json& results) {
  PSALM_CHECK(results.is_array(), "coco results: expected a JSON list");
  std::vector<CocoDetection> out;
  out.reserve(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    CocoDetection d;
    d.image_id = detail::coco_int(r, "image_id", "result", i);
    d.category_id = detail::coco_int(r, "category_id", "result", i);
    d.score = detail::coco_number(r, "score", "result", i);
    d.segmentation = io::rle_from_json(detail::coco_field(r, "segmentation", "result", i));
    out.push_back(std::move(d));
  }
  return out;
}

/// A binary mask as a detection's RLE.
inline io::Rle rle_from_mask(const MaskView& mask) {
  check_view(mask, "rle_from_mask");
  return io::rle_encode(mask.data, mask.height, mask.width);
}

/// The protocol in words: thresholds, ranges and matching rules.
inline std::string describe_protocol(const CocoInstanceParams& p) {
  std::ostringstream out;
  out << "COCO instance segmentation AP (pycocotools COCOeval, iouType='segm', useCats=1)\n"
      << "  IoU thresholds: " << p.iou_thresholds.front() << ":0.05:" << p.iou_thresholds.back()
      << " (" << p.iou_thresholds.size() << "); recall thresholds: " << p.recall_thresholds.size()
      << " points 0:0.01:1\n  maxDets:";
  for (int m : p.max_dets) out << ' ' << m;
  out << "; area ranges:";
  for (std::size_t a = 0; a < p.area_ranges.size(); ++a)
    out << ' ' << p.area_labels[a] << " [" << p.area_ranges[a][0] << ", " << p.area_ranges[a][1]
        << "]";
  out << "\n  gt area = annotation `area` field; detection area = mask area; ranges inclusive\n"
      << "  per image and category: detections by score (stable), best unmatched gt above the\n"
      << "  threshold wins, non-ignored gt before ignored (crowd or out of range); crowd gt can\n"
      << "  match many detections with IoU = intersection / detection area; unmatched detections\n"
      << "  outside the area range are ignored; precision made monotone, sampled at the recall\n"
      << "  thresholds (searchsorted left); means over defined (> -1) entries, -1 if none\n";
  return out.str();
}

namespace detail {

/// evaluateImg's output for one (category, area range, image) with detections cut at maxDet.
struct CocoImageEval {
  std::vector<double> scores;       // D, sorted by score (stable)
  std::vector<std::int64_t> dt_gt;  // (T, D): id of the matched gt, 0 = none (as pycocotools)
  std::vector<bool> dt_ignore;      // (T, D)
  std::size_t non_ignored_gt = 0;
};

}  // namespace detail

/// Runs COCOeval 'segm': evaluate, accumulate, summarize. Detections of categories not in the
/// ground truth are dropped (as COCOeval does); a detection on an unknown image is an error
/// (pycocotools asserts); detection and gt masks must match the image size.
inline CocoInstanceResult evaluate_coco_instance(const CocoGroundTruth& gt,
                                                 const std::vector<CocoDetection>& dts,
                                                 const CocoInstanceParams& params = {}) {
  const auto& p = params;
  PSALM_CHECK(!p.max_dets.empty() && std::is_sorted(p.max_dets.begin(), p.max_dets.end()) &&
                  p.max_dets.front() > 0,
              "coco eval: maxDets must be positive and ascending");
  PSALM_CHECK(p.area_labels.size() == p.area_ranges.size(), "coco eval: ", p.area_ranges.size(),
              " area ranges but ", p.area_labels.size(), " labels");
  CocoInstanceResult result;
  result.params = p;
  std::vector<std::int64_t> image_ids;
  for (const auto& im : gt.images) image_ids.push_back(im.id);
  std::sort(image_ids.begin(), image_ids.end());
  result.category_ids = gt.category_ids;
  std::sort(result.category_ids.begin(), result.category_ids.end());
  std::map<std::int64_t, std::size_t> img_pos, cat_pos;
  for (std::size_t i = 0; i < image_ids.size(); ++i) img_pos[image_ids[i]] = i;
  for (std::size_t k = 0; k < result.category_ids.size(); ++k) cat_pos[result.category_ids[k]] = k;
  const std::size_t I = image_ids.size(), K = result.category_ids.size(), A = p.area_ranges.size(),
                    M = p.max_dets.size(), T = p.iou_thresholds.size(),
                    R = p.recall_thresholds.size();
  const std::size_t max_det = static_cast<std::size_t>(p.max_dets.back());

  // _prepare: group by (category, image) in input order.
  std::vector<std::vector<const CocoGtAnnotation*>> gts(K * I);
  std::vector<std::vector<const CocoDetection*>> dets(K * I);
  std::map<std::int64_t, const CocoImage*> images;
  for (const auto& im : gt.images) images[im.id] = &im;
  for (const auto& g : gt.annotations) {
    const auto c = cat_pos.find(g.category_id);
    const auto i = img_pos.find(g.image_id);
    PSALM_CHECK(i != img_pos.end(), "coco eval: gt annotation ", g.id, " names unknown image ",
                g.image_id);
    if (c != cat_pos.end()) gts[c->second * I + i->second].push_back(&g);
  }
  for (std::size_t n = 0; n < dts.size(); ++n) {
    const auto& d = dts[n];
    const auto i = img_pos.find(d.image_id);
    PSALM_CHECK(i != img_pos.end(), "coco eval: result ", n, " names image ", d.image_id,
                " which is not in the ground truth (results do not correspond to the gt set)");
    PSALM_CHECK(!std::isnan(d.score), "coco eval: result ", n, " has a NaN score");
    const CocoImage& im = *images[d.image_id];
    PSALM_CHECK(d.segmentation.height == im.height && d.segmentation.width == im.width,
                "coco eval: result ", n, " mask is ", d.segmentation.height, " x ",
                d.segmentation.width, " but image ", im.id, " is ", im.height, " x ", im.width);
    const auto c = cat_pos.find(d.category_id);
    if (c != cat_pos.end()) dets[c->second * I + i->second].push_back(&d);
  }

  // evaluate: per (category, image) the IoUs, then evaluateImg per area range.
  std::vector<detail::CocoImageEval> evals(K * A * I);
  std::vector<bool> present(K * A * I, false);
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t i = 0; i < I; ++i) {
      const auto& g = gts[k * I + i];
      auto d = dets[k * I + i];
      if (g.empty() && d.empty()) continue;
      std::stable_sort(d.begin(), d.end(), [](const CocoDetection* x, const CocoDetection* y) {
        return -x->score < -y->score;
      });
      if (d.size() > max_det) d.resize(max_det);
      const std::size_t G = g.size(), D = d.size();
      std::vector<double> ious(D * G);  // (D, G), gt in input order
      for (std::size_t a = 0; a < D; ++a)
        for (std::size_t b = 0; b < G; ++b)
          ious[a * G + b] = io::rle_iou(d[a]->segmentation, g[b]->segmentation, g[b]->iscrowd);
      std::vector<double> dt_area(D);
      for (std::size_t a = 0; a < D; ++a)
        dt_area[a] = static_cast<double>(io::rle_area(d[a]->segmentation));
      for (std::size_t ar = 0; ar < A; ++ar) {
        const double lo = p.area_ranges[ar][0], hi = p.area_ranges[ar][1];
        std::vector<int> g_ignore(G);
        for (std::size_t b = 0; b < G; ++b)
          g_ignore[b] = (g[b]->iscrowd || g[b]->area < lo || g[b]->area > hi) ? 1 : 0;
        std::vector<std::size_t> order(G);  // gt: non-ignored first, stable
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t x, std::size_t y) { return g_ignore[x] < g_ignore[y]; });
        detail::CocoImageEval e;
        e.scores.resize(D);
        e.dt_gt.assign(T * D, 0);
        e.dt_ignore.assign(T * D, false);
        for (std::size_t a = 0; a < D; ++a) e.scores[a] = d[a]->score;
        for (std::size_t b = 0; b < G; ++b) e.non_ignored_gt += g_ignore[b] == 0;
        std::vector<std::int64_t> gt_matched(T * G, 0);  // detection id (>= 1), 0 = none
        if (D > 0 && G > 0) {
          for (std::size_t t = 0; t < T; ++t) {
            for (std::size_t a = 0; a < D; ++a) {
              double best = std::min(p.iou_thresholds[t], 1 - 1e-10);
              std::ptrdiff_t m = -1;
              for (std::size_t gi = 0; gi < G; ++gi) {
                const std::size_t b = order[gi];
                if (gt_matched[t * G + gi] > 0 && !g[b]->iscrowd) continue;
                if (m > -1 && g_ignore[order[m]] == 0 && g_ignore[b] == 1) break;
                if (ious[a * G + b] < best) continue;
                best = ious[a * G + b];
                m = static_cast<std::ptrdiff_t>(gi);
              }
              if (m == -1) continue;
              e.dt_ignore[t * D + a] = g_ignore[order[m]] != 0;
              e.dt_gt[t * D + a] = g[order[m]]->id;
              gt_matched[t * G + m] = static_cast<std::int64_t>(a) + 1;
            }
          }
        }
        // Unmatched detections outside the area range are ignored. ref: cocoeval.py tests
        // `dtm == 0`, so a match to a gt whose id is 0 counts as unmatched; kept as there.
        for (std::size_t t = 0; t < T; ++t)
          for (std::size_t a = 0; a < D; ++a)
            if (e.dt_gt[t * D + a] == 0 && (dt_area[a] < lo || dt_area[a] > hi))
              e.dt_ignore[t * D + a] = true;
        const std::size_t slot = (k * A + ar) * I + i;
        evals[slot] = std::move(e);
        present[slot] = true;
      }
    }
  }

  // accumulate
  result.precision.assign(T * R * K * A * M, -1.0);
  result.recall.assign(T * K * A * M, -1.0);
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t ar = 0; ar < A; ++ar) {
      for (std::size_t mi = 0; mi < M; ++mi) {
        const auto cut = static_cast<std::size_t>(p.max_dets[mi]);
        std::vector<double> scores;
        std::vector<std::pair<std::size_t, std::size_t>> refs;  // (slot, detection)
        std::size_t npig = 0;
        bool any = false;
        for (std::size_t i = 0; i < I; ++i) {
          const std::size_t slot = (k * A + ar) * I + i;
          if (!present[slot]) continue;
          any = true;
          const auto& e = evals[slot];
          for (std::size_t a = 0; a < std::min(cut, e.scores.size()); ++a) {
            scores.push_back(e.scores[a]);
            refs.emplace_back(slot, a);
          }
          npig += e.non_ignored_gt;
        }
        if (!any || npig == 0) continue;
        std::vector<std::size_t> order(scores.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t x, std::size_t y) { return -scores[x] < -scores[y]; });
        const std::size_t nd = order.size();
        for (std::size_t t = 0; t < T; ++t) {
          std::vector<double> rc(nd), pr(nd);
          double tp = 0, fp = 0;
          for (std::size_t j = 0; j < nd; ++j) {
            const auto [slot, a] = refs[order[j]];
            const auto& e = evals[slot];
            const std::size_t D = e.scores.size();
            const bool matched = e.dt_gt[t * D + a] != 0, ignored = e.dt_ignore[t * D + a];
            if (matched && !ignored) tp += 1;
            if (!matched && !ignored) fp += 1;
            rc[j] = tp / static_cast<double>(npig);
            pr[j] = tp / (fp + tp + 2.220446049250313e-16);  // np.spacing(1)
          }
          result.recall[((t * K + k) * A + ar) * M + mi] = nd ? rc.back() : 0.0;
          for (std::size_t j = nd; j-- > 1;)
            if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
          for (std::size_t r = 0; r < R; ++r) {
            const auto pos = static_cast<std::size_t>(
                std::lower_bound(rc.begin(), rc.end(), p.recall_thresholds[r]) - rc.begin());
            // ref: cocoeval.py stops filling at the first threshold beyond the last recall
            double q = 0;
            if (pos < nd) {
              q = pr[pos];
            } else {
              for (std::size_t rr = r; rr < R; ++rr)
                result.precision[(((t * R + rr) * K + k) * A + ar) * M + mi] = 0.0;
              break;
            }
            result.precision[(((t * R + r) * K + k) * A + ar) * M + mi] = q;
          }
        }
      }
    }
  }

  // summarize
  auto find_index = [](const auto& values, const auto& wanted) -> std::ptrdiff_t {
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i] == wanted) return static_cast<std::ptrdiff_t>(i);
    return -1;
  };
  auto summarize = [&](bool ap, double iou_thr, const char* area, int max_dets) {
    const auto a = find_index(p.area_labels, std::string(area));
    const auto m = find_index(p.max_dets, max_dets);
    if (a < 0 || m < 0) return -1.0;
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t t = 0; t < T; ++t) {
      if (iou_thr >= 0 && p.iou_thresholds[t] != iou_thr) continue;  // exact, as np.where
      for (std::size_t k = 0; k < K; ++k) {
        if (ap) {
          for (std::size_t r = 0; r < R; ++r) {
            const double v = result.precision[(((t * R + r) * K + k) * A + a) * M + m];
            if (v > -1) sum += v, ++n;
          }
        } else {
          const double v = result.recall[((t * K + k) * A + a) * M + m];
          if (v > -1) sum += v, ++n;
        }
      }
    }
    return n == 0 ? -1.0 : sum / static_cast<double>(n);
  };
  const int last = p.max_dets.back();
  const int m0 = p.max_dets[0], m1 = p.max_dets.size() > 1 ? p.max_dets[1] : -1;
  result.stats = {summarize(true, -1, "all", last),     summarize(true, 0.5, "all", last),
                  summarize(true, 0.75, "all", last),   summarize(true, -1, "small", last),
                  summarize(true, -1, "medium", last),  summarize(true, -1, "large", last),
                  summarize(false, -1, "all", m0),      summarize(false, -1, "all", m1),
                  summarize(false, -1, "all", last),    summarize(false, -1, "small", last),
                  summarize(false, -1, "medium", last), summarize(false, -1, "large", last)};
  return result;
}

/// Convenience: ground truth and results straight from their JSON.
inline CocoInstanceResult evaluate_coco_instance(const nlohmann::json& gt,
                                                 const nlohmann::json& results,
                                                 const CocoInstanceParams& params = {}) {
  return evaluate_coco_instance(coco_ground_truth_from_json(gt), coco_detections_from_json(results),
                                params);
}

inline std::string CocoInstanceResult::to_string() const {
  // The rows of pycocotools' summarize(), in its order and wording, in percent as the other
  // evaluators print (summarize prints fractions).
  struct Row {
    const char* kind;
    const char* iou;
    const char* area;
    int max_dets;
  };
  const int last = params.max_dets.back(), m0 = params.max_dets.front(),
            m1 = params.max_dets.size() > 1 ? params.max_dets[1] : -1;
  const Row rows[12] = {{"AP", "0.50:0.95", "all", last},    {"AP", "0.50", "all", last},
                        {"AP", "0.75", "all", last},         {"AP", "0.50:0.95", "small", last},
                        {"AP", "0.50:0.95", "medium", last}, {"AP", "0.50:0.95", "large", last},
                        {"AR", "0.50:0.95", "all", m0},      {"AR", "0.50:0.95", "all", m1},
                        {"AR", "0.50:0.95", "all", last},    {"AR", "0.50:0.95", "small", last},
                        {"AR", "0.50:0.95", "medium", last}, {"AR", "0.50:0.95", "large", last}};
  std::ostringstream out;
  out << describe_protocol(params);
  out << "  values in percent (pycocotools prints fractions); -1 = no ground truth in that range\n";
  out.setf(std::ios::fixed);
  out.precision(3);
  for (int i = 0; i < 12; ++i) {
    out << "  " << rows[i].kind << " @[IoU=" << rows[i].iou << " | area=" << rows[i].area
        << " | maxDets=" << rows[i].max_dets << "] = ";
    if (stats[i] < 0)
      out << "-1\n";
    else
      out << 100.0 * stats[i] << '\n';
  }
  return out.str();
}

}  // namespace psalm::eval
