// psalm/eval/gres.hpp — generalized referring segmentation (gRefCOCO) metrics as ReLA's
// ReferEvaluator computes them: cIoU, gIoU, N-acc (no-target samples recognised), T-acc
// (targeted samples recognised) and precision at IoU 0.7 / 0.8 / 0.9 over targeted samples.
// Depends on: eval/referring.hpp (mask_overlap), core/error.hpp. Test: tests/eval/test_gres.cpp.
#pragma once

#include <cstdint>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"
#include "psalm/eval/referring.hpp"

namespace psalm::eval {

struct GresResult {
  std::int64_t samples = 0;
  std::int64_t no_target_samples = 0;  // gt says "no target"
  std::int64_t targeted_samples = 0;
  // ReLA's counters (its naming: "positive" = no target).
  std::int64_t nt_tp = 0;  // no-target sample predicted no-target
  std::int64_t nt_fn = 0;  // no-target sample predicted with a target
  std::int64_t nt_fp = 0;  // targeted sample predicted no-target
  std::int64_t nt_tn = 0;  // targeted sample predicted with a target
  std::int64_t sum_intersection = 0, sum_union = 0;
  double ciou = std::numeric_limits<double>::quiet_NaN();
  double giou = std::numeric_limits<double>::quiet_NaN();
  double n_acc = 0.0;  // TP / (TP + FN); 0 when there is no no-target sample (as ReLA)
  double t_acc = 0.0;  // TN / (TN + FP); 0 when there is no no-target sample (as ReLA)
  std::vector<double> thresholds;
  std::vector<double> precision;  // (thresholds) over targeted samples, NaN if none

  std::string to_string() const {
    std::ostringstream s;
    s << std::fixed << std::setprecision(3);
    s << "samples " << samples << " (no-target " << no_target_samples << ")  cIoU " << 100.0 * ciou
      << "  gIoU " << 100.0 * giou << "  N-acc " << 100.0 * n_acc << "  T-acc " << 100.0 * t_acc;
    for (std::size_t i = 0; i < thresholds.size(); ++i)
      s << "  Pr@" << std::setprecision(1) << thresholds[i] << " " << std::setprecision(3)
        << 100.0 * precision[i];
    s << "  (percent)";
    return s.str();
  }
};

/// Accumulates gRefCOCO samples. Rules (ref: ReLA gres_model/evaluation/refer_evaluation.py,
/// ReferEvaluator.evaluate), with I and U counted between the predicted and gt masks:
///   no-target gt, predicted no-target  -> TP: gIoU += 1, nothing added to cIoU;
///   no-target gt, predicted a target   -> FN: gIoU += 0, cIoU union += U;
///   targeted gt, predicted no-target   -> FP: I := 0, U kept; IoU = 0 or I/U as below;
///   targeted gt, predicted a target    -> TN: IoU = I / U (0 when U = 0);
/// targeted samples add I and U to cIoU and IoU to gIoU and count for Pr@t (IoU >= t).
/// gIoU = sum IoU / all samples; cIoU = sum I / sum U; N-acc = TP / (TP + FN);
/// T-acc = TN / (TN + FP); both accuracies are 0 when the set has no no-target sample.
class GresEvaluator {
 public:
  explicit GresEvaluator(std::vector<double> precision_thresholds = {0.7, 0.8, 0.9})
      : thresholds_(std::move(precision_thresholds)) {
    for (double t : thresholds_)
      PSALM_CHECK(t >= 0.0 && t <= 1.0, "gRefCOCO evaluation: precision threshold ", t,
                  " is outside [0, 1]");
    reset();
  }

  void reset() {
    r_ = GresResult{};
    sum_iou_ = 0.0;
    hits_.assign(thresholds_.size(), 0);
  }

  /// Adds a sample with explicit no-target decisions: `pred_no_target` is the model's
  /// no-target output, `gt_no_target` the dataset's "empty" flag (its gt mask must be empty).
  void add(const MaskView& pred, const MaskView& gt, bool pred_no_target, bool gt_no_target) {
    const Overlap o = mask_overlap(pred, gt);
    if (gt_no_target)
      PSALM_CHECK(count_foreground(gt) == 0, "gRefCOCO evaluation: a sample marked no-target has ",
                  count_foreground(gt), " ground-truth foreground pixels");
    add_overlap(o, pred_no_target, gt_no_target);
  }

