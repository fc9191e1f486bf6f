// psalm/psalm/inputs.hpp — examples in image pixels (psalm/example.hpp) turned into the model's
// inputs. Host code: CPU tensors, made with the CPU executor (psalm/tensor.hpp). The image
// preprocessed (resize + pad + normalise), the prompt of the task built, tokenized and expanded,
// visual prompts resized and padded like the image and their pooling
// points drawn, targets resized (nearest) and padded to T x T; and single-task batches of
// encoded examples collated into a PsalmBatch with their targets. The one path every caller
// takes: training, evaluation, `psalm segment`. Depends on: psalm/{example, prompt, expand,
// sequence_batch, visual_prompt, region_pooling, preprocess, targets, model, config}, io/tokenizer.
// Test: tests/psalm/test_inputs.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "psalm/io/tokenizer.hpp"
#include "psalm/psalm/config.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/psalm/expand.hpp"
#include "psalm/psalm/model.hpp"
#include "psalm/psalm/preprocess.hpp"
#include "psalm/psalm/prompt.hpp"
#include "psalm/psalm/region_pooling.hpp"
#include "psalm/psalm/sequence_batch.hpp"
#include "psalm/psalm/targets.hpp"
#include "psalm/psalm/visual_prompt.hpp"
#include "psalm/tensor.hpp"  // the CPU executor: examples are encoded on the CPU

namespace psalm {

// Letters: T input side, K visual prompts, P points per prompt, N targets, L sequence length.

/// Randomness of encoding: class order in the prompt and visual-prompt points. Training
/// shuffles and samples (upstream); inference keeps the canonical order and strided points.
struct EncodeOptions {
  bool shuffle_classes = false;
  bool random_region_points = false;
  std::uint64_t seed = 0;    ///< Philox key of both draws
  std::uint64_t stream = 0;  ///< per-example stream (e.g. the example's index)
};

/// One example as the model reads it.
struct EncodedExample {
  Task task = Task::panoptic;
  SequenceLayout layout;
  Tensor<float> pixels;         ///< (3, T, T)
  Tensor<float> region_points;  ///< (K, P, 2) or undefined
  SampleTargets<cpu> targets;   ///< masks (N, T, T)
  ImageGeometry geometry;
};

/// What a conversation example becomes: its layout (with next-token labels) and, when it has
/// an image, the preprocessed pixels.
struct EncodedConversation {
  SequenceLayout layout;
  Tensor<float> pixels;  ///< (3, T, T) or undefined
};

/// A collated single-task batch and its targets.
struct EncodedBatch {
  PsalmBatch<float> inputs;
  std::vector<SampleTargets<cpu>> targets;
  std::vector<ImageGeometry> geometries;
};

class InputEncoder {
 public:
  /// `tokenizer` must hold PSALM's added tokens with the ids the config names.
  InputEncoder(const PsalmConfig& config, io::Tokenizer tokenizer)
      : config_(config), tokenizer_(std::move(tokenizer)) {
    const SpecialTokenIds special = special_token_ids(tokenizer_);
    PSALM_CHECK(
        special.seg_token_id == config.seg_token_id && special.pad_token_id == config.pad_token_id,
        "InputEncoder: the tokenizer's [SEG] / [PAD] ids (", special.seg_token_id, " / ",
        special.pad_token_id, ") differ from the model config's (", config.seg_token_id, " / ",
        config.pad_token_id, ")");
    PSALM_CHECK(config.condition_mode != ConditionMode::ref_token ||
                    special.ref_token_id == config.ref_token_id.value_or(-2),
                "InputEncoder: the model uses [REF] (id ", config.ref_token_id.value_or(-1),
                ") but the tokenizer's [REF] is ", special.ref_token_id);
    expand_ = expand_options(config.image_token_grid(), config.num_mask_tokens, special,
                             config.condition_mode);
    expand_.vocab_size = config.phi.vocab_size;
  }

  const PsalmConfig& config() const { return config_; }
  const io::Tokenizer& tokenizer() const { return tokenizer_; }

  /// The image part: resize so the long side is T, pad, normalise.
  PreprocessedImage preprocess(const Tensor<std::uint8_t>& image) const {
    return preprocess_image(image, {.target = config_.image_size});
  }

