// psalm/psalm/inference/query_masks.hpp — what every task's post-processing (PSALM_SPEC §5)
// reads off the queries' mask logits at the original image size: the binary mask (logit > 0),
// the mask score (mean sigmoid inside the binary mask, as instance / referring / region scores
// weight their class scores), the softmax of class logits, and views the evaluators take.
// Depends on: tensor, kernels/softmax, eval/mask_view. Test: tests/psalm/test_inference.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"
#include "psalm/kernels/softmax.hpp"
#include "psalm/tensor.hpp"

namespace psalm {

// Letters: Q queries, C class conditions (background last), H0 W0 original image, P = H0 * W0.

/// The logistic sigmoid in float, as the official code evaluates it (float32 tensors): the
/// thresholds (>= 0.5) and products of the panoptic rule are taken on these values.
inline float sigmoid_f(float x) { return 1.0f / (1.0f + std::exp(-x)); }

/// Throws unless `masks` is (Q, H, W) with H, W >= 1.
inline void check_query_masks(const Tensor<float>& masks, const char* who) {
  PSALM_CHECK(masks.defined() && masks.rank() == 3 && masks.size(1) >= 1 && masks.size(2) >= 1, who,
              ": mask logits must be (Q, H, W), got ", masks.defined() ? masks.shape() : Shape{});
}

/// logits (Q, H, W) -> binary masks (Q, H, W), 1 where logit > 0 (upstream `mask_pred > 0`).
inline Tensor<std::uint8_t> binary_masks(const Tensor<float>& logits) {
  check_query_masks(logits, "binary_masks");
  const Tensor<float> m = logits.contiguous();  // (Q, H, W)
  Tensor<std::uint8_t> out(m.shape());          // (Q, H, W)
  const float* in = m.data();
  std::uint8_t* o = out.data();
  Executor<cpu>::launch(m.numel(), [=](std::int64_t i) { o[i] = in[i] > 0.0f ? 1 : 0; });
  return out;
}

/// logits (Q, H, W) -> (Q) mask scores: sum(sigmoid * (logit > 0)) / (count(logit > 0) + 1e-6),
/// 0 for an empty mask. Summed in double (upstream sums float32; the difference is rounding).
/// ref: PSALM llava_phi.py class_name_instance_inference / SEG_instance_inference /
/// region_inference (mask_scores_per_image).
inline std::vector<float> mask_scores(const Tensor<float>& logits) {
  check_query_masks(logits, "mask_scores");
  const Tensor<float> m = logits.contiguous();  // (Q, H, W)
  const std::int64_t q = m.size(0), p = m.size(1) * m.size(2);
  std::vector<float> out(static_cast<std::size_t>(q));
  const float* in = m.data();
  float* o = out.data();
  Executor<cpu>::parallel_for(q, 1, [=](std::int64_t begin, std::int64_t end) {
    for (std::int64_t k = begin; k < end; ++k) {
      double sum = 0.0, count = 0.0;
      for (const float* x = in + k * p; x != in + (k + 1) * p; ++x)
        if (*x > 0.0f) {
          sum += sigmoid_f(*x);
          count += 1.0;
        }
      o[k] = static_cast<float>(sum / (count + 1e-6));
    }
  });
  return out;
}

/// logits (N, C) -> softmax over C in float, row by row (kernels/softmax.hpp's row body). (N, C)
inline Tensor<float> softmax_rows(const Tensor<float>& logits) {
  PSALM_CHECK(logits.defined() && logits.rank() == 2 && logits.size(1) >= 1,
              "softmax_rows: expected (N, C) logits, got ",
              logits.defined() ? logits.shape() : Shape{});
  const Tensor<float> x = logits.contiguous();  // (N, C)
  Tensor<float> out(x.shape());                 // (N, C)
  const kernels::SoftmaxRows<float> rows{x.data(), out.data(), nullptr, x.size(1), 1, false};
  for (std::int64_t r = 0; r < x.size(0); ++r) rows(r);
  return out;
}

/// A view of an (H, W) uint8 mask for the evaluators. The tensor must outlive the view.
inline eval::MaskView mask_view(const Tensor<std::uint8_t>& mask) {
  PSALM_CHECK(mask.defined() && mask.rank() == 2 && mask.is_contiguous(),
              "mask_view: expected a contiguous (H, W) mask, got ",
              mask.defined() ? mask.shape() : Shape{});
  return {mask.data(), mask.size(0), mask.size(1)};
}

/// A view of an (H, W) int32 label / segment-id map for the evaluators.
inline eval::LabelView label_view(const Tensor<std::int32_t>& labels) {
  PSALM_CHECK(labels.defined() && labels.rank() == 2 && labels.is_contiguous(),
              "label_view: expected a contiguous (H, W) map, got ",
              labels.defined() ? labels.shape() : Shape{});
  return {labels.data(), labels.size(0), labels.size(1)};
}

/// Query `q`'s binary mask (logit > 0) from mask logits (Q, H, W). (H, W)
inline Tensor<std::uint8_t> query_mask(const Tensor<float>& logits, std::int64_t q) {
  check_query_masks(logits, "query_mask");
  PSALM_CHECK(q >= 0 && q < logits.size(0), "query_mask: query ", q, " outside the ",
              logits.size(0), " masks");
  const Tensor<float> plane = logits.select(0, q).contiguous();  // (H, W)
  Tensor<std::uint8_t> out(plane.shape());                       // (H, W)
  const float* in = plane.data();
  std::uint8_t* o = out.data();
  for (std::int64_t i = 0; i < plane.numel(); ++i) o[i] = in[i] > 0.0f ? 1 : 0;
  return out;
}

/// One query's mask chosen as the answer (referring top-1, one interactive region).
struct MaskPrediction {
  Tensor<std::uint8_t> mask;  ///< (H0, W0) 0 / 1
  float score = 0.0f;         ///< the query's score
  std::int64_t query = -1;    ///< the chosen query

  eval::MaskView view() const { return mask_view(mask); }
};

}  // namespace psalm
