// psalm/psalm/inference/gres.hpp — generalized referring post-processing (PSALM_SPEC §5.5):
// the union of the masks of every query whose referring score passes a threshold (0.6), with
// an explicit "no target" answer when configured; the official rule instead falls back to the
// top-1 mask and so never says "no target". Gives a mask and a no-target flag as
// eval/gres.hpp reads them (N-acc / T-acc).
// Depends on: inference/referring. Test: tests/psalm/test_inference.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/psalm/inference/query_masks.hpp"
#include "psalm/psalm/inference/referring.hpp"
#include "psalm/psalm/inference/sample_outputs.hpp"
#include "psalm/tensor.hpp"

namespace psalm {

// Letters: Q queries, H0 W0 original image.

struct GresOptions {
  /// Masks of the queries whose score is above this are OR-ed (compared in double, as the
  /// official script compares a NumPy float32 with a Python float).
  double threshold = 0.6;
  /// When set, the answer is "no target" (an empty mask) if no score is above this value.
  /// Unset: never "no target"; when no score passes `threshold` the top-1 mask is the answer.
  std::optional<double> no_target_threshold;

  /// The official rule (eval_grefcoco.py, --thr 0.6): union above 0.6, else the top-1 mask.
  static GresOptions official(double threshold = 0.6) { return {threshold, std::nullopt}; }
  /// "No target" exactly when no score passes the union threshold.
  static GresOptions with_no_target(double threshold = 0.6) { return {threshold, threshold}; }
};

/// The gRES answer for one expression, ready for eval::GresEvaluator::add(view(), gt,
/// no_target, gt_no_target).
struct GresPrediction {
  Tensor<std::uint8_t> mask;          ///< (H0, W0) 0 / 1; all 0 when no_target
  bool no_target = false;             ///< the explicit "no target" answer
  std::vector<std::int64_t> queries;  ///< the queries OR-ed (one on the top-1 fallback)
  std::vector<float> scores;          ///< (Q) every query's referring score

  eval::MaskView view() const { return mask_view(mask); }
};

/// seg_logits (Q) or (Q, 1), masks (Q, H0, W0) mask logits at the original size.
/// ref: PSALM psalm/eval/eval_grefcoco.py compute_metric (score > thr, fuse_masks = logical OR,
/// top-1 when nothing passes).
inline GresPrediction gres_inference(const Tensor<float>& seg_logits, const Tensor<float>& masks,
                                     const GresOptions& options = {}) {
  GresPrediction out;
  out.scores = referring_scores(seg_logits, masks);
  const std::int64_t h = masks.size(1), w = masks.size(2), p = h * w;
  out.mask = Tensor<std::uint8_t>::zeros(Shape{h, w});  // (H0, W0)
  PSALM_CHECK(!out.scores.empty(), "gres_inference: no query to choose from");
  auto passes = [&](double limit) {
    for (float s : out.scores)
      if (static_cast<double>(s) > limit) return true;
    return false;
  };
  if (options.no_target_threshold && !passes(*options.no_target_threshold)) {
    out.no_target = true;
    return out;
  }
  for (std::size_t i = 0; i < out.scores.size(); ++i)
    if (static_cast<double>(out.scores[i]) > options.threshold)
      out.queries.push_back(static_cast<std::int64_t>(i));
  if (out.queries.empty()) out.queries.push_back(best_index(out.scores));
  const Tensor<float> m = masks.contiguous();  // (Q, H0, W0)
  std::uint8_t* o = out.mask.data();
  for (const std::int64_t query : out.queries) {
    const float* x = m.data() + query * p;
    for (std::int64_t i = 0; i < p; ++i) o[i] |= x[i] > 0.0f ? 1 : 0;
  }
  return out;
}

/// The same from a sample's outputs: masks are brought to the original size first.
inline GresPrediction gres_inference(const SampleOutputs& s, const ImageGeometry& g,
                                     const GresOptions& options = {}) {
  PSALM_CHECK(s.seg_logits.defined(), "gres_inference: the sample has no referring logits ",
              "(the prompt held no referring sentence)");
  return gres_inference(s.seg_logits, masks_at_original(s, g), options);
}

}  // namespace psalm