  /// The prompt of `ex` (its task, classes / sentence / number of regions) as an expanded
  /// layout; `options` decides the class order.
  SequenceLayout layout_of(const Example& ex, const EncodeOptions& options = {}) const {
    PromptText text;
    switch (condition_kind(ex.task)) {
      case ConditionKind::classes:
        PSALM_CHECK(!ex.class_names.empty(), "encode: a ", to_string(ex.task),
                    " example needs at least one class name");
        text = class_prompt(
            ex.class_names,
            {.shuffle = options.shuffle_classes, .seed = options.seed, .stream = options.stream});
        break;
      case ConditionKind::referring:
        PSALM_CHECK(!ex.sentence.empty(), "encode: a ", to_string(ex.task),
                    " example needs a sentence");
        text = referring_prompt(ex.sentence);
        break;
      case ConditionKind::regions:
        PSALM_CHECK(ex.num_regions() >= 1,
                    "encode: an interactive example needs at least one "
                    "visual prompt");
        text = interactive_prompt(ex.num_regions());
        break;
    }
    PromptIds ids = tokenize_prompt(tokenizer_, text);
    truncate_prompt(ids, config_.model_max_length);
    return expand_prompt(ids, expand_);
  }

  /// The pooling points (K, P, 2) of visual-prompt masks already at T x T.
  Tensor<float> region_points_of(const Tensor<std::uint8_t>& masks_t,
                                 const EncodeOptions& options = {}) const {
    return options.random_region_points
               ? sample_region_points(masks_t, config_.region_num_points,
                                      CounterRng{options.seed, options.stream})
               : strided_region_points(masks_t, config_.region_num_points);
  }

  /// Masks (M, H0, W0) of the original image -> (M, T, T), resized (nearest) and padded.
  Tensor<std::uint8_t> masks_to_input(const Tensor<std::uint8_t>& masks) const {
    PSALM_CHECK(masks.rank() == 3, "encode: masks must be (M, H, W), got ", masks.shape());
    const std::int64_t m = masks.size(0), t = config_.image_size;
    Tensor<std::uint8_t> out(Shape{m, t, t});  // (M, T, T)
    for (std::int64_t i = 0; i < m; ++i)
      out.select(0, i).assign(resize_pad_mask(masks.select(0, i).contiguous(), t));
    return out;
  }

  /// Everything the model and the criterion need of one example.
  EncodedExample encode(const Example& ex, const EncodeOptions& options = {}) const {
    PSALM_CHECK(ex.image.defined() && ex.image.rank() == 3, "encode: the image must be (H, W, 3)");
    const std::int64_t h0 = ex.image.size(0), w0 = ex.image.size(1);
    auto check_plane = [&](const Tensor<std::uint8_t>& m, const char* what) {
      PSALM_CHECK(!m.defined() || (m.rank() == 3 && m.size(1) == h0 && m.size(2) == w0),
                  "encode: ", what, " must be (M, ", h0, ", ", w0, ") like the image, got ",
                  m.shape());
    };
    check_plane(ex.prompt_masks, "visual-prompt masks");
    check_plane(ex.target_masks, "target masks");
    EncodedExample out;
    out.task = ex.task;
    PreprocessedImage image = preprocess(ex.image);
    out.pixels = std::move(image.pixels);
    out.geometry = image.geometry;
    out.layout = layout_of(ex, options);
    if (condition_kind(ex.task) == ConditionKind::regions)
      out.region_points = region_points_of(masks_to_input(ex.prompt_masks), options);
    const std::int64_t t = config_.image_size;
    out.targets.masks = ex.num_targets() > 0
                            ? Tensor<float>(cast<float>(masks_to_input(ex.target_masks)))
                            : Tensor<float>::zeros(Shape{0, t, t});  // (N, T, T)
    if (condition_kind(ex.task) == ConditionKind::classes) {
      PSALM_CHECK(static_cast<std::int64_t>(ex.target_labels.size()) == ex.num_targets(),
                  "encode: ", ex.num_targets(), " target masks but ", ex.target_labels.size(),
                  " labels");
      for (std::int64_t l : ex.target_labels)
        PSALM_CHECK(l >= 0 && l < static_cast<std::int64_t>(ex.class_names.size()),
                    "encode: target label ", l, " is outside the ", ex.class_names.size(),
                    " class names");
      out.targets.labels = ex.target_labels;
    }
    return out;
  }

