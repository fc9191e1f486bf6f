// psalm/psalm/inference/panoptic.hpp — panoptic post-processing (PSALM_SPEC §5.1, Mask2Former's
// rule): confident non-background queries compete per pixel by score x mask probability; a
// query keeps its pixels when enough of its own mask survives; stuff classes merge into one
// segment per class, things get a new id each. Gives a segment-id map + segments_info as
// eval/panoptic_quality.hpp reads them (and io/image.hpp's panoptic_ids_to_rgb writes them).
// Depends on: inference/query_masks, inference/sample_outputs, eval/panoptic_quality.
// Test: tests/psalm/test_inference.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/psalm/inference/query_masks.hpp"
#include "psalm/psalm/inference/sample_outputs.hpp"
#include "psalm/tensor.hpp"

namespace psalm {

// Letters: Q queries, C class conditions (C - 1 categories, "background" last), K kept queries,
// H0 W0 original image, P = H0 * W0.

struct PanopticOptions {
  /// A query is kept when its class score is above this (compared in float, as torch compares
  /// a float32 tensor with a Python number).
  float object_mask_threshold = 0.8f;
  /// ... and when at least this share of its mask survives the argmax (a Python float
  /// division compared in double).
  double overlap_threshold = 0.8;
};

/// The panoptic answer for one image, ready for eval::PanopticQuality::add_image
/// (`label_view(segment_ids)`, `segments`) and io::panoptic_ids_to_rgb.
struct PanopticPrediction {
  Tensor<std::int32_t> segment_ids;             ///< (H0, W0) segment id per pixel, 0 = void
  std::vector<eval::PanopticSegment> segments;  ///< id 1.., category_id, area (pixels)
  std::vector<std::int64_t> labels;             ///< class index (0 .. C-2) of each segment
  std::vector<bool> isthing;                    ///< thing flag of each segment
  std::vector<std::int64_t> queries;            ///< the query that opened each segment

