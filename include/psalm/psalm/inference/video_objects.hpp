// psalm/psalm/inference/video_objects.hpp — zero-shot video object segmentation with the
// reference-frame / memory scheme of PSALM_SPEC §5.6 (DAVIS): each frame is segmented from
// visual prompts (one region per object) taken from a reference image; per object the best of
// its top-10 queries not already taken by an earlier object is kept; the masks are painted in
// object order into an index map; with memory, the last frame whose masks are pairwise
// consistent (IoU <= 0.4) becomes the next reference. The per-frame logic over the model's
// outputs is here; a driver only runs the model on (frame, reference) pairs.
// Depends on: inference/interactive (region scores), inference/query_masks, eval/mask_view.
// Test: tests/psalm/test_inference.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"
#include "psalm/psalm/inference/interactive.hpp"
#include "psalm/psalm/inference/query_masks.hpp"
#include "psalm/psalm/inference/sample_outputs.hpp"
#include "psalm/tensor.hpp"

namespace psalm {

// Letters: K objects (one region each, in object order), Q queries, H0 W0 original image.

struct VideoObjectOptions {
  /// Queries considered per object, best first (upstream topk 10); clamped to Q.
  std::int64_t candidates = 10;
  /// Prompt each frame from the last consistent frame and its predictions (upstream
  /// with_memory, the default); false: always from the first frame and its annotation.
  bool with_memory = true;
  /// A frame's predictions are consistent (usable as memory) when no pair of object masks has
  /// an IoU above this.
  double memory_max_iou = 0.4;
};

/// One frame's answer.
struct VideoFramePrediction {
  std::vector<std::int64_t> queries;        ///< (K) the query picked for each object
  std::vector<float> scores;                ///< (K) its region score
  std::vector<Tensor<std::uint8_t>> masks;  ///< (K) of (H0, W0) 0 / 1: each object's own mask
  Tensor<std::int32_t> index_map;  ///< (H0, W0) object ids painted in object order, 0 elsewhere
  bool consistent = true;          ///< masks_consistent(masks, memory_max_iou)

  /// For eval::VideoEvaluator::add_sequence (one view per frame).
  eval::LabelView view() const { return label_view(index_map); }

