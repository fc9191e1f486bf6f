// psalm/psalm/inference/semantic.hpp — semantic post-processing (PSALM_SPEC §5.3): per-class
// score maps sum_q softmax(class logits)[q, c] * sigmoid(mask_q) over the non-background
// classes, the label map their argmax. In the semantic-only mode the maps are computed at the
// padded input size and then brought to the original size; in panoptic mode from the masks at
// the original size. Gives a label map as eval/semantic.hpp reads it.
// Depends on: inference/query_masks, inference/sample_outputs, psalm/postprocess, tensor/matmul.
// Test: tests/psalm/test_inference.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"
#include "psalm/psalm/inference/query_masks.hpp"
#include "psalm/psalm/inference/sample_outputs.hpp"
#include "psalm/psalm/postprocess.hpp"
#include "psalm/tensor.hpp"

namespace psalm {

// Letters: Q queries, C class conditions (background last), N dataset classes, m n the masks'
// plane, h w valid extent of the padded input, H0 W0 original image.

struct SemanticOptions {
  /// false (upstream SEG_TASK 'semantic', the semantic benchmarks): score maps at the padded
  /// input size from the masks resized there, then crop + resize to the original; true
  /// (panoptic mode, where eval_seg resizes the masks to the original size first).
  bool at_original_size = false;
  /// Open-vocabulary prompts listing a subset of a dataset's classes: the dataset class of each
  /// prompted class (upstream class_id_mapping) and the dataset's class count N; the maps of
  /// unlisted classes are 0. Empty: the prompted classes are the dataset classes.
  std::vector<std::int64_t> class_ids{};
  std::int64_t num_classes = 0;
};

/// The semantic answer for one image, ready for eval::SemanticEvaluator::add(view(), gt).
struct SemanticPrediction {
  Tensor<float> scores;         ///< (C - 1, H0, W0) score maps, or (N, H0, W0) with class_ids
  Tensor<std::int32_t> labels;  ///< (H0, W0) argmax class (first on ties)

  eval::LabelView view() const { return label_view(labels); }
};

namespace detail {

inline void check_semantic_inputs(const Tensor<float>& class_logits, const Tensor<float>& masks,
                                  const char* who) {
  check_query_masks(masks, who);
  PSALM_CHECK(class_logits.defined() && class_logits.rank() == 2 &&
                  class_logits.size(0) == masks.size(0) && class_logits.size(1) >= 2,
              who, ": class logits must be (Q, C) with Q = ", masks.size(0),
              " and C >= 2 (background last), got ",
              class_logits.defined() ? class_logits.shape() : Shape{});
}

/// class_logits (Q, C), masks (Q, H, W) contiguous logits that this call may overwrite ->
/// (C - 1, H, W) score maps; the masks are turned into probabilities in place.
inline Tensor<float> semantic_scores_consuming(const Tensor<float>& class_logits,
                                               Tensor<float> masks) {
  const std::int64_t q = masks.size(0), c = class_logits.size(1) - 1;
  const std::int64_t h = masks.size(1), w = masks.size(2);
  const Tensor<float> probs = softmax_rows(class_logits).slice(1, 0, c).contiguous();  // (Q, C-1)
  float* m = masks.data();
  Executor<cpu>::launch(masks.numel(), [=](std::int64_t i) { m[i] = sigmoid_f(m[i]); });
  return matmul(probs, masks.view({q, h * w}), {.transpose_a = true})
      .view({c, h, w});  // (C-1, H, W)
}

}  // namespace detail

/// class_logits (Q, C), masks (Q, H, W) mask logits -> (C - 1, H, W) score maps
/// sum_q softmax(class_logits)[q, c] * sigmoid(masks[q]) (a GEMM in float).
/// ref: PSALM llava_phi.py class_name_semantic_inference (einsum "qc,qhw->chw").
inline Tensor<float> semantic_scores(const Tensor<float>& class_logits,
                                     const Tensor<float>& masks) {
  detail::check_semantic_inputs(class_logits, masks, "semantic_scores");
  return detail::semantic_scores_consuming(class_logits, masks.clone());  // (C-1, H, W)
}

/// (C', H, W) score maps -> (H, W) argmax over C' (the first maximum).
inline Tensor<std::int32_t> argmax_labels(const Tensor<float>& scores) {
  PSALM_CHECK(scores.defined() && scores.rank() == 3 && scores.size(0) >= 1,
              "argmax_labels: expected (C, H, W) scores with C >= 1");
  const Tensor<float> s = scores.contiguous();  // (C', H, W)
  const std::int64_t c = s.size(0), p = s.size(1) * s.size(2);
  Tensor<std::int32_t> out(Shape{s.size(1), s.size(2)});  // (H, W)
  const float* in = s.data();
  std::int32_t* o = out.data();
  Executor<cpu>::launch(p, [=](std::int64_t i) {
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < c; ++j)
      if (in[j * p + i] > in[best * p + i]) best = j;
    o[i] = static_cast<std::int32_t>(best);
  });
  return out;
}

