// psalm/eval/semantic.hpp — semantic-segmentation metrics (mIoU, fwIoU, mACC, pACC, per-class
// IoU and accuracy) from a confusion matrix accumulated image by image, as detectron2's
// SemSegEvaluator computes them. Depends on: eval/mask_view.hpp (LabelView), core/error.hpp.
// Test: tests/eval/test_semantic.cpp (fixtures from tools/reference/semantic_fixtures.py).
#pragma once

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"

namespace psalm::eval {

/// Metrics of one evaluation run. All values are fractions in [0, 1] (detectron2 reports them
/// multiplied by 100); NaN marks a value that is undefined (a class without ground-truth pixels,
/// or a run that saw no valid pixel at all).
struct SemanticResult {
  std::int64_t num_classes = 0;
  std::int64_t images = 0;
  double miou = std::numeric_limits<double>::quiet_NaN();   // mean IoU over classes with gt
  double fwiou = std::numeric_limits<double>::quiet_NaN();  // IoU weighted by gt frequency
  double macc = std::numeric_limits<double>::quiet_NaN();   // mean per-class recall
  double pacc = std::numeric_limits<double>::quiet_NaN();   // correct pixels / counted pixels
  std::vector<double> iou;  // (num_classes) NaN where the class has no gt pixel
  std::vector<double> acc;  // (num_classes) NaN where the class has no gt pixel

  /// A readable table: the protocol line, the four summary numbers (in percent) and the
  /// per-class IoU / accuracy of every class with ground truth.
  std::string to_string() const;
};

/// The most classes a SemanticEvaluator takes: its (N + 1)^2 int64 matrix is then 128 MiB.
/// (The largest common label sets: ADE20K-full 847, Pascal Context 459.)
inline constexpr std::int64_t kMaxSemanticClasses = 4096;

/// Accumulates a (N + 1) x (N + 1) confusion matrix, row = predicted class, column = gt class;
/// the extra row and column collect what detectron2 drops:
///   - gt pixels equal to `ignore_label` go to column N and are never counted;
///   - a prediction equal to N (one past the last class) goes to row N and is never counted
///     either (not even as a miss of its gt class), exactly as detectron2's bincount does;
///   - any other prediction outside [0, N) and any gt outside [0, N) that is not the ignore
///     label is an error (detectron2 would crash or silently corrupt other cells).
/// ref: detectron2/evaluation/sem_seg_evaluation.py (SemSegEvaluator.process / evaluate).
class SemanticEvaluator {
 public:
  explicit SemanticEvaluator(std::int64_t num_classes, std::int64_t ignore_label = 255)
      : num_classes_(num_classes), ignore_label_(ignore_label) {
    PSALM_CHECK(num_classes > 0 && num_classes <= kMaxSemanticClasses,
                "SemanticEvaluator: num_classes must be in [1, ", kMaxSemanticClasses, "], got ",
                num_classes);
    PSALM_CHECK(ignore_label < 0 || ignore_label >= num_classes, "SemanticEvaluator: ignore_label ",
                ignore_label, " collides with a class id in [0, ", num_classes, ")");
    reset();
  }

  void reset() {
    const std::int64_t side = num_classes_ + 1;
    confusion_.assign(static_cast<std::size_t>(side * side), 0);
    images_ = 0;
  }

  /// Adds one image: `pred` and `gt` are H x W class-id maps of the same size.
  void add(const LabelView& pred, const LabelView& gt) {
    check_view(pred, "semantic prediction");
    check_view(gt, "semantic ground truth");
    PSALM_CHECK(pred.height == gt.height && pred.width == gt.width,
                "semantic evaluation: prediction is ", pred.height, " x ", pred.width,
                " but ground truth is ", gt.height, " x ", gt.width);
    const std::int64_t n = num_classes_;
    const std::int64_t side = n + 1;
    // Validate the whole image first so that a bad image leaves the matrix untouched.
    const std::int64_t count = pred.size();
    for (std::int64_t i = 0; i < count; ++i) {
      const std::int64_t p = pred.data[i];
      const std::int64_t g = gt.data[i];
      if (p < 0 || p > n) [[unlikely]]
        fail("semantic evaluation: predicted class ", p, " at pixel (", i / pred.width, ", ",
             i % pred.width, ") is outside [0, ", n, "] (", n, " classes; ", n,
             " itself is dropped as detectron2 does)");
      if ((g < 0 || g >= n) && g != ignore_label_) [[unlikely]]
        fail("semantic evaluation: ground-truth class ", g, " at pixel (", i / gt.width, ", ",
             i % gt.width, ") is neither in [0, ", n, ") nor the ignore label ", ignore_label_);
    }
    for (std::int64_t i = 0; i < count; ++i) {
      const std::int64_t p = pred.data[i];
      const std::int64_t g = gt.data[i] == ignore_label_ ? n : gt.data[i];
      ++confusion_[static_cast<std::size_t>(p * side + g)];
    }
    ++images_;
  }