  /// A conversation: the llava_phi template with next-token labels on the answer.
  EncodedConversation encode(const ConversationExample& ex) const {
    EncodedConversation out;
    if (ex.image.defined()) out.pixels = preprocess(ex.image).pixels;
    out.layout = conversation_layout(ex.user, ex.assistant, ex.image.defined());
    return out;
  }

  /// The layout of one exchange with the image (when `image`) placed before the user's text,
  /// as LLaVA places it. An empty `assistant` leaves the turn open after "[/INST]": the prompt
  /// `psalm chat` generates the answer after.
  SequenceLayout conversation_layout(std::string user, const std::string& assistant,
                                     bool image) const {
    if (image && user.find("<image>") == std::string::npos) user = "<image>\n" + user;
    const ConversationTurn turn{std::move(user), assistant};
    PromptIds ids = conversation_prompt(tokenizer_, std::span<const ConversationTurn>(&turn, 1),
                                        {.model_max_length = config_.model_max_length});
    truncate_prompt(ids, config_.model_max_length);
    return expand_prompt(ids, expand_);
  }

 private:
  PsalmConfig config_;
  io::Tokenizer tokenizer_;
  ExpandOptions expand_;
};

/// Encoded examples of one task -> the model's batch and the criterion's targets.
inline EncodedBatch collate(std::span<const EncodedExample> examples) {
  PSALM_CHECK(!examples.empty(), "collate: no examples");
  const Task task = examples.front().task;
  const auto b = static_cast<std::int64_t>(examples.size());
  const Shape pixel_shape = examples.front().pixels.shape();
  EncodedBatch out;
  out.inputs.task = task;
  out.inputs.pixels = Tensor<float>(Shape{b, pixel_shape[0], pixel_shape[1], pixel_shape[2]});
  std::vector<SequenceLayout> layouts;
  for (std::int64_t i = 0; i < b; ++i) {
    const EncodedExample& e = examples[static_cast<std::size_t>(i)];
    PSALM_CHECK(e.task == task, "collate: a batch holds one task; example ", i, " is ",
                to_string(e.task), ", example 0 is ", to_string(task));
    PSALM_CHECK(e.pixels.shape() == pixel_shape, "collate: example ", i, " has pixels ",
                e.pixels.shape(), ", example 0 ", pixel_shape);
    out.inputs.pixels.select(0, i).assign(e.pixels);
    layouts.push_back(e.layout);
    if (condition_kind(task) == ConditionKind::regions)
      out.inputs.region_points.push_back(e.region_points);
    out.targets.push_back(e.targets);
    out.geometries.push_back(e.geometry);
  }
  out.inputs.sequence = batch_sequences(layouts);
  return out;
}

/// Encoded conversations -> a batch for PsalmModel::language_logits (pixels only when every
/// example has an image) and the labels (B, L).
inline PsalmBatch<float> collate(std::span<const EncodedConversation> examples) {
  PSALM_CHECK(!examples.empty(), "collate: no conversations");
  const auto b = static_cast<std::int64_t>(examples.size());
  PsalmBatch<float> out;
  std::vector<SequenceLayout> layouts;
  const bool images = examples.front().pixels.defined();
  if (images) {
    const Shape s = examples.front().pixels.shape();
    out.pixels = Tensor<float>(Shape{b, s[0], s[1], s[2]});
  }
  for (std::int64_t i = 0; i < b; ++i) {
    const EncodedConversation& e = examples[static_cast<std::size_t>(i)];
    PSALM_CHECK(e.pixels.defined() == images,
                "collate: conversations of one batch must all have an image or none");
    if (images) out.pixels.select(0, i).assign(e.pixels);
    layouts.push_back(e.layout);
  }
  out.sequence = batch_sequences(layouts);
  return out;
}

}  // namespace psalm
