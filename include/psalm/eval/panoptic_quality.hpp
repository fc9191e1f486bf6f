// psalm/eval/panoptic_quality.hpp — panoptic quality (PQ = SQ x RQ) with panopticapi's
// pq_compute rules: segment-id maps (id = R + 256 G + 256^2 B, 0 = VOID) plus segments_info.
// Depends on: core/error, eval/mask_view.
// Test: tests/eval/test_panoptic_quality.cpp (fixtures from tools/reference/panoptic_fixtures.py).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"

namespace psalm::eval {

struct PanopticCategory {
  std::int64_t id = 0;
  bool isthing = false;
  std::string name;
};

/// One entry of segments_info. For ground truth, `area` is the JSON `area` field, which
/// panopticapi uses in the union (when absent psalm counts the segment's pixels).
struct PanopticSegment {
  std::int64_t id = 0;
  std::int64_t category_id = 0;
  bool iscrowd = false;
  std::optional<std::int64_t> area;
};

/// Per-category sums: IoU of matches, true / false positives, false negatives.
struct PqStat {
  double iou = 0;
  std::int64_t tp = 0, fp = 0, fn = 0;
};

struct PqScores {
  double pq = 0, sq = 0, rq = 0;
  std::int64_t n = 0;  // categories averaged (those with tp + fp + fn > 0)
};

/// A ground-truth segment whose segments_info `area` differs from its pixel count in the PNG.
/// panopticapi uses the JSON area in the IoU's union without checking it, so psalm scores it
/// the same way and reports it: an inconsistent file can push PQ above 100 %.
struct PanopticAreaMismatch {
  std::int64_t image_id = 0, segment_id = 0;
  std::int64_t json_area = 0, pixels = 0;
};

struct PanopticQualityResult {
  PqScores all, things, stuff;
  std::vector<PanopticAreaMismatch> area_mismatches;  // in the order the images were added
  std::map<std::int64_t, PqScores> per_class;         // n = 1 if the category counted, else 0
  std::map<std::int64_t, PqStat> stats;
  std::string to_string() const;
};

/// The segment id of each pixel of a row-major H x W x 3 RGB image: R + 256 G + 256^2 B.
inline std::vector<std::int32_t> rgb_to_id(const std::uint8_t* rgb, std::int64_t height,
                                           std::int64_t width) {
  PSALM_CHECK(height >= 0 && width >= 0 && (rgb != nullptr || height * width == 0),
              "rgb_to_id: bad image ", height, " x ", width);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(height * width));
  for (std::size_t i = 0; i < ids.size(); ++i)
    ids[i] = rgb[3 * i] + 256 * rgb[3 * i + 1] + 65536 * rgb[3 * i + 2];
  return ids;
}

/// The protocol in words.
inline std::string describe_panoptic_protocol() {
  return "Panoptic quality (panopticapi pq_compute rules)\n"
         "  segment id = R + 256 G + 256^2 B; id 0 = VOID\n"
         "  match: same category, gt not crowd, IoU > 0.5 with union = |pred| + |gt| - |inter| -"
         " |pred on gt VOID| (gt area from segments_info)\n"
         "  unmatched non-crowd gt = FN; unmatched pred = FP unless more than half of it lies on"
         " gt VOID or on the (last listed) crowd gt of its category\n"
         "  per category: PQ = sum IoU / (TP + FP/2 + FN/2), SQ = sum IoU / TP, RQ = TP / (TP +"
         " FP/2 + FN/2); All / Things / Stuff average over categories with TP + FP + FN > 0\n";
}

/// Accumulates PQ statistics image by image; `result()` averages them as pq_average does.
class PanopticQuality {
 public:
  explicit PanopticQuality(std::vector<PanopticCategory> categories)
      : categories_(std::move(categories)) {
    for (const auto& c : categories_) {
      PSALM_CHECK(stats_.emplace(c.id, PqStat{}).second, "panoptic: duplicate category ", c.id);
    }
  }