  /// The raw matrix, (N + 1) x (N + 1) row-major, row = prediction, column = gt.
  const std::vector<std::int64_t>& confusion() const { return confusion_; }
  std::int64_t num_classes() const { return num_classes_; }
  std::int64_t ignore_label() const { return ignore_label_; }
  std::int64_t images() const { return images_; }

  /// Metrics from the matrix so far (detectron2 SemSegEvaluator.evaluate):
  ///   tp_c = M[c][c], pos_gt_c = sum_{p<N} M[p][c], pos_pred_c = sum_{g<N} M[c][g];
  ///   acc_c = tp_c / pos_gt_c and IoU_c = tp_c / (pos_gt_c + pos_pred_c - tp_c) only for
  ///   classes with pos_gt_c > 0 (a class that is predicted but absent from gt is skipped);
  ///   mIoU, mACC = means over those classes; fwIoU = sum IoU_c * pos_gt_c / sum pos_gt;
  ///   pACC = sum tp / sum pos_gt.
  SemanticResult result() const {
    const std::int64_t n = num_classes_;
    const std::int64_t side = n + 1;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    SemanticResult out;
    out.num_classes = n;
    out.images = images_;
    out.iou.assign(static_cast<std::size_t>(n), nan);
    out.acc.assign(static_cast<std::size_t>(n), nan);
    std::vector<double> pos_gt(static_cast<std::size_t>(n), 0.0);
    std::vector<double> pos_pred(static_cast<std::size_t>(n), 0.0);
    double total_gt = 0.0, total_tp = 0.0;
    for (std::int64_t p = 0; p < n; ++p) {
      for (std::int64_t g = 0; g < n; ++g) {
        const auto v = static_cast<double>(confusion_[static_cast<std::size_t>(p * side + g)]);
        pos_gt[static_cast<std::size_t>(g)] += v;
        pos_pred[static_cast<std::size_t>(p)] += v;
      }
    }
    for (std::int64_t c = 0; c < n; ++c) {
      total_gt += pos_gt[static_cast<std::size_t>(c)];
      total_tp += static_cast<double>(confusion_[static_cast<std::size_t>(c * side + c)]);
    }
    double acc_sum = 0.0, iou_sum = 0.0, fw_sum = 0.0;
    std::int64_t valid = 0;
    for (std::int64_t c = 0; c < n; ++c) {
      const auto k = static_cast<std::size_t>(c);
      const auto tp = static_cast<double>(confusion_[static_cast<std::size_t>(c * side + c)]);
      if (!(pos_gt[k] > 0.0)) continue;
      const double union_area = pos_gt[k] + pos_pred[k] - tp;  // > 0 since pos_gt > 0
      out.acc[k] = tp / pos_gt[k];
      out.iou[k] = tp / union_area;
      acc_sum += out.acc[k];
      iou_sum += out.iou[k];
      fw_sum += out.iou[k] * (pos_gt[k] / total_gt);
      ++valid;
    }
    if (valid > 0) {
      out.macc = acc_sum / static_cast<double>(valid);
      out.miou = iou_sum / static_cast<double>(valid);
      out.fwiou = fw_sum;
      out.pacc = total_tp / total_gt;
    }
    return out;
  }

  /// The rules this evaluator applies, in words.
  std::string describe_protocol() const {
    std::ostringstream s;
    s << "semantic segmentation (detectron2 SemSegEvaluator): " << num_classes_
      << " classes, ignore label " << ignore_label_
      << "; confusion matrix summed over images; IoU and accuracy only for classes with "
         "ground-truth pixels; mIoU/mACC = mean over those classes; fwIoU weighted by gt "
         "pixel share; pACC = correct / counted pixels; predicted class "
      << num_classes_ << " is dropped (not counted), other out-of-range ids are errors";
    return s.str();
  }

  /// describe_protocol() followed by the result table.
  std::string report() const { return describe_protocol() + "\n" + result().to_string(); }

 private:
  std::int64_t num_classes_;
  std::int64_t ignore_label_;
  std::int64_t images_ = 0;
  std::vector<std::int64_t> confusion_;  // (N + 1, N + 1) row = pred, col = gt
};

inline std::string SemanticResult::to_string() const {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3);
  s << "images " << images << ", classes " << num_classes << "\n";
  s << "mIoU " << 100.0 * miou << "  fwIoU " << 100.0 * fwiou << "  mACC " << 100.0 * macc
    << "  pACC " << 100.0 * pacc << "  (percent)\n";
  s << "class      IoU      ACC\n";
  for (std::size_t c = 0; c < iou.size(); ++c) {
    if (std::isnan(acc[c])) continue;
    s << std::setw(5) << c << "  " << std::setw(7) << 100.0 * iou[c] << "  " << std::setw(7)
      << 100.0 * acc[c] << "\n";
  }
  return s.str();
}

}  // namespace psalm::eval
