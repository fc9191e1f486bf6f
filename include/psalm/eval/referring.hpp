// psalm/eval/referring.hpp — referring-segmentation metrics: cIoU (sum of intersections over
// sum of unions), gIoU (mean per-sample IoU) and precision at IoU thresholds, with the rule for
// samples where prediction and ground truth are both empty as a named option (PSALM, LISA, exact).
// Depends on: eval/mask_view.hpp, core/error.hpp. Test: tests/eval/test_referring.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"

namespace psalm::eval {

/// Foreground overlap of one binary prediction with one binary ground truth.
struct Overlap {
  std::int64_t intersection = 0;  // |pred & gt| over counted pixels
  std::int64_t union_area = 0;    // |pred | gt| over counted pixels
};

/// Counts |pred & gt| and |pred | gt|. When `gt_ignore_value` is set, gt pixels holding exactly
/// that byte are left out of both counts (PSALM's intersectionAndUnionGPU with
/// ignore_index = 255); by default every pixel counts and any nonzero byte is foreground.
inline Overlap mask_overlap(const MaskView& pred, const MaskView& gt,
                            std::optional<std::uint8_t> gt_ignore_value = std::nullopt) {
  check_view(pred, "predicted mask");
  check_view(gt, "ground-truth mask");
  PSALM_CHECK(pred.height == gt.height && pred.width == gt.width, "mask overlap: prediction is ",
              pred.height, " x ", pred.width, " but ground truth is ", gt.height, " x ", gt.width);
  Overlap o;
  const std::int64_t count = pred.size();
  if (gt_ignore_value) {
    const std::uint8_t ignore = *gt_ignore_value;
    for (std::int64_t i = 0; i < count; ++i) {
      if (gt.data[i] == ignore) continue;
      const bool p = pred.data[i] != 0, g = gt.data[i] != 0;
      o.intersection += p && g;
      o.union_area += p || g;
    }
  } else {
    for (std::int64_t i = 0; i < count; ++i) {
      const bool p = pred.data[i] != 0, g = gt.data[i] != 0;
      o.intersection += p && g;
      o.union_area += p || g;
    }
  }
  return o;
}

/// What a sample with an empty union (prediction and ground truth both empty) contributes.
enum class EmptyRule {
  count_as_one,   // IoU := 1 (PSALM referring/region eval, LISA: "no-object target")
  count_as_zero,  // IoU := 0
  skip,           // left out of gIoU and precision (still adds 0 / 0 to cIoU)
};

inline const char* to_string(EmptyRule rule) {
  switch (rule) {
    case EmptyRule::count_as_one:
      return "count_as_one";
    case EmptyRule::count_as_zero:
      return "count_as_zero";
    case EmptyRule::skip:
      return "skip";
  }
  return "?";
}

/// The rules of one published evaluation script. gIoU per sample is I / (U + iou_epsilon)
/// (both-empty samples follow `empty_rule`), averaged as sum / (count + count_epsilon); cIoU is
/// sum I / (sum U + ciou_epsilon); precision@t counts samples whose exact IoU I / U is >= t.
struct ReferringProtocol {
  std::string name = "psalm";
  EmptyRule empty_rule = EmptyRule::count_as_one;
  double iou_epsilon = 1e-5;    // per-sample IoU = I / (U + eps)
  double ciou_epsilon = 1e-10;  // cIoU = sum I / (sum U + eps)
  double count_epsilon = 0.0;   // gIoU = sum IoU / (count + eps)
  std::vector<double> precision_thresholds = {0.5, 0.6, 0.7, 0.8, 0.9};
  std::optional<std::uint8_t> gt_ignore_value;  // gt byte excluded from counting (none)

  /// ref: PSALM psalm/eval/referring_segmentation.py (compute_metric, AverageMeter without
  /// all_reduce): IoU = I / (U + 1e-5), both empty -> 1, cIoU = sum I / (sum U + 1e-10).
  static ReferringProtocol psalm() { return {}; }
  /// ref: LISA train_ds.py validate(): same per-sample rule as PSALM, but the gIoU meter is
  /// always all-reduced, which divides the sum by (count + 1e-5).
  static ReferringProtocol lisa() {
    ReferringProtocol p;
    p.name = "lisa";
    p.count_epsilon = 1e-5;
    return p;
  }
  /// No epsilons anywhere; both-empty samples count as IoU 1.
  static ReferringProtocol exact() {
    ReferringProtocol p;
    p.name = "exact";
    p.iou_epsilon = p.ciou_epsilon = p.count_epsilon = 0.0;
    return p;
  }