  /// Adds one image: gt and prediction id maps (same H x W) with their segments_info. Throws
  /// psalm::Error (panopticapi raises KeyError) for a prediction id in the map but not in
  /// pred_segments, one listed but absent from the map, or a prediction of an unknown category;
  /// also for negative ids, id 0 listed as a segment, duplicate ids or a size mismatch.
  void add_image(std::int64_t image_id, LabelView gt,
                 const std::vector<PanopticSegment>& gt_segments, LabelView pred,
                 const std::vector<PanopticSegment>& pred_segments) {
    check_view(gt, "panoptic gt");
    check_view(pred, "panoptic prediction");
    PSALM_CHECK(gt.height == pred.height && gt.width == pred.width, "panoptic: image ", image_id,
                " gt is ", gt.height, " x ", gt.width, " but prediction is ", pred.height, " x ",
                pred.width);
    const std::int64_t n = gt.height * gt.width;
    // (gt id, pred id) -> pixels, in ascending order as np.unique gives them.
    std::vector<std::uint64_t> keys(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      PSALM_CHECK(gt.data[i] >= 0 && pred.data[i] >= 0, "panoptic: image ", image_id,
                  " has a negative segment id at pixel ", i);
      keys[i] =
          (static_cast<std::uint64_t>(gt.data[i]) << 32) | static_cast<std::uint32_t>(pred.data[i]);
    }
    std::sort(keys.begin(), keys.end());
    std::vector<std::pair<std::uint64_t, std::int64_t>> pairs;  // (key, intersection)
    std::map<std::int64_t, std::int64_t> pred_area, gt_area, pred_on_void;
    for (std::size_t i = 0; i < keys.size();) {
      std::size_t j = i;
      while (j < keys.size() && keys[j] == keys[i]) ++j;
      const auto count = static_cast<std::int64_t>(j - i);
      const auto g = static_cast<std::int64_t>(keys[i] >> 32),
                 p = static_cast<std::int64_t>(keys[i] & 0xffffffffu);
      pairs.emplace_back(keys[i], count);
      pred_area[p] += count;
      gt_area[g] += count;
      if (g == kVoid) pred_on_void[p] += count;
      i = j;
    }
    const auto gt_segms = index_segments(gt_segments, image_id, "gt");
    const auto pred_segms = index_segments(pred_segments, image_id, "prediction");
    for (const auto& [label, area] : pred_area) {
      if (label == kVoid) continue;
      const auto it = pred_segms.find(label);
      PSALM_CHECK(it != pred_segms.end(), "panoptic: in the image with ID ", image_id,
                  " segment with ID ", label, " is presented in PNG and not presented in JSON");
      PSALM_CHECK(stats_.count(it->second->category_id), "panoptic: in the image with ID ",
                  image_id, " segment with ID ", label, " has unknown category_id ",
                  it->second->category_id);
    }
    for (const auto& s : pred_segments)
      PSALM_CHECK(pred_area.count(s.id), "panoptic: in the image with ID ", image_id,
                  " segment ID ", s.id, " is presented in JSON and not presented in PNG");
    for (const auto& s : gt_segments) {
      const auto it = gt_area.find(s.id);
      const std::int64_t pixels = it == gt_area.end() ? 0 : it->second;
      if (s.area && *s.area != pixels)
        area_mismatches_.push_back({image_id, s.id, *s.area, pixels});
    }
    auto gt_area_of = [&](const PanopticSegment& s) {
      if (s.area) return *s.area;
      const auto it = gt_area.find(s.id);
      return it == gt_area.end() ? std::int64_t{0} : it->second;
    };
    auto stat = [&](std::int64_t category) -> PqStat* {  // gt of unknown categories: not averaged
      const auto it = stats_.find(category);
      return it == stats_.end() ? nullptr : &it->second;
    };
    std::set<std::int64_t> gt_matched, pred_matched;
    for (const auto& [key, inter] : pairs) {
      const auto g = static_cast<std::int64_t>(key >> 32),
                 p = static_cast<std::int64_t>(key & 0xffffffffu);
      const auto gi = gt_segms.find(g);
      const auto pi = pred_segms.find(p);
      if (gi == gt_segms.end() || pi == pred_segms.end()) continue;
      if (gi->second->iscrowd || gi->second->category_id != pi->second->category_id) continue;
      const auto void_it = pred_on_void.find(p);
      const std::int64_t on_void = void_it == pred_on_void.end() ? 0 : void_it->second;
      const std::int64_t uni = pred_area[p] + gt_area_of(*gi->second) - inter - on_void;
      const double iou = static_cast<double>(inter) / static_cast<double>(uni);
      if (iou > 0.5) {
        if (PqStat* s = stat(gi->second->category_id)) {
          s->tp += 1;
          s->iou += iou;
        }
        gt_matched.insert(g);
        pred_matched.insert(p);
      }
    }
    std::map<std::int64_t, std::int64_t> crowd_by_category;  // the last crowd gt listed wins
    for (const auto& s : gt_segments) {
      if (gt_matched.count(s.id)) continue;
      if (s.iscrowd) {
        crowd_by_category[s.category_id] = s.id;
        continue;
      }
      if (PqStat* st = stat(s.category_id)) st->fn += 1;
    }
    auto intersection = [&](std::int64_t g, std::int64_t p) -> std::int64_t {
      const std::uint64_t key =
          (static_cast<std::uint64_t>(g) << 32) | static_cast<std::uint64_t>(p);
      const auto it =
          std::lower_bound(pairs.begin(), pairs.end(), std::make_pair(key, std::int64_t{0}),
                           [](const auto& x, const auto& y) { return x.first < y.first; });
      return it != pairs.end() && it->first == key ? it->second : 0;
    };
    for (const auto& s : pred_segments) {
      if (pred_matched.count(s.id)) continue;
      std::int64_t ignored = intersection(kVoid, s.id);
      const auto crowd = crowd_by_category.find(s.category_id);
      if (crowd != crowd_by_category.end()) ignored += intersection(crowd->second, s.id);
      if (static_cast<double>(ignored) / static_cast<double>(pred_area[s.id]) > 0.5) continue;
      stats_[s.category_id].fp += 1;
    }
  }

