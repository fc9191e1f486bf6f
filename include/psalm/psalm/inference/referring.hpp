// psalm/psalm/inference/referring.hpp — referring post-processing (PSALM_SPEC §5.4): every
// query scored by sigmoid(referring logit) x mean mask probability; the answer is the single
// best query's binary mask (no thresholding). Gives a binary mask as eval/referring.hpp reads it.
// Depends on: inference/query_masks, inference/sample_outputs. Test:
// tests/psalm/test_inference.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/psalm/inference/query_masks.hpp"
#include "psalm/psalm/inference/sample_outputs.hpp"
#include "psalm/tensor.hpp"

namespace psalm {

// Letters: Q queries, H0 W0 original image.

/// seg_logits (Q) or (Q, 1), masks (Q, H0, W0) mask logits at the original size -> (Q) scores
/// sigmoid(seg_logit_q) x mask_scores(masks)[q] (float products, as upstream).
/// ref: PSALM llava_phi.py SEG_instance_inference.
inline std::vector<float> referring_scores(const Tensor<float>& seg_logits,
                                           const Tensor<float>& masks) {
  check_query_masks(masks, "referring_scores");
  const std::int64_t q = masks.size(0);
  PSALM_CHECK(seg_logits.defined() && seg_logits.numel() == q &&
                  (seg_logits.rank() == 1 || (seg_logits.rank() == 2 && seg_logits.size(1) == 1)),
              "referring_scores: referring logits must be (Q) or (Q, 1) with Q = ", q, ", got ",
              seg_logits.defined() ? seg_logits.shape() : Shape{});
  const std::vector<float> logits = seg_logits.to_vector();
  std::vector<float> scores = mask_scores(masks);
  for (std::int64_t i = 0; i < q; ++i)
    scores[static_cast<std::size_t>(i)] *= sigmoid_f(logits[static_cast<std::size_t>(i)]);
  return scores;
}

/// The index of the largest score (the first on ties); -1 for an empty list.
inline std::int64_t best_index(const std::vector<float>& scores) {
  std::int64_t best = scores.empty() ? -1 : 0;
  for (std::size_t i = 1; i < scores.size(); ++i)
    if (scores[i] > scores[static_cast<std::size_t>(best)]) best = static_cast<std::int64_t>(i);
  return best;
}

/// The top-1 query's binary mask (logit > 0) and score.
/// ref: PSALM psalm/eval/referring_segmentation.py compute_metric (topk(scores, 1)).
inline MaskPrediction referring_inference(const Tensor<float>& seg_logits,
                                          const Tensor<float>& masks) {
  const std::vector<float> scores = referring_scores(seg_logits, masks);
  MaskPrediction out;
  out.query = best_index(scores);
  PSALM_CHECK(out.query >= 0, "referring_inference: no query to choose from");
  out.score = scores[static_cast<std::size_t>(out.query)];
  out.mask = query_mask(masks, out.query);  // (H0, W0)
  return out;
}

/// The same from a sample's outputs: masks are brought to the original size first.
inline MaskPrediction referring_inference(const SampleOutputs& s, const ImageGeometry& g) {
  PSALM_CHECK(s.seg_logits.defined(), "referring_inference: the sample has no referring logits ",
              "(the prompt held no referring sentence)");
  return referring_inference(s.seg_logits, masks_at_original(s, g));
}

}  // namespace psalm