  /// Adds a sample whose no-target decisions are read off the masks: an empty mask means
  /// "no target" (how a model without a no-target head, such as PSALM, is scored).
  void add(const MaskView& pred, const MaskView& gt) {
    const Overlap o = mask_overlap(pred, gt);
    const std::int64_t pred_area = count_foreground(pred);
    const std::int64_t gt_area = o.union_area - pred_area + o.intersection;
    add_overlap(o, pred_area == 0, gt_area == 0);
  }

  /// Adds a sample from precomputed counts.
  void add_overlap(const Overlap& o, bool pred_no_target, bool gt_no_target) {
    PSALM_CHECK(o.intersection >= 0 && o.intersection <= o.union_area,
                "gRefCOCO evaluation: intersection ", o.intersection,
                " must lie in [0, union = ", o.union_area, "]");
    ++r_.samples;
    if (gt_no_target) {
      PSALM_CHECK(o.intersection == 0,
                  "gRefCOCO evaluation: a no-target sample cannot have a nonzero intersection");
      ++r_.no_target_samples;
      if (pred_no_target) {
        ++r_.nt_tp;
        sum_iou_ += 1.0;
      } else {
        ++r_.nt_fn;
        r_.sum_union += o.union_area;
      }
      return;
    }
    ++r_.targeted_samples;
    std::int64_t i = o.intersection;
    if (pred_no_target) {
      ++r_.nt_fp;
      i = 0;
    } else {
      ++r_.nt_tn;
    }
    const double iou =
        o.union_area == 0 ? 0.0 : static_cast<double>(i) / static_cast<double>(o.union_area);
    sum_iou_ += iou;
    r_.sum_intersection += i;
    r_.sum_union += o.union_area;
    for (std::size_t t = 0; t < hits_.size(); ++t) hits_[t] += iou >= thresholds_[t];
  }

  GresResult result() const {
    GresResult r = r_;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    r.giou = r.samples > 0 ? sum_iou_ / static_cast<double>(r.samples) : nan;
    r.ciou = r.sum_union > 0
                 ? static_cast<double>(r.sum_intersection) / static_cast<double>(r.sum_union)
                 : nan;
    if (r.no_target_samples > 0) {
      r.n_acc = static_cast<double>(r.nt_tp) / static_cast<double>(r.nt_tp + r.nt_fn);
      r.t_acc = r.nt_tn + r.nt_fp > 0
                    ? static_cast<double>(r.nt_tn) / static_cast<double>(r.nt_tn + r.nt_fp)
                    : nan;
    }
    r.thresholds = thresholds_;
    r.precision.assign(thresholds_.size(), nan);
    if (r.targeted_samples > 0)
      for (std::size_t t = 0; t < hits_.size(); ++t)
        r.precision[t] = static_cast<double>(hits_[t]) / static_cast<double>(r.targeted_samples);
    return r;
  }

  std::string describe_protocol() const {
    std::ostringstream s;
    s << "generalized referring segmentation (ReLA ReferEvaluator): no-target gt + no-target "
         "prediction counts IoU 1 and adds nothing to cIoU; no-target gt + a prediction adds "
         "its area to the cIoU union and IoU 0; targeted gt + no-target prediction keeps U "
         "with I = 0; gIoU = mean over all samples; cIoU = sum I / sum U; N-acc = TP/(TP+FN), "
         "T-acc = TN/(TN+FP), both reported as 0 when no sample is no-target; Pr@t over "
         "targeted samples with IoU >= t, t in {";
    for (std::size_t i = 0; i < thresholds_.size(); ++i) s << (i ? ", " : "") << thresholds_[i];
    s << "}";
    return s.str();
  }

  std::string report() const { return describe_protocol() + "\n" + result().to_string(); }

 private:
  static std::int64_t count_foreground(const MaskView& m) {
    std::int64_t n = 0;
    for (std::int64_t i = 0; i < m.size(); ++i) n += m.data[i] != 0;
    return n;
  }

  std::vector<double> thresholds_;
  GresResult r_;
  double sum_iou_ = 0.0;
  std::vector<std::int64_t> hits_;
};

}  // namespace psalm::eval