  /// The index map as palette indices for io::save_indexed_png (the DAVIS annotation format);
  /// object ids must lie in 0..255.
  Tensor<std::uint8_t> palette_indices() const {
    Tensor<std::uint8_t> out(index_map.shape());  // (H0, W0)
    const Tensor<std::int32_t> ids = index_map.contiguous();
    for (std::int64_t i = 0; i < ids.numel(); ++i) {
      PSALM_CHECK(ids.data()[i] >= 0 && ids.data()[i] <= 255, "palette_indices: object id ",
                  ids.data()[i], " does not fit an 8-bit indexed PNG");
      out.data()[i] = static_cast<std::uint8_t>(ids.data()[i]);
    }
    return out;
  }
};

/// scores (K, Q) -> per object, in object order, the first of its `candidates` best queries
/// (by score, the lower query first on ties) not picked by an earlier object. When all of them
/// are taken the object keeps the previous object's pick (upstream's loop variable is not
/// reset), so two objects then share a query; with K <= candidates this cannot happen.
/// Returns (query, score) per object.
/// ref: PSALM psalm/eval/eval_davis.py evaluation (topk(cur_scores, 10), `prev_idx`).
inline std::vector<std::pair<std::int64_t, float>> select_object_queries(
    const Tensor<float>& scores, std::int64_t candidates) {
  PSALM_CHECK(scores.defined() && scores.rank() == 2 && scores.size(1) >= 1,
              "select_object_queries: scores must be (K, Q) with Q >= 1");
  PSALM_CHECK(candidates >= 1, "select_object_queries: candidates must be >= 1, got ", candidates);
  const Tensor<float> s = scores.contiguous();  // (K, Q)
  const std::int64_t k = s.size(0), q = s.size(1), top = std::min(candidates, q);
  std::vector<std::pair<std::int64_t, float>> picks;
  std::vector<bool> taken(static_cast<std::size_t>(q), false);
  std::pair<std::int64_t, float> pick{-1, 0.0f};
  std::vector<std::int64_t> order(static_cast<std::size_t>(q));
  for (std::int64_t obj = 0; obj < k; ++obj) {
    const float* row = s.data() + obj * q;
    std::iota(order.begin(), order.end(), std::int64_t{0});
    std::partial_sort(order.begin(), order.begin() + top, order.end(),
                      [row](std::int64_t a, std::int64_t b) {
                        return row[a] > row[b] || (row[a] == row[b] && a < b);
                      });
    for (std::int64_t i = 0; i < top; ++i) {
      const std::int64_t query = order[static_cast<std::size_t>(i)];
      if (!taken[static_cast<std::size_t>(query)]) {
        taken[static_cast<std::size_t>(query)] = true;
        pick = {query, row[query]};
        break;
      }
    }
    picks.push_back(pick);
  }
  return picks;
}

/// masks (K) of (H, W) 0 / 1 and their ids -> (H, W) index map: each mask painted with its id
/// in order (later objects overwrite earlier ones), 0 where none.
/// ref: PSALM psalm/eval/eval_davis.py fuse_davis_mask.
inline Tensor<std::int32_t> paint_objects(std::span<const Tensor<std::uint8_t>> masks,
                                          std::span<const std::int32_t> ids, std::int64_t height,
                                          std::int64_t width) {
  PSALM_CHECK(masks.size() == ids.size(), "paint_objects: ", masks.size(), " masks but ",
              ids.size(), " ids");
  Tensor<std::int32_t> out = Tensor<std::int32_t>::zeros(Shape{height, width});  // (H, W)
  std::int32_t* o = out.data();
  for (std::size_t k = 0; k < masks.size(); ++k) {
    PSALM_CHECK(masks[k].rank() == 2 && masks[k].size(0) == height && masks[k].size(1) == width,
                "paint_objects: mask ", k, " is ", masks[k].shape(), ", expected (", height, ", ",
                width, ")");
    const Tensor<std::uint8_t> m = masks[k].contiguous();  // (H, W)
    for (std::int64_t i = 0; i < height * width; ++i)
      if (m.data()[i] == 1) o[i] = ids[k];
  }
  return out;
}

/// Whether no pair of masks overlaps with IoU > max_iou (two empty masks: IoU undefined, not
/// above). ref: PSALM psalm/eval/eval_davis.py (memory_correct_flag).
inline bool masks_consistent(std::span<const Tensor<std::uint8_t>> masks, double max_iou) {
  std::vector<Tensor<std::uint8_t>> m;
  for (const auto& x : masks) m.push_back(x.contiguous());
  for (std::size_t i = 0; i < m.size(); ++i)
    for (std::size_t j = i + 1; j < m.size(); ++j) {
      PSALM_CHECK(m[i].shape() == m[j].shape(), "masks_consistent: masks ", i, " and ", j,
                  " differ in shape: ", m[i].shape(), " vs ", m[j].shape());
      std::int64_t inter = 0, uni = 0;
      for (std::int64_t p = 0; p < m[i].numel(); ++p) {
        const bool a = m[i].data()[p] != 0, b = m[j].data()[p] != 0;
        inter += a && b;
        uni += a || b;
      }
      if (uni > 0 && static_cast<double>(inter) / static_cast<double>(uni) > max_iou) return false;
    }
  return true;
}

/// One frame: region_logits (K, Q) of the objects' prompts, masks (Q, H0, W0) mask logits at
/// the original size, the objects' ids (K) -> the picks, masks, index map and consistency.
inline VideoFramePrediction video_frame_inference(const Tensor<float>& region_logits,
                                                  const Tensor<float>& masks,
                                                  std::span<const std::int32_t> object_ids,
                                                  const VideoObjectOptions& options = {}) {
  const Tensor<float> scores = region_scores(region_logits, masks);  // (K, Q)
  PSALM_CHECK(scores.size(0) == static_cast<std::int64_t>(object_ids.size()),
              "video_frame_inference: ", scores.size(0), " regions but ", object_ids.size(),
              " object ids");
  VideoFramePrediction out;
  for (const auto& [query, score] : select_object_queries(scores, options.candidates)) {
    out.queries.push_back(query);
    out.scores.push_back(score);
    out.masks.push_back(query_mask(masks, query));  // (H0, W0)
  }
  out.index_map = paint_objects(out.masks, object_ids, masks.size(1), masks.size(2));
  out.consistent = masks_consistent(out.masks, options.memory_max_iou);
  return out;
}

/// The scheme over a whole video. Start with the first frame's annotation (one mask per
/// object, at the original size, in object order, with the ids the index maps carry); then for
/// every frame t in order (the first one included): prompt the model with the image of
/// `reference_frame()` and the regions `reference_masks()` (rasterised like any mask prompt),
/// segment frame t, and hand the outputs to `step(t, ...)`.
/// ref: PSALM psalm/eval/eval_davis.py evaluation (with_memory) and llava_phi.py
/// PSALMForDAVISEval (vp_images: the reference image, images: the current frame).
class VideoObjectTracker {
 public:
  VideoObjectTracker(std::vector<Tensor<std::uint8_t>> first_masks,
                     std::vector<std::int32_t> object_ids, VideoObjectOptions options = {})
      : object_ids_(std::move(object_ids)), options_(options), masks_(std::move(first_masks)) {
    PSALM_CHECK(masks_.size() == object_ids_.size(), "VideoObjectTracker: ", masks_.size(),
                " first-frame masks but ", object_ids_.size(), " object ids");
    for (std::size_t k = 0; k < masks_.size(); ++k)
      PSALM_CHECK(masks_[k].defined() && masks_[k].rank() == 2, "VideoObjectTracker: mask ", k,
                  " must be (H0, W0)");
  }

