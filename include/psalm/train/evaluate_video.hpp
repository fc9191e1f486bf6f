// psalm/train/evaluate_video.hpp — zero-shot video object segmentation of held-out videos
// through the interactive path, as PSALM evaluates DAVIS (PSALM_SPEC §5.6): the first frame's
// annotated masks are the visual prompts; every frame t is the <image>, its regions pooled from
// the image tokens of the reference frame that the tracker keeps (the first frame and its
// annotation, or with memory the last consistent frame and its predicted masks); the index maps
// are scored by eval::VideoEvaluator (J, F and J&F of the DAVIS 2017 toolkit). The scheme is
// psalm/inference/video_tracking's; this file answers its frames with the model.
// Host code: frames are encoded and scored on the CPU (psalm/inputs.hpp, eval/video).
// Depends on: train/evaluate (EvaluationResult), psalm/{model, inputs, inference/video_tracking},
// eval/video. Test: tests/train/test_evaluate_video.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/eval/video.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/psalm/inference/sample_outputs.hpp"
#include "psalm/psalm/inference/video_tracking.hpp"
#include "psalm/psalm/inputs.hpp"
#include "psalm/psalm/model.hpp"
#include "psalm/train/evaluate.hpp"

namespace psalm::train {

// Letters: K objects, H0 W0 a frame, T input side, N image tokens, D LLM width.

struct VideoEvaluateOptions {
  /// Videos run side by side (one frame of each per forward pass).
  std::int64_t batch_size = 8;
  VideoObjectOptions tracking{};   ///< candidates, memory (upstream's default: on)
  eval::VideoProtocol protocol{};  ///< semi-supervised DAVIS: first and last frame not scored
  /// Called after each group of videos with (videos done, total).
  std::function<void(std::int64_t, std::int64_t)> progress{};
};

namespace detail {

/// Whether some plane of masks (K, T, T) has no pixel.
inline bool any_plane_empty(const Tensor<std::uint8_t>& masks) {
  const Tensor<std::uint8_t> m = masks.contiguous();  // (K, T, T)
  const std::int64_t plane = m.size(1) * m.size(2);
  for (std::int64_t k = 0; k < m.size(0); ++k)
    if (std::none_of(m.data() + k * plane, m.data() + (k + 1) * plane,
                     [](std::uint8_t v) { return v != 0; }))
      return true;
  return false;
}

template <Device Dev>
PsalmBatch<float, Dev> batch_on(const PsalmBatch<float>& b) {
  if constexpr (std::is_same_v<Dev, cpu>) {
    return b;
  } else {
    PsalmBatch<float, Dev> out;
    out.task = b.task;
    out.pixels = b.pixels.template to<Dev>();
    out.sequence = b.sequence;
    for (const auto& p : b.region_points) out.region_points.push_back(p.template to<Dev>());
    return out;
  }
}

/// The model's answers to one frame index of several videos: one interactive batch, each
/// sample's regions pooled from its reference frame's image tokens (the memo: (N, D)). A
/// remembered mask that vanishes when resized to the input leaves nothing to pool: that frame
/// is prompted from the first frame and its annotation instead.
template <Device Dev>
std::vector<VideoFrameAnswer<Tensor<float, Dev>>> answer_frames(
    PsalmModel<float, Dev>& model, const InputEncoder& encoder,
    const std::vector<VideoFrameRequest<Tensor<float, Dev>>>& requests) {
  std::vector<EncodedExample> encoded;
  std::vector<Tensor<float, Dev>> tokens;
  bool other_tokens = false;
  for (const auto& q : requests) {
    Example ex;
    ex.task = Task::interactive;
    ex.image = q.video->frames[static_cast<std::size_t>(q.frame)];
    ex.prompt_masks = q.prompts;  // (K, H0, W0)
    ex.prompt_kinds.assign(static_cast<std::size_t>(q.prompts.size(0)), VisualPromptKind::mask);
    const Tensor<float, Dev>* reference = q.reference;
    if (any_plane_empty(encoder.masks_to_input(q.prompts))) {
      PSALM_CHECK(q.first != nullptr && !any_plane_empty(encoder.masks_to_input(*q.first_prompts)),
                  "evaluate_video: '", q.video->name, "': an object of the first annotation ",
                  "vanishes at the model's input size");
      ex.prompt_masks = *q.first_prompts;
      reference = q.first;
    }
    encoded.push_back(encoder.encode(ex));
    tokens.push_back(reference != nullptr ? *reference : Tensor<float, Dev>());
    other_tokens = other_tokens || reference != nullptr;
  }
  const EncodedBatch batch = collate(encoded);
  PsalmBatch<float, Dev> inputs = batch_on<Dev>(batch.inputs);
  if (other_tokens) inputs.region_tokens = std::move(tokens);
  const PsalmOutput<float, Dev> result = model(inputs);
  std::vector<VideoFrameAnswer<Tensor<float, Dev>>> out;
  for (std::size_t b = 0; b < requests.size(); ++b) {
    const auto sample = static_cast<std::int64_t>(b);
    const SampleOutputs s = sample_outputs(result.last(), sample);
    out.push_back({s.region_logits, masks_at_original(s, batch.geometries[b]),
                   result.image_tokens.value().select(0, sample).clone()});  // memo (N, D)
  }
  return out;
}

}  // namespace detail

/// Runs `model` over `count` videos from `source` (index -> VideoExample, objects numbered
/// 1..K in the first annotation) through track_videos and scores them. Metrics: "jf", "j",
/// "f" (means over all objects), "j_recall", "f_recall", "j_decay", "f_decay"; task is
/// interactive (the path it runs). The model is put in eval mode and left there.
template <Device Dev>
EvaluationResult evaluate_video(PsalmModel<float, Dev>& model, const InputEncoder& encoder,
                                const std::function<VideoExample(std::int64_t)>& source,
                                std::int64_t count, const VideoEvaluateOptions& options = {}) {
  PSALM_CHECK(count >= 1, "evaluate_video: no videos");
  PSALM_CHECK(options.batch_size >= 1, "evaluate_video: batch size must be positive");
  model.eval();
  const autograd::NoGrad no_grad;
  eval::VideoEvaluator evaluator(options.protocol);
  EvaluationResult out;
  out.task = Task::interactive;
  using Memo = Tensor<float, Dev>;
  track_videos<Memo>(
      source, count, {.batch_size = options.batch_size, .tracking = options.tracking},
      [&](const std::vector<VideoFrameRequest<Memo>>& requests) {
        return detail::answer_frames<Dev>(model, encoder, requests);
      },
      [&](std::int64_t, const VideoExample& video,
          const std::vector<Tensor<std::int32_t>>& index_maps) {
        std::vector<eval::LabelView> pred, gt;
        for (std::size_t t = 0; t < index_maps.size(); ++t) {
          pred.push_back(label_view(index_maps[t]));
          gt.push_back(label_view(video.annotations[t]));
        }
        evaluator.add_sequence(video.name, pred, gt);
        ++out.examples;
      },
      options.progress);
  const eval::VideoResult r = evaluator.result();
  out.metrics = {{"jf", r.jf_mean},        {"j", r.j_mean},          {"f", r.f_mean},
                 {"j_recall", r.j_recall}, {"f_recall", r.f_recall}, {"j_decay", r.j_decay},
                 {"f_decay", r.f_decay}};
  out.report = r.to_string();
  return out;
}

}  // namespace psalm::train
