// psalm/psalm/inference/task_inference.hpp — one sample's outputs turned into its task's answer
// at the original image size: the dispatch from a Task to its post-processing rule (panoptic,
// instance, semantic, referring, gRES, interactive), the one path held-out evaluation
// (train/evaluate.hpp) and the Segmenter (psalm/segmenter.hpp) both take; and the categories
// of an example's class list as the classes rules read them.
// Depends on: inference/{panoptic,instance,semantic,referring,gres,interactive}, psalm/example.
// Test: tests/psalm/test_segmenter.cpp.
// Host code: the post-processing rules run on CPU tensors (psalm/tensor.hpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/psalm/inference/gres.hpp"
#include "psalm/psalm/inference/instance.hpp"
#include "psalm/psalm/inference/interactive.hpp"
#include "psalm/psalm/inference/panoptic.hpp"
#include "psalm/psalm/inference/referring.hpp"
#include "psalm/psalm/inference/sample_outputs.hpp"
#include "psalm/psalm/inference/semantic.hpp"
#include "psalm/psalm/task.hpp"

namespace psalm {

// Letters: H0 W0 original image, K regions.

/// The options of every task's rule; each task reads its own.
struct TaskInferenceOptions {
  PanopticOptions panoptic{};
  InstanceOptions instance{};
  SemanticOptions semantic{};
  /// Deployment answers "no target" when nothing passes (the official rule never does).
  GresOptions gres = GresOptions::with_no_target();
};

/// A task's answer for one sample; only the member of `task` is filled.
struct TaskPrediction {
  Task task = Task::panoptic;
  PanopticPrediction panoptic;          ///< panoptic: segment ids (H0, W0) + segments
  InstancePrediction instance;          ///< instance: COCO detections with RLE masks
  SemanticPrediction semantic;          ///< semantic: score maps + label map (H0, W0)
  MaskPrediction referring;             ///< referring: the top-1 mask
  GresPrediction gres;                  ///< gres: the union mask or "no target"
  std::vector<MaskPrediction> regions;  ///< interactive: one mask per region (K)
};

/// The categories of an example's class list for the classes rules: id c + 1 for class c (0
/// stays void in panoptic maps), thing unless class_is_thing says otherwise, its name.
inline std::vector<eval::PanopticCategory> example_categories(const Example& ex) {
  PSALM_CHECK(ex.class_is_thing.empty() || ex.class_is_thing.size() == ex.class_names.size(),
              "example_categories: ", ex.class_is_thing.size(), " thing flags for ",
              ex.class_names.size(), " class names");
  std::vector<eval::PanopticCategory> out;
  for (std::size_t c = 0; c < ex.class_names.size(); ++c)
    out.push_back({static_cast<std::int64_t>(c + 1),
                   ex.class_is_thing.empty() || ex.class_is_thing[c] != 0, ex.class_names[c]});
  return out;
}

/// Sample outputs `s` of an image with geometry `g` -> the answer of `task`. `categories` are
/// the prompt's classes (example_categories) for panoptic and instance; the others ignore it.
inline TaskPrediction task_inference(Task task, const SampleOutputs& s, const ImageGeometry& g,
                                     std::span<const eval::PanopticCategory> categories = {},
                                     const TaskInferenceOptions& options = {}) {
  TaskPrediction out;
  out.task = task;
  switch (task) {
    case Task::panoptic:
      out.panoptic = panoptic_inference(s, g, categories, options.panoptic);
      break;
    case Task::instance:
      out.instance = instance_inference(s, g, categories, options.instance);
      break;
    case Task::semantic:
      out.semantic = semantic_inference(s, g, options.semantic);
      break;
    case Task::referring:
      out.referring = referring_inference(s, g);
      break;
    case Task::gres:
      out.gres = gres_inference(s, g, options.gres);
      break;
    case Task::interactive:
      out.regions = interactive_inference(s, g);
      break;
  }
  return out;
}

}  // namespace psalm
