// psalm/psalm/example.hpp — one annotated example as every data source hands it to training
// and evaluation, in the image's own pixels: the image, what is asked (a class list, a
// sentence, visual prompts) and the ground truth (masks and, for class lists, labels). The
// synthetic scenes, the COCO / RefCOCO / COCO-Interactive readers and `psalm segment`'s
// requests all produce this; psalm/inputs.hpp turns it into model inputs. Also the text
// conversation example of the LLaVA-style batches, and the video example of video object
// segmentation. Depends on: psalm/{task, visual_prompt}, tensor.
// Test: tests/psalm/test_inputs.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "psalm/psalm/task.hpp"
#include "psalm/psalm/visual_prompt.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm {

// Letters: H0 W0 the image, K visual prompts, N ground-truth masks, F video frames.

/// One segmentation example. Fields a task does not use stay empty.
struct Example {
  Task task = Task::panoptic;
  Tensor<std::uint8_t> image;  ///< (H0, W0, 3) RGB
  /// Classes tasks: the candidate class names in canonical order, without "background"
  /// (the prompt builder appends it), and which of them are things (the rest are stuff).
  std::vector<std::string> class_names;
  std::vector<std::uint8_t> class_is_thing;
  std::string sentence;                        ///< referring / gres
  Tensor<std::uint8_t> prompt_masks;           ///< interactive: (K, H0, W0), 0 / 1, one per region
  std::vector<VisualPromptKind> prompt_kinds;  ///< interactive: what each prompt is, or empty
  Tensor<std::uint8_t> target_masks;           ///< (N, H0, W0), 0 / 1; N may be 0 (no target)
  std::vector<std::int64_t> target_labels;     ///< classes tasks: (N) indices into class_names

  std::int64_t num_targets() const { return target_masks.defined() ? target_masks.size(0) : 0; }
  std::int64_t num_regions() const { return prompt_masks.defined() ? prompt_masks.size(0) : 0; }
};

/// One video for semi-supervised video object segmentation (DAVIS): its frames and, per frame,
/// the objects as an index map (0 background, 1..K the objects annotated in the first frame,
/// the same id in every frame). The first frame's masks are the prompts; the rest is ground
/// truth.
struct VideoExample {
  std::string name;
  std::vector<Tensor<std::uint8_t>> frames;       ///< (F) of (H0, W0, 3) RGB
  std::vector<Tensor<std::int32_t>> annotations;  ///< (F) of (H0, W0) object ids

  std::int64_t num_frames() const { return static_cast<std::int64_t>(frames.size()); }
};

/// One image-grounded conversation turn (LLaVA-style batches, stage-1 alignment): the model
/// learns to answer `assistant` after `user` and the image (next-token loss on the answer).
struct ConversationExample {
  Tensor<std::uint8_t> image;  ///< (H0, W0, 3), or undefined for text only
  std::string user;
  std::string assistant;
};

}  // namespace psalm