/// class_logits (Q, C), mask_logits (Q, m, n) at the decoder's resolution (or any resolution of
/// the padded input), geometry -> score maps and labels at the original size.
/// ref: PSALM llava_phi.py eval_seg (semantic_on; sem_seg_postprocess after the inference unless
/// sem_seg_postprocess_before_inference) and psalm/eval/semantic_segmentation.py (the maps of a
/// class subset written into a dataset-sized zero tensor, later entries overwriting).
inline SemanticPrediction semantic_inference(const Tensor<float>& class_logits,
                                             const Tensor<float>& mask_logits,
                                             const ImageGeometry& g,
                                             const SemanticOptions& options = {}) {
  detail::check_semantic_inputs(class_logits, mask_logits, "semantic_inference");
  g.validate("semantic_inference");
  SemanticPrediction out;
  if (options.at_original_size) {
    out.scores = detail::semantic_scores_consuming(
        class_logits, postprocess_to_original(mask_logits, g));  // (C-1, H0, W0)
  } else {
    // Only the valid window of the padded-size maps survives the crop, and the maps are
    // pixelwise in the masks: compute them on the window of the masks' resize to the padded
    // size (postprocess.hpp's fused resize + crop), then resize that window to the original.
    const Tensor<float> planes = mask_logits.contiguous();  // (Q, m, n)
    Tensor<float> window = detail::resize_planes_bilinear(
        planes, g.padded_height, g.padded_width, g.valid_height, g.valid_width);  // (Q, h, w)
    const Tensor<float> valid =
        detail::semantic_scores_consuming(class_logits, std::move(window));  // (C-1, h, w)
    const ImageGeometry crop{g.original_height, g.original_width, g.valid_height,
                             g.valid_width,     g.valid_height,   g.valid_width};
    out.scores = postprocess_to_original(valid, crop);  // (C-1, H0, W0)
  }
  if (!options.class_ids.empty()) {
    const std::int64_t c = out.scores.size(0), n = options.num_classes;
    PSALM_CHECK(static_cast<std::int64_t>(options.class_ids.size()) == c,
                "semantic_inference: ", options.class_ids.size(), " class ids for ", c,
                " prompted classes");
    const std::int64_t p = out.scores.size(1) * out.scores.size(2);
    Tensor<float> mapped = Tensor<float>::zeros(Shape{n, out.scores.size(1), out.scores.size(2)});
    for (std::int64_t i = 0; i < c; ++i) {
      const std::int64_t id = options.class_ids[static_cast<std::size_t>(i)];
      PSALM_CHECK(id >= 0 && id < n, "semantic_inference: class id ", id, " of prompted class ", i,
                  " is outside the dataset's ", n, " classes");
      std::copy_n(out.scores.data() + i * p, p, mapped.data() + id * p);  // (H0, W0)
    }
    out.scores = mapped;  // (N, H0, W0)
  }
  out.labels = argmax_labels(out.scores);  // (H0, W0)
  return out;
}

/// The same from a sample's outputs.
inline SemanticPrediction semantic_inference(const SampleOutputs& s, const ImageGeometry& g,
                                             const SemanticOptions& options = {}) {
  PSALM_CHECK(s.class_logits.defined(), "semantic_inference: the sample has no class logits ",
              "(the prompt listed no classes)");
  return semantic_inference(s.class_logits, s.masks, g, options);
}

}  // namespace psalm
