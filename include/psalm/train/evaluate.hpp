// psalm/train/evaluate.hpp — a model run over held-out examples of one task and scored with
// the evaluators of eval/ (the same ones `psalm score` uses): panoptic PQ (and instance AP;
// both also on a named subset of classes: open vocabulary), referring cIoU / gIoU, generalized
// referring gIoU / N-acc / T-acc (with an explicit no-target answer), interactive mIoU per
// prompt kind. Inference as in deployment: eval mode, canonical class
// order, strided visual-prompt points, post-processing at the original image size.
// Depends on: psalm/{model, inputs, inference/task_inference}, eval/*. Test:
// tests/train/test_evaluate.cpp.
// Host code: encoding (psalm/inputs.hpp) and post-processing (psalm/inference/) run on the CPU.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/eval/coco_instance.hpp"
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
  /// Classes tasks: also score COCO instance AP ("ap", "ap50", "ap75") from the same outputs,
  /// with instance_inference in panoptic mode (thing classes only), as Mask2Former evaluates
  /// instances of a panoptic model; the ground truth is every thing segment.
  bool instance_ap = false;
  /// Classes tasks: names among the listed classes whose PQ (and AP) is also reported on its
  /// own, "pq_held_out" / "ap_held_out", besides "pq_seen" / "ap_seen" over the others (open
  /// vocabulary: the categories held out of training, named at test time). Empty: off.
  std::vector<std::string> held_out_classes{};
  /// Called after each batch with (examples done, total).
  std::function<void(std::int64_t, std::int64_t)> progress{};
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