  PanopticQualityResult result() const {
    PanopticQualityResult out;
    out.stats = stats_;
    out.area_mismatches = area_mismatches_;
    out.all = average(std::nullopt, &out.per_class);
    out.things = average(true, nullptr);
    out.stuff = average(false, nullptr);
    return out;
  }

  const std::vector<PanopticCategory>& categories() const { return categories_; }

 private:
  static constexpr std::int64_t kVoid = 0;

  static std::map<std::int64_t, const PanopticSegment*> index_segments(
      const std::vector<PanopticSegment>& segments, std::int64_t image_id, const char* what) {
    std::map<std::int64_t, const PanopticSegment*> out;
    for (const auto& s : segments) {
      PSALM_CHECK(s.id > 0 && s.id <= 0xffffffffLL, "panoptic: image ", image_id, " ", what,
                  " segment id ", s.id, " is not a positive id (0 is VOID)");
      PSALM_CHECK(out.emplace(s.id, &s).second, "panoptic: image ", image_id, " ", what,
                  " segment id ", s.id, " is listed twice");
    }
    return out;
  }

  PqScores average(std::optional<bool> isthing, std::map<std::int64_t, PqScores>* per_class) const {
    PqScores total;
    for (const auto& c : categories_) {
      if (isthing && *isthing != c.isthing) continue;
      const PqStat& s = stats_.at(c.id);
      PqScores cls;
      if (s.tp + s.fp + s.fn > 0) {
        const double d = s.tp + 0.5 * s.fp + 0.5 * s.fn;
        cls = {s.iou / d, s.tp != 0 ? s.iou / s.tp : 0.0, s.tp / d, 1};
        total.pq += cls.pq;
        total.sq += cls.sq;
        total.rq += cls.rq;
        total.n += 1;
      }
      if (per_class) (*per_class)[c.id] = cls;
    }
    if (total.n > 0) {  // panopticapi divides by zero when no category counts; psalm gives 0
      total.pq /= total.n;
      total.sq /= total.n;
      total.rq /= total.n;
    }
    return total;
  }

  std::vector<PanopticCategory> categories_;
  std::map<std::int64_t, PqStat> stats_;
  std::vector<PanopticAreaMismatch> area_mismatches_;
};

inline std::string PanopticQualityResult::to_string() const {
  std::ostringstream out;
  out << describe_panoptic_protocol();
  out.setf(std::ios::fixed);
  out.precision(3);
  out << "          PQ       SQ       RQ     N   (percent; N = categories averaged)\n";
  const std::pair<const char*, const PqScores*> rows[3] = {
      {"All   ", &all}, {"Things", &things}, {"Stuff ", &stuff}};
  for (const auto& [name, s] : rows)
    out << "  " << name << "  " << 100 * s->pq << "   " << 100 * s->sq << "   " << 100 * s->rq
        << "   " << s->n << '\n';
  return out.str();
}

}  // namespace psalm::eval