  std::string describe() const {
    std::ostringstream s;
    s << "referring segmentation, protocol '" << name << "': per-sample IoU = I/(U+" << iou_epsilon
      << "), both-empty sample: " << eval::to_string(empty_rule) << "; gIoU = sum IoU/(samples+"
      << count_epsilon << "); cIoU = sum I/(sum U+" << ciou_epsilon
      << "); Pr@t = share of samples with I/U >= t, t in {";
    for (std::size_t i = 0; i < precision_thresholds.size(); ++i)
      s << (i ? ", " : "") << precision_thresholds[i];
    s << "}; gt ignore value: ";
    if (gt_ignore_value)
      s << int(*gt_ignore_value);
    else
      s << "none";
    return s.str();
  }
};

struct ReferringResult {
  std::string protocol;            // ReferringProtocol::describe()
  std::int64_t samples = 0;        // samples added
  std::int64_t empty_samples = 0;  // samples with an empty union
  std::int64_t sum_intersection = 0;
  std::int64_t sum_union = 0;
  double ciou = std::numeric_limits<double>::quiet_NaN();
  double giou = std::numeric_limits<double>::quiet_NaN();  // NaN when no sample counted
  std::vector<double> thresholds;
  std::vector<double> precision;  // (thresholds) share in [0, 1]

  std::string to_string() const {
    std::ostringstream s;
    s << protocol << "\n" << std::fixed << std::setprecision(3);
    s << "samples " << samples << " (both empty " << empty_samples << ")  cIoU " << 100.0 * ciou
      << "  gIoU " << 100.0 * giou;
    for (std::size_t i = 0; i < thresholds.size(); ++i)
      s << "  Pr@" << std::setprecision(2) << thresholds[i] << " " << std::setprecision(3)
        << 100.0 * precision[i];
    s << "  (percent)";
    return s.str();
  }
};

/// Accumulates referring-segmentation samples (one binary prediction and one binary gt each).
class ReferringEvaluator {
 public:
  explicit ReferringEvaluator(ReferringProtocol protocol = ReferringProtocol::psalm())
      : protocol_(std::move(protocol)) {
    for (double t : protocol_.precision_thresholds)
      PSALM_CHECK(t >= 0.0 && t <= 1.0, "referring evaluation: precision threshold ", t,
                  " is outside [0, 1]");
    PSALM_CHECK(
        protocol_.iou_epsilon >= 0 && protocol_.ciou_epsilon >= 0 && protocol_.count_epsilon >= 0,
        "referring evaluation: epsilons must be non-negative");
    reset();
  }

  void reset() {
    samples_ = empty_ = counted_ = 0;
    sum_i_ = sum_u_ = 0;
    sum_iou_ = 0.0;
    hits_.assign(protocol_.precision_thresholds.size(), 0);
  }

  /// Adds one sample; returns its overlap.
  Overlap add(const MaskView& pred, const MaskView& gt) {
    const Overlap o = mask_overlap(pred, gt, protocol_.gt_ignore_value);
    add_overlap(o);
    return o;
  }

  /// Adds one sample from precomputed counts (0 <= intersection <= union).
  void add_overlap(const Overlap& o) {
    PSALM_CHECK(o.intersection >= 0 && o.intersection <= o.union_area,
                "referring evaluation: intersection ", o.intersection,
                " must lie in [0, union = ", o.union_area, "]");
    ++samples_;
    sum_i_ += o.intersection;
    sum_u_ += o.union_area;
    double iou_for_mean = 0.0, iou_exact = 0.0;
    if (o.union_area == 0) {
      ++empty_;
      if (protocol_.empty_rule == EmptyRule::skip) return;
      iou_for_mean = iou_exact = protocol_.empty_rule == EmptyRule::count_as_one ? 1.0 : 0.0;
    } else {
      const auto i = static_cast<double>(o.intersection);
      const auto u = static_cast<double>(o.union_area);
      iou_for_mean = i / (u + protocol_.iou_epsilon);
      iou_exact = i / u;
    }
    ++counted_;
    sum_iou_ += iou_for_mean;
    for (std::size_t t = 0; t < hits_.size(); ++t)
      hits_[t] += iou_exact >= protocol_.precision_thresholds[t];
  }

  ReferringResult result() const {
    ReferringResult r;
    r.protocol = protocol_.describe();
    r.samples = samples_;
    r.empty_samples = empty_;
    r.sum_intersection = sum_i_;
    r.sum_union = sum_u_;
    const double denom_u = static_cast<double>(sum_u_) + protocol_.ciou_epsilon;
    r.ciou = denom_u > 0 ? static_cast<double>(sum_i_) / denom_u
                         : std::numeric_limits<double>::quiet_NaN();
    const double denom_n = static_cast<double>(counted_) + protocol_.count_epsilon;
    if (denom_n > 0) r.giou = sum_iou_ / denom_n;
    r.thresholds = protocol_.precision_thresholds;
    r.precision.resize(hits_.size(), std::numeric_limits<double>::quiet_NaN());
    if (counted_ > 0)
      for (std::size_t t = 0; t < hits_.size(); ++t)
        r.precision[t] = static_cast<double>(hits_[t]) / static_cast<double>(counted_);
    return r;
  }

  const ReferringProtocol& protocol() const { return protocol_; }
  std::string describe_protocol() const { return protocol_.describe(); }

 private:
  ReferringProtocol protocol_;
  std::int64_t samples_ = 0, empty_ = 0, counted_ = 0;
  std::int64_t sum_i_ = 0, sum_u_ = 0;
  double sum_iou_ = 0.0;
  std::vector<std::int64_t> hits_;  // (thresholds) samples with IoU >= t
};

}  // namespace psalm::eval
