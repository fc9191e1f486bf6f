// psalm/psalm/inference/interactive.hpp — interactive (visual-prompt) post-processing
// (PSALM_SPEC §5.6): every (region, query) pair scored by sigmoid(region logit) x mean mask
// probability; each region's answer is its best query's binary mask. Gives one binary mask per
// region as eval/interactive.hpp reads them.
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

// Letters: K regions (visual prompts) of the sample, Q queries, H0 W0 original image.

/// region_logits (K, Q), masks (Q, H0, W0) mask logits at the original size -> (K, Q) scores
/// sigmoid(region_logits[k, q]) x mask_scores(masks)[q] (float products, as upstream).
/// ref: PSALM llava_phi.py region_inference.
inline Tensor<float> region_scores(const Tensor<float>& region_logits, const Tensor<float>& masks) {
  check_query_masks(masks, "region_scores");
  const std::int64_t q = masks.size(0);
  PSALM_CHECK(region_logits.defined() && region_logits.rank() == 2 && region_logits.size(1) == q,
              "region_scores: region logits must be (K, Q) with Q = ", q, ", got ",
              region_logits.defined() ? region_logits.shape() : Shape{});
  const std::vector<float> mask_score = mask_scores(masks);
  const Tensor<float> logits = region_logits.contiguous();  // (K, Q)
  Tensor<float> out(logits.shape());                        // (K, Q)
  for (std::int64_t i = 0; i < logits.numel(); ++i)
    out.data()[i] = sigmoid_f(logits.data()[i]) * mask_score[static_cast<std::size_t>(i % q)];
  return out;
}

/// One answer per region, in region order: the query with the largest score (the first on
/// ties) and its binary mask (logit > 0). K = 0 gives no answer.
/// ref: PSALM psalm/eval/region_segmentation.py compute_metric (topk(scores[k], 1)).
inline std::vector<MaskPrediction> interactive_inference(const Tensor<float>& region_logits,
                                                         const Tensor<float>& masks) {
  const Tensor<float> scores = region_scores(region_logits, masks);  // (K, Q)
  const std::int64_t k = scores.size(0), q = scores.size(1);
  std::vector<MaskPrediction> out;
  out.reserve(static_cast<std::size_t>(k));
  for (std::int64_t r = 0; r < k; ++r) {
    const float* row = scores.data() + r * q;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < q; ++j)
      if (row[j] > row[best]) best = j;
    out.push_back({query_mask(masks, best), row[best], best});
  }
  return out;
}

/// The same from a sample's outputs: masks are brought to the original size first.
inline std::vector<MaskPrediction> interactive_inference(const SampleOutputs& s,
                                                         const ImageGeometry& g) {
  PSALM_CHECK(s.region_logits.defined(), "interactive_inference: the sample has no region ",
              "logits (the prompt held no visual prompt)");
  return interactive_inference(s.region_logits, masks_at_original(s, g));
}

}  // namespace psalm
