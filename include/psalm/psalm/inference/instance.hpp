// psalm/psalm/inference/instance.hpp — instance post-processing (PSALM_SPEC §5.2): the top-k
// (query, class) pairs by class probability, each with the query's binary mask (logit > 0) and
// score = class probability x mean mask probability; in panoptic mode thing classes only.
// Gives COCO detections (RLE masks) as eval/coco_instance.hpp reads them.
// Depends on: inference/query_masks, inference/sample_outputs, eval/coco_instance, io/rle.
// Test: tests/psalm/test_inference.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <span>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/coco_instance.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/psalm/inference/query_masks.hpp"
#include "psalm/psalm/inference/sample_outputs.hpp"
#include "psalm/tensor.hpp"

namespace psalm {

// Letters: Q queries, C class conditions (background last), H0 W0 original image.

struct InstanceOptions {
  /// How many (query, class) pairs to keep; 0 = Q (upstream test_topk_per_image is the number
  /// of queries). Clamped to Q x (C - 1).
  std::int64_t top_k = 0;
  /// Panoptic mode (upstream panoptic_on): drop pairs of stuff classes after the top-k.
  bool things_only = false;
  /// The image id written into every detection.
  std::int64_t image_id = 0;
};

/// The detections of one image, by class probability (descending; ties by query, then class).
struct InstancePrediction {
  std::vector<eval::CocoDetection> detections;  ///< image_id, category_id, score, RLE mask
  std::vector<std::int64_t> queries;            ///< the query of each detection
  std::vector<std::int64_t> labels;             ///< its class index (0 .. C-2)
};

/// class_logits (Q, C), masks (Q, H0, W0) mask logits at the original size, `categories` the
/// C - 1 categories in logit order (category_id := their id; needed for things_only) or empty
/// (category_id := the class index). Softmax over C, background dropped, flattened to
/// Q x (C - 1) pairs, the top_k kept; score = probability x mask_scores(masks)[query].
/// ref: PSALM llava_phi.py class_name_instance_inference (topk with sorted=False: the same set,
/// order unspecified; here ordered by probability).
inline InstancePrediction instance_inference(
    const Tensor<float>& class_logits, const Tensor<float>& masks,
    std::span<const eval::PanopticCategory> categories = {}, const InstanceOptions& options = {}) {
  check_query_masks(masks, "instance_inference");
  PSALM_CHECK(class_logits.defined() && class_logits.rank() == 2 &&
                  class_logits.size(0) == masks.size(0) && class_logits.size(1) >= 2,
              "instance_inference: class logits must be (Q, C) with Q = ", masks.size(0),
              " and C >= 2 (background last), got ",
              class_logits.defined() ? class_logits.shape() : Shape{});
  const std::int64_t q = masks.size(0), c = class_logits.size(1) - 1;
  const std::int64_t h = masks.size(1), w = masks.size(2);
  PSALM_CHECK(categories.empty() || static_cast<std::int64_t>(categories.size()) == c,
              "instance_inference: ", categories.size(), " categories given for ", c,
              " class logits before background");
  PSALM_CHECK(!options.things_only || !categories.empty(),
              "instance_inference: things_only needs the categories (their thing flags)");
  PSALM_CHECK(options.top_k >= 0, "instance_inference: top_k must be >= 0, got ", options.top_k);

  const Tensor<float> probs = softmax_rows(class_logits);  // (Q, C + 1)
  std::vector<float> flat(static_cast<std::size_t>(q * c));
  for (std::int64_t i = 0; i < q; ++i)
    for (std::int64_t j = 0; j < c; ++j) flat[i * c + j] = probs.data()[i * (c + 1) + j];
  const std::int64_t k = std::min(options.top_k == 0 ? q : options.top_k, q * c);
  std::vector<std::int64_t> order(flat.size());
  std::iota(order.begin(), order.end(), std::int64_t{0});
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](std::int64_t a, std::int64_t b) {
                      return flat[a] > flat[b] || (flat[a] == flat[b] && a < b);
                    });

  const std::vector<float> mask_score = mask_scores(masks);
  const Tensor<float> m = masks.contiguous();  // (Q, H0, W0)
  std::map<std::int64_t, io::Rle> rles;        // query -> its binary mask as RLE
  std::vector<std::uint8_t> binary(static_cast<std::size_t>(h * w));
  InstancePrediction out;
  for (std::int64_t r = 0; r < k; ++r) {
    const std::int64_t index = order[static_cast<std::size_t>(r)];
    const std::int64_t query = index / c, label = index % c;
    if (options.things_only && !categories[static_cast<std::size_t>(label)].isthing) continue;
    auto it = rles.find(query);
    if (it == rles.end()) {
      const float* x = m.data() + query * h * w;
      for (std::int64_t i = 0; i < h * w; ++i) binary[i] = x[i] > 0.0f ? 1 : 0;
      it = rles.emplace(query, io::rle_encode(binary.data(), h, w)).first;
    }
    eval::CocoDetection d;
    d.image_id = options.image_id;
    d.category_id = categories.empty() ? label : categories[static_cast<std::size_t>(label)].id;
    d.score = flat[static_cast<std::size_t>(index)] * mask_score[static_cast<std::size_t>(query)];
    d.segmentation = it->second;
    out.detections.push_back(std::move(d));
    out.queries.push_back(query);
    out.labels.push_back(label);
  }
  return out;
}

/// The same from a sample's outputs: masks are brought to the original size first.
inline InstancePrediction instance_inference(
    const SampleOutputs& s, const ImageGeometry& g,
    std::span<const eval::PanopticCategory> categories = {}, const InstanceOptions& options = {}) {
  PSALM_CHECK(s.class_logits.defined(), "instance_inference: the sample has no class logits ",
              "(the prompt listed no classes)");
  return instance_inference(s.class_logits, masks_at_original(s, g), categories, options);
}

}  // namespace psalm
