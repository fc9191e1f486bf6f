// psalm/train/evaluate.hpp — a model run over held-out examples of one task and scored with
// the evaluators of eval/ (the same ones `psalm score` uses): panoptic PQ, referring cIoU /
// gIoU, generalized referring gIoU / N-acc / T-acc (with an explicit no-target answer),
// interactive mIoU per prompt kind. Inference as in deployment: eval mode, canonical class
// order, strided visual-prompt points, post-processing at the original image size.
// Depends on: psalm/{model, inputs, inference/task_inference}, eval/*. Test: tests/train/test_evaluate.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/eval/gres.hpp"
#include "psalm/eval/interactive.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/eval/referring.hpp"
#include "psalm/psalm/inference/sample_outputs.hpp"
#include "psalm/psalm/inference/task_inference.hpp"
#include "psalm/psalm/inputs.hpp"
#include "psalm/psalm/model.hpp"

namespace psalm::train {

struct EvaluateOptions {
  std::int64_t batch_size = 8;
  /// gRES: answer "no target" when no query scores above the union threshold (the official
  /// rule never does; with it, N-acc measures something).
  GresOptions gres = GresOptions::with_no_target();
  /// Called after each batch with (examples done, total).
  std::function<void(std::int64_t, std::int64_t)> progress;
  /// Called with every example's answer (index, example, answer) before it is scored:
  /// `psalm eval --save-predictions` writes them out.
  std::function<void(std::int64_t, const Example&, const TaskPrediction&)> on_prediction{};
};

/// Metrics of one task: the headline numbers as fractions in [0, 1] ("metrics") and the
/// evaluator's own report ("report").
struct EvaluationResult {
  Task task = Task::panoptic;
  std::int64_t examples = 0;
  nlohmann::json metrics = nlohmann::json::object();
  std::string report;
};

namespace detail {

inline eval::MaskView mask_plane(const Tensor<std::uint8_t>& masks, std::int64_t n) {
  return {masks.data() + n * masks.size(1) * masks.size(2), masks.size(1), masks.size(2)};
}

/// The ground truth of a classes example as a panoptic id map (segment n + 1 for target n,
/// category label + 1) with its segments.
inline void panoptic_ground_truth(const Example& ex, Tensor<std::int32_t>& ids,
                                  std::vector<eval::PanopticSegment>& segments) {
  const std::int64_t h = ex.image.size(0), w = ex.image.size(1);
  ids = Tensor<std::int32_t>::zeros(Shape{h, w});
  for (std::int64_t n = 0; n < ex.num_targets(); ++n) {
    const std::uint8_t* m = ex.target_masks.data() + n * h * w;
    std::int64_t area = 0;
    for (std::int64_t p = 0; p < h * w; ++p)
      if (m[p]) ids.data()[p] = static_cast<std::int32_t>(n + 1), ++area;
    segments.push_back({n + 1, ex.target_labels[static_cast<std::size_t>(n)] + 1, false, area});
  }
}

}  // namespace detail

/// Runs `model` over `count` examples of `task` from `source` (index -> Example) and scores
/// them. The model is put in eval mode and left there.
template <Device Dev>
EvaluationResult evaluate(PsalmModel<float, Dev>& model, const InputEncoder& encoder, Task task,
                          const std::function<Example(std::int64_t)>& source, std::int64_t count,
                          const EvaluateOptions& options = {}) {
  PSALM_CHECK(count >= 1, "evaluate: no examples");
  PSALM_CHECK(options.batch_size >= 1, "evaluate: batch size must be positive");
  model.eval();
  const autograd::NoGrad no_grad;
  EvaluationResult out;
  out.task = task;
  std::vector<eval::PanopticCategory> categories;
  std::optional<eval::PanopticQuality> pq;
  eval::ReferringEvaluator referring;
  eval::GresEvaluator gres;
  eval::InteractiveEvaluator interactive;
  for (std::int64_t start = 0; start < count; start += options.batch_size) {
    const std::int64_t end = std::min(count, start + options.batch_size);
    std::vector<Example> examples;
    std::vector<EncodedExample> encoded;
    for (std::int64_t i = start; i < end; ++i) {
      examples.push_back(source(i));
      PSALM_CHECK(examples.back().task == task, "evaluate: example ", i, " is a ",
                  to_string(examples.back().task), " example, not ", to_string(task));
      encoded.push_back(encoder.encode(examples.back()));
    }
    const EncodedBatch batch = collate(encoded);
    const PsalmOutput<float, Dev> result = model(batch.inputs);
    for (std::size_t b = 0; b < examples.size(); ++b) {
      const Example& ex = examples[b];
      const SampleOutputs s = sample_outputs(result.last(), static_cast<std::int64_t>(b));
      if (condition_kind(task) == ConditionKind::classes && !pq) {
        categories = example_categories(ex);
        pq.emplace(categories);
      }
      // Every classes task is scored by PQ, so it is post-processed by the panoptic rule.
      const Task rule = condition_kind(task) == ConditionKind::classes ? Task::panoptic : task;
      const TaskPrediction pred =
          task_inference(rule, s, batch.geometries[b], categories, {.gres = options.gres});
      if (options.on_prediction)
        options.on_prediction(start + static_cast<std::int64_t>(b), ex, pred);
      switch (condition_kind(task)) {
        case ConditionKind::classes: {
          Tensor<std::int32_t> gt_ids;
          std::vector<eval::PanopticSegment> gt_segments;
          detail::panoptic_ground_truth(ex, gt_ids, gt_segments);
          pq->add_image(start + static_cast<std::int64_t>(b),
                        {gt_ids.data(), gt_ids.size(0), gt_ids.size(1)}, gt_segments,
                        pred.panoptic.view(), pred.panoptic.segments);
          break;
        }
        case ConditionKind::referring: {
          // The ground truth: the union of the target masks (empty for no target).
          const std::int64_t h = ex.image.size(0), w = ex.image.size(1);
          Tensor<std::uint8_t> gt = Tensor<std::uint8_t>::zeros(Shape{h, w});
          for (std::int64_t n = 0; n < ex.num_targets(); ++n)
            for (std::int64_t p = 0; p < h * w; ++p)
              gt.data()[p] |= ex.target_masks.data()[n * h * w + p];
          const eval::MaskView gt_view{gt.data(), h, w};
          if (task == Task::gres)
            gres.add(pred.gres.view(), gt_view, pred.gres.no_target, ex.num_targets() == 0);
          else
            referring.add(pred.referring.view(), gt_view);
          break;
        }
        case ConditionKind::regions: {
          for (std::int64_t k = 0; k < ex.num_regions(); ++k) {
            const auto kind = ex.prompt_kinds.empty()
                                  ? eval::PromptType::point
                                  : static_cast<eval::PromptType>(
                                        ex.prompt_kinds[static_cast<std::size_t>(k)]);
            interactive.add(kind, pred.regions[static_cast<std::size_t>(k)].view(),
                            detail::mask_plane(ex.target_masks, k));
          }
          break;
        }
      }
    }
    out.examples = end;
    if (options.progress) options.progress(end, count);
  }
  switch (condition_kind(task)) {
    case ConditionKind::classes: {
      const eval::PanopticQualityResult r = pq->result();
      out.metrics = {{"pq", r.all.pq}, {"sq", r.all.sq}, {"rq", r.all.rq},
                     {"pq_things", r.things.pq}, {"pq_stuff", r.stuff.pq}};
      out.report = r.to_string();
      break;
    }
    case ConditionKind::referring:
      if (task == Task::gres) {
        const eval::GresResult r = gres.result();
        out.metrics = {{"giou", r.giou}, {"ciou", r.ciou}, {"n_acc", r.n_acc}, {"t_acc", r.t_acc}};
        out.report = r.to_string();
      } else {
        const eval::ReferringResult r = referring.result();
        out.metrics = {{"ciou", r.ciou}, {"giou", r.giou}};
        out.report = r.to_string();
      }
      break;
    case ConditionKind::regions: {
      const eval::InteractiveResult r = interactive.result();
      out.metrics = {{"miou", r.overall.giou}, {"ciou", r.overall.ciou}};
      for (std::size_t t = 0; t < eval::kPromptTypeCount; ++t)
        if (r.per_type[t].samples > 0)
          out.metrics[std::string("miou_") + eval::to_string(static_cast<eval::PromptType>(t))] =
              r.per_type[t].giou;
      out.report = r.to_string();
      break;
    }
  }
  return out;
}

}  // namespace psalm::train