  eval::LabelView view() const { return label_view(segment_ids); }
};

/// class_logits (Q, C), masks (Q, H0, W0) mask logits at the original size, `categories` the
/// C - 1 categories in logit order (their `id` becomes each segment's category_id, `isthing`
/// decides merging). Per query: score, label = max / argmax of softmax(class logits); kept when
/// label != C - 1 and score > object_mask_threshold. Per pixel: the kept query k (in query
/// order, first on ties) maximising score_k * sigmoid(mask_k). For each kept query in order:
/// mask_area = its argmax pixels, original_area = pixels with sigmoid >= 0.5, mask = both; it is
/// skipped when any of these is empty or mask_area / original_area < overlap_threshold; a stuff
/// class already seen paints its mask with that class's segment id; otherwise a new id.
/// ref: PSALM llava_phi.py class_name_panoptic_inference (= Mask2Former panoptic_inference).
inline PanopticPrediction panoptic_inference(const Tensor<float>& class_logits,
                                             const Tensor<float>& masks,
                                             std::span<const eval::PanopticCategory> categories,
                                             const PanopticOptions& options = {}) {
  check_query_masks(masks, "panoptic_inference");
  PSALM_CHECK(class_logits.defined() && class_logits.rank() == 2 &&
                  class_logits.size(0) == masks.size(0) && class_logits.size(1) >= 2,
              "panoptic_inference: class logits must be (Q, C) with Q = ", masks.size(0),
              " and C >= 2 (background last), got ",
              class_logits.defined() ? class_logits.shape() : Shape{});
  const std::int64_t q = masks.size(0), c = class_logits.size(1);
  const std::int64_t h = masks.size(1), w = masks.size(2), p = h * w;
  PSALM_CHECK(static_cast<std::int64_t>(categories.size()) == c - 1,
              "panoptic_inference: ", categories.size(), " categories given for ", c - 1,
              " class logits before background");

  const Tensor<float> probs = softmax_rows(class_logits);  // (Q, C)
  std::vector<std::int64_t> kept;                          // (K) query indices
  std::vector<float> kept_scores;
  std::vector<std::int64_t> kept_labels;
  for (std::int64_t i = 0; i < q; ++i) {
    const float* row = probs.data() + i * c;
    std::int64_t label = 0;
    for (std::int64_t j = 1; j < c; ++j)
      if (row[j] > row[label]) label = j;
    if (label != c - 1 && row[label] > options.object_mask_threshold) {
      kept.push_back(i);
      kept_scores.push_back(row[label]);
      kept_labels.push_back(label);
    }
  }

  PanopticPrediction out;
  out.segment_ids = Tensor<std::int32_t>::zeros(Shape{h, w});  // (H0, W0)
  const auto k = static_cast<std::int64_t>(kept.size());
  if (k == 0) return out;

  const Tensor<float> m = masks.contiguous();  // (Q, H0, W0)
  const float* logits = m.data();
  // Per pixel: the winning kept query and whether the pixel lies in its own mask.
  std::vector<std::int32_t> winner(static_cast<std::size_t>(p));
  std::vector<std::uint8_t> inside(static_cast<std::size_t>(p));
  {
    const std::int64_t* kq = kept.data();
    const float* ks = kept_scores.data();
    std::int32_t* win = winner.data();
    std::uint8_t* in = inside.data();
    Executor<cpu>::launch(p, [=](std::int64_t i) {
      std::int64_t best = 0;
      float best_sig = sigmoid_f(logits[kq[0] * p + i]);
      float best_prob = ks[0] * best_sig;
      for (std::int64_t j = 1; j < k; ++j) {
        const float sig = sigmoid_f(logits[kq[j] * p + i]);
        const float prob = ks[j] * sig;
        if (prob > best_prob) {
          best = j;
          best_prob = prob;
          best_sig = sig;
        }
      }
      win[i] = static_cast<std::int32_t>(best);
      in[i] = best_sig >= 0.5f ? 1 : 0;
    });
  }
  std::vector<std::int64_t> original_area(static_cast<std::size_t>(k), 0);
  {
    const std::int64_t* kq = kept.data();
    std::int64_t* area = original_area.data();
    Executor<cpu>::parallel_for(k, 1, [=](std::int64_t begin, std::int64_t end) {
      for (std::int64_t j = begin; j < end; ++j) {
        std::int64_t n = 0;
        for (std::int64_t i = 0; i < p; ++i) n += sigmoid_f(logits[kq[j] * p + i]) >= 0.5f;
        area[j] = n;
      }
    });
  }
  std::vector<std::int64_t> mask_area(static_cast<std::size_t>(k), 0), both(mask_area);
  for (std::int64_t i = 0; i < p; ++i) {
    ++mask_area[static_cast<std::size_t>(winner[i])];
    both[static_cast<std::size_t>(winner[i])] += inside[i];
  }

  // Decide each kept query's segment id in query order (0: dropped).
  std::vector<std::int32_t> segment_of(static_cast<std::size_t>(k), 0);
  std::map<std::int64_t, std::int32_t> stuff_segment;  // class -> segment id
  std::int32_t next_id = 0;
  for (std::int64_t j = 0; j < k; ++j) {
    const auto u = static_cast<std::size_t>(j);
    if (mask_area[u] == 0 || original_area[u] == 0 || both[u] == 0) continue;
    if (static_cast<double>(mask_area[u]) / static_cast<double>(original_area[u]) <
        options.overlap_threshold)
      continue;
    const std::int64_t label = kept_labels[u];
    const bool thing = categories[static_cast<std::size_t>(label)].isthing;
    if (!thing) {
      const auto it = stuff_segment.find(label);
      if (it != stuff_segment.end()) {
        segment_of[u] = it->second;
        continue;
      }
      stuff_segment[label] = next_id + 1;
    }
    segment_of[u] = ++next_id;
    out.segments.push_back({next_id, categories[static_cast<std::size_t>(label)].id, false, 0});
    out.labels.push_back(label);
    out.isthing.push_back(thing);
    out.queries.push_back(kept[u]);
  }
  std::int32_t* ids = out.segment_ids.data();
  std::vector<std::int64_t> area(static_cast<std::size_t>(next_id) + 1, 0);
  for (std::int64_t i = 0; i < p; ++i) {
    const std::int32_t s = inside[i] ? segment_of[static_cast<std::size_t>(winner[i])] : 0;
    ids[i] = s;
    ++area[static_cast<std::size_t>(s)];
  }
  for (auto& s : out.segments) s.area = area[static_cast<std::size_t>(s.id)];
  return out;
}

/// The same from a sample's outputs: masks are brought to the original size first.
inline PanopticPrediction panoptic_inference(const SampleOutputs& s, const ImageGeometry& g,
                                             std::span<const eval::PanopticCategory> categories,
                                             const PanopticOptions& options = {}) {
  PSALM_CHECK(s.class_logits.defined(), "panoptic_inference: the sample has no class logits ",
              "(the prompt listed no classes)");
  return panoptic_inference(s.class_logits, masks_at_original(s, g), categories, options);
}

}  // namespace psalm