  /// The frame whose image the next frame's prompts are taken from (0: the first frame).
  std::int64_t reference_frame() const { return frame_; }
  /// The prompts for the next frame: one mask per object, in object order.
  const std::vector<Tensor<std::uint8_t>>& reference_masks() const { return masks_; }
  /// Whether the reference is a remembered prediction (false: the first frame's annotation).
  bool from_memory() const { return from_memory_; }
  const std::vector<std::int32_t>& object_ids() const { return object_ids_; }
  const VideoObjectOptions& options() const { return options_; }

  /// Frame `frame`'s outputs (prompted with the current reference) -> its answer; with memory,
  /// a consistent answer in which every object has at least one pixel becomes the reference of
  /// the next frame (an empty mask leaves nothing to pool a region from; upstream does not
  /// check, DAVIS objects rarely vanish).
  VideoFramePrediction step(std::int64_t frame, const Tensor<float>& region_logits,
                            const Tensor<float>& masks) {
    VideoFramePrediction out = video_frame_inference(region_logits, masks, object_ids_, options_);
    const bool every_object = std::all_of(out.masks.begin(), out.masks.end(), [](const auto& m) {
      const Tensor<std::uint8_t> c = m.contiguous();  // (H0, W0)
      return std::any_of(c.data(), c.data() + c.numel(), [](std::uint8_t v) { return v != 0; });
    });
    if (options_.with_memory && out.consistent && every_object) {
      frame_ = frame;
      masks_ = out.masks;
      from_memory_ = true;
    }
    return out;
  }

  /// The same from a sample's outputs: masks are brought to the original size first.
  VideoFramePrediction step(std::int64_t frame, const SampleOutputs& s, const ImageGeometry& g) {
    PSALM_CHECK(s.region_logits.defined(), "VideoObjectTracker::step: the sample has no region ",
                "logits (the prompt held no visual prompt)");
    return step(frame, s.region_logits, masks_at_original(s, g));
  }

 private:
  std::vector<std::int32_t> object_ids_;
  VideoObjectOptions options_;
  std::vector<Tensor<std::uint8_t>> masks_;  // (K) of (H0, W0): the current reference's regions
  std::int64_t frame_ = 0;
  bool from_memory_ = false;
};

}  // namespace psalm