/// The thing targets of a classes example as COCO instance annotations of image `image_id`
/// (category id = label + 1, area = the mask's pixels, ids counting on from those in `gt`).
inline void add_instance_ground_truth(const Example& ex, std::int64_t image_id,
                                      const std::vector<eval::PanopticCategory>& categories,
                                      eval::CocoGroundTruth& gt) {
  const std::int64_t h = ex.image.size(0), w = ex.image.size(1);
  gt.images.push_back({image_id, h, w});
  for (std::int64_t n = 0; n < ex.num_targets(); ++n) {
    const eval::PanopticCategory& c =
        categories.at(static_cast<std::size_t>(ex.target_labels[static_cast<std::size_t>(n)]));
    if (!c.isthing) continue;
    const eval::MaskView m = mask_plane(ex.target_masks, n);
    std::int64_t area = 0;
    for (std::int64_t p = 0; p < h * w; ++p) area += m.data[p] != 0;
    gt.annotations.push_back({static_cast<std::int64_t>(gt.annotations.size()) + 1, image_id, c.id,
                              false, static_cast<double>(area), eval::rle_from_mask(m)});
  }
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

/// Mean PQ over the categories of `ids` that count (tp + fp + fn > 0), or NaN when none does.
inline double mean_pq(const eval::PanopticQualityResult& r, const std::vector<std::int64_t>& ids) {
  double sum = 0;
  std::int64_t n = 0;
  for (std::int64_t id : ids) {
    const auto it = r.per_class.find(id);
    if (it == r.per_class.end() || it->second.n == 0) continue;
    sum += it->second.pq;
    ++n;
  }
  return n > 0 ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

/// COCO AP of the detections against the ground truth restricted to `category_ids`
/// (COCOeval's catIds), or NaN when none of them has ground truth.
inline double coco_ap(eval::CocoGroundTruth gt, const std::vector<eval::CocoDetection>& detections,
                      const std::vector<std::int64_t>& category_ids, std::size_t stat = 0) {
  gt.category_ids = category_ids;
  const double ap = eval::evaluate_coco_instance(gt, detections).stats[stat];
  return ap < 0 ? std::numeric_limits<double>::quiet_NaN() : ap;
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
  eval::CocoGroundTruth instance_gt;
  std::vector<eval::CocoDetection> detections;
  std::vector<std::int64_t> held_out_ids, seen_ids;  // category ids (class index + 1)
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
        for (const std::string& name : options.held_out_classes)
          PSALM_CHECK(
              std::find(ex.class_names.begin(), ex.class_names.end(), name) != ex.class_names.end(),
              "evaluate: held-out class \"", name, "\" is not among the ", ex.class_names.size(),
              " classes the examples name");
        for (const eval::PanopticCategory& c : categories) {
          const bool held =
              std::find(options.held_out_classes.begin(), options.held_out_classes.end(), c.name) !=
              options.held_out_classes.end();
          (held ? held_out_ids : seen_ids).push_back(c.id);
          if (c.isthing) instance_gt.category_ids.push_back(c.id);
        }
      }
      // Every classes task is scored by PQ, so it is post-processed by the panoptic rule.
      const Task rule = condition_kind(task) == ConditionKind::classes ? Task::panoptic : task;
      const TaskPrediction pred =
          task_inference(rule, s, batch.geometries[b], categories, {.gres = options.gres});
      if (options.on_prediction)
        options.on_prediction(start + static_cast<std::int64_t>(b), ex, pred);
      switch (condition_kind(task)) {
        case ConditionKind::classes: {
          PSALM_CHECK(ex.class_names.size() == categories.size(), "evaluate: example ",
                      start + static_cast<std::int64_t>(b), " names ", ex.class_names.size(),
                      " classes, the first one ", categories.size(), "; scoring needs one list");
          const std::int64_t image_id = start + static_cast<std::int64_t>(b);
          Tensor<std::int32_t> gt_ids;
          std::vector<eval::PanopticSegment> gt_segments;
          detail::panoptic_ground_truth(ex, gt_ids, gt_segments);
          pq->add_image(image_id, {gt_ids.data(), gt_ids.size(0), gt_ids.size(1)}, gt_segments,
                        pred.panoptic.view(), pred.panoptic.segments);
          if (options.instance_ap) {
            // ref: Mask2Former scores instances of a panoptic model with its instance rule.
            const InstancePrediction inst = instance_inference(
                s, batch.geometries[b], categories, {.things_only = true, .image_id = image_id});
            detections.insert(detections.end(), inst.detections.begin(), inst.detections.end());
            detail::add_instance_ground_truth(ex, image_id, categories, instance_gt);
          }
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
            const auto kind =
                ex.prompt_kinds.empty()
                    ? eval::PromptType::point
                    : static_cast<eval::PromptType>(ex.prompt_kinds[static_cast<std::size_t>(k)]);
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
      out.metrics = {{"pq", r.all.pq},
                     {"sq", r.all.sq},
                     {"rq", r.all.rq},
                     {"pq_things", r.things.pq},
                     {"pq_stuff", r.stuff.pq}};
      out.report = r.to_string();
      const bool split = !options.held_out_classes.empty();
      auto put = [&](const char* key, double v) {  // undefined numbers are left out
        if (!std::isnan(v)) out.metrics[key] = v;
      };
      if (split) {
        put("pq_held_out", detail::mean_pq(r, held_out_ids));
        put("pq_seen", detail::mean_pq(r, seen_ids));
      }
      if (options.instance_ap) {
        const eval::CocoInstanceResult ap = eval::evaluate_coco_instance(instance_gt, detections);
        put("ap", ap.stats[0] < 0 ? NAN : ap.stats[0]);
        put("ap50", ap.stats[1] < 0 ? NAN : ap.stats[1]);
        put("ap75", ap.stats[2] < 0 ? NAN : ap.stats[2]);
        out.report += "\n" + ap.to_string();
        if (split) {
          std::vector<std::int64_t> held_things, seen_things;
          for (std::int64_t id : instance_gt.category_ids)
            (std::find(held_out_ids.begin(), held_out_ids.end(), id) != held_out_ids.end()
                 ? held_things
                 : seen_things)
                .push_back(id);
          put("ap_held_out", detail::coco_ap(instance_gt, detections, held_things));
          put("ap_seen", detail::coco_ap(instance_gt, detections, seen_things));
        }
      }
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
