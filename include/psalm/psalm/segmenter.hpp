// psalm/psalm/segmenter.hpp — psalm's front door: a PSALM model folder loaded once, an image
// encoded once (Swin, the projector and the pixel decoder, plus Phi's key/value cache of the
// prompt prefix every task shares: the system prompt and the image tokens), then any number of
// prompts answered on it (a referring or gRES sentence, a class list for panoptic / instance /
// semantic, visual prompts in the image's own pixels) as masks at the original size with
// labels and scores; text answers to questions about the image (chat, with a mask per [SEG] of
// the answer; its own prefix cache: the conversation template's system prompt and image); and
// video objects tracked from a first-frame annotation.
// Host code: images are encoded and answers post-processed on the CPU (psalm/inputs.hpp).
// Depends on: psalm/{model, weights, inputs, example, chat, inference/*}, io/{safetensors,
// json_config, read_file, tokenizer}. Test: tests/psalm/test_segmenter.cpp,
// tests/psalm/test_chat.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/io/read_file.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/models/phi/kv_cache.hpp"
#include "psalm/psalm/chat.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/psalm/inference/task_inference.hpp"
#include "psalm/psalm/inference/video_objects.hpp"
#include "psalm/psalm/inputs.hpp"
#include "psalm/psalm/model.hpp"
#include "psalm/psalm/special_tokens.hpp"
#include "psalm/psalm/weights.hpp"

namespace psalm {

// Letters: H0 W0 original image, T model input side, K visual prompts, P prefix positions.

struct SegmenterOptions {
  /// Folder of the GPT-2 BPE files (vocab.json / encoder.json + merges.txt / vocab.bpe). Empty:
  /// the model folder when it holds them, else the compile-time PSALM_GPT2_DIR.
  std::filesystem::path tokenizer_dir{};
  /// Keep Phi's key/value cache of the shared prompt prefix (system prompt + image tokens) in
  /// each EncodedImage, so a prompt only runs its own positions through Phi. Off: every prompt
  /// runs its whole sequence (the vision side is cached either way).
  bool cache_prefix = true;
  /// Keep every Linear layer's weight in bf16 (nn::keep_linear_weights_in_bf16): half the
  /// memory of those weights, the CPU's bf16 GEMM kernels, f32 accumulation; norms, softmax,
  /// embeddings and convolutions stay f32. The Segmenter converts the model it is given.
  bool weights_in_bf16 = false;
  TaskInferenceOptions inference{};
};

/// One request on an image. Coordinates of visual prompts are in the image's own pixels.
struct SegmentPrompt {
  Task task = Task::referring;
  std::string text;                          ///< referring / gres: the sentence
  std::vector<std::string> classes;          ///< panoptic / instance / semantic: class names
  std::vector<std::uint8_t> class_is_thing;  ///< per class (empty: all things)
  std::vector<VisualPrompt> regions;         ///< interactive: one per target region

  static SegmentPrompt referring(std::string sentence) {
    return {Task::referring, std::move(sentence), {}, {}, {}};
  }
  static SegmentPrompt gres(std::string sentence) {
    return {Task::gres, std::move(sentence), {}, {}, {}};
  }
  /// `task` is panoptic, instance or semantic.
  static SegmentPrompt class_list(std::vector<std::string> names, Task task = Task::panoptic,
                                  std::vector<std::uint8_t> is_thing = {}) {
    return {task, {}, std::move(names), std::move(is_thing), {}};
  }
  static SegmentPrompt interactive(std::vector<VisualPrompt> regions) {
    return {Task::interactive, {}, {}, {}, std::move(regions)};
  }
};

/// One mask of an answer.
struct SegmentMask {
  Tensor<std::uint8_t> mask;  ///< (H0, W0) 0 / 1
  std::string label;          ///< class name, the sentence, or the visual prompt's kind
  /// Classes tasks: index into the prompt's class list; interactive: the region's index;
  /// referring / gres: 0.
  std::int64_t category = 0;
  float score = 0.0f;       ///< the rule's score (see docs/inference.md)
  std::int64_t query = -1;  ///< the mask token that produced it (gres: the best one)
  bool isthing = true;      ///< panoptic: thing (own instance) or stuff (merged per class)
  /// Panoptic: the segment's id in `prediction.panoptic.segment_ids`; otherwise index + 1.
  std::int64_t segment_id = 0;
};

/// The answer to one prompt, at the original image size.
struct Segmentation {
  Task task = Task::referring;
  std::int64_t height = 0, width = 0;
  std::vector<SegmentMask> masks;  ///< in the rule's order (semantic: by class)
  bool no_target = false;          ///< gres: the explicit "no target" answer (masks empty)
  TaskPrediction prediction;       ///< the rule's own output (panoptic ids, COCO detections, ...)
};

/// An image as the Segmenter keeps it between prompts: its geometry, the vision side's
/// outputs and, with SegmenterOptions::cache_prefix, Phi's cache of the shared prefix. Use it
/// with the Segmenter that made it; prompts on one EncodedImage must not run concurrently.
class EncodedImage {
 public:
  const ImageGeometry& geometry() const { return geometry_; }
  std::int64_t height() const { return geometry_.original_height; }
  std::int64_t width() const { return geometry_.original_width; }
  /// Prompt positions held in the key/value cache (0: no cache).
  std::int64_t cached_positions() const { return cache_ ? prefix_ : 0; }
  /// Bytes it holds: the vision side's maps and tokens and the key/value caches of the prompt
  /// prefix and of chat (what a cache of encoded images bounds; psalm/serve/image_cache.hpp).
  std::int64_t bytes() const {
    auto of = [](const auto& v) {
      return v.defined() ? v.numel() * static_cast<std::int64_t>(sizeof(float)) : std::int64_t{0};
    };
    std::int64_t n = of(features_.image_tokens) + of(features_.region_tokens) +
                     of(features_.pixel.mask_features);
    for (const int k : features_.pixel.multi_scale.levels())
      n += of(features_.pixel.multi_scale.res(k));
    return n + (cache_ ? cache_->bytes() : 0) + (chat_cache_ ? chat_cache_->bytes() : 0);
  }
  /// Chat prompt positions held in the chat's key/value cache (0: none yet, or no cache).
  std::int64_t chat_cached_positions() const { return chat_cache_ ? chat_prefix_ : 0; }

 private:
  friend class Segmenter;
  ImageGeometry geometry_;
  PsalmImageFeatures<float> features_;
  std::unique_ptr<models::phi::PhiKvCache<float>> cache_;
  std::int64_t prefix_ = 0;
  /// The chat template's prefix (system prompt and image), filled by the first chat.
  std::unique_ptr<models::phi::PhiKvCache<float>> chat_cache_;
  std::int64_t chat_prefix_ = 0;
};

namespace detail {

inline bool has_gpt2_files(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  return (fs::is_regular_file(dir / "vocab.json") || fs::is_regular_file(dir / "encoder.json")) &&
         (fs::is_regular_file(dir / "merges.txt") || fs::is_regular_file(dir / "vocab.bpe"));
}

/// The tokenizer of a folder: one with transformers' added-token files (added_tokens.json or
/// tokenizer.json, as the released PSALM folder has them) is read as it is, [REF] added as a
/// plain token for the ref_token condition mode when it lacks one; bare GPT-2 files get PSALM's
/// tokens (psalm_tokenizer). Its vocabulary must fit the model's embedding.
inline io::Tokenizer folder_tokenizer(const std::filesystem::path& dir, const PsalmConfig& config) {
  namespace fs = std::filesystem;
  const bool ref = config.condition_mode == ConditionMode::ref_token;
  io::Tokenizer tok = [&] {
    if (!fs::is_regular_file(dir / "added_tokens.json") &&
        !fs::is_regular_file(dir / "tokenizer.json"))
      return psalm_tokenizer(dir, ref);
    io::Tokenizer t = io::Tokenizer::from_folder(dir);
    if (ref && !t.find_id(kRefToken)) t.add_token(io::AddedToken::plain(std::string(kRefToken)));
    return t;
  }();
  PSALM_CHECK(tok.vocab_size() <= config.phi.vocab_size, "Segmenter: the tokenizer of ",
              dir.string(), " has ", tok.vocab_size(), " ids but the model's vocabulary has ",
              config.phi.vocab_size, " rows");
  return tok;
}

/// A model folder as given, or the checkpoint a training run's `latest` names.
inline std::filesystem::path resolve_model_folder(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  PSALM_CHECK(fs::is_directory(dir), "model folder ", dir.string(),
              " does not exist or is not a folder");
  if (!fs::exists(dir / "config.json") && fs::is_regular_file(dir / "latest")) {
    // Through io's one bounded reader, as train/checkpoint.hpp reads it (a FIFO or a huge file
    // named `latest` is refused, not waited on or read whole).
    std::string name = io::read_file(dir / "latest", std::int64_t{1} << 20, "checkpoint pointer");
    name = name.substr(0, name.find('\n'));
    while (!name.empty() && (name.back() == '\r' || name.back() == ' ')) name.pop_back();
    PSALM_CHECK(
        !name.empty() && name.find('/') == std::string::npos && fs::is_directory(dir / name),
        dir.string(), "/latest names \"", name, "\", which is not a checkpoint folder");
    return dir / name;
  }
  return dir;
}

}  // namespace detail

class Segmenter {
 public:
  /// Loads a PSALM model folder: config.json (PsalmConfig, psalm's own layout or the released
  /// folder's "llava_phi") and model.safetensors (or a sharded model.safetensors.index.json),
  /// as `psalm train` / `psalm init` write them or as PSALM is published (docs/checkpoints.md);
  /// the tokenizer is the folder's own when it has one (detail::folder_tokenizer); a training
  /// run folder is
  /// followed to the checkpoint its `latest` names. Anything else is a psalm::Error naming
  /// the folder and what it lacks.
  static Segmenter load(const std::filesystem::path& model_dir,
                        const SegmenterOptions& options = {}) {
    namespace fs = std::filesystem;
    const fs::path dir = detail::resolve_model_folder(model_dir);
    PSALM_CHECK(fs::is_regular_file(dir / "config.json"), dir.string(),
                " is not a PSALM model folder: it has no config.json (a model folder holds "
                "config.json and model.safetensors, as `psalm train --out` writes them)");
    PSALM_CHECK(
        fs::exists(dir / "model.safetensors") || fs::exists(dir / "model.safetensors.index.json"),
        dir.string(),
        " is not a PSALM model folder: it has config.json but no "
        "model.safetensors (or model.safetensors.index.json)");
    const PsalmConfig config =
        PsalmConfig::from_json(io::ConfigReader::from_file(dir / "config.json"));
    fs::path tokenizer_dir = options.tokenizer_dir;
    if (tokenizer_dir.empty() && detail::has_gpt2_files(dir)) tokenizer_dir = dir;
#ifdef PSALM_GPT2_DIR
    if (tokenizer_dir.empty()) tokenizer_dir = PSALM_GPT2_DIR;
#endif
    PSALM_CHECK(!tokenizer_dir.empty(), "Segmenter: ", dir.string(),
                " holds no GPT-2 tokenizer files and no tokenizer folder was given "
                "(SegmenterOptions::tokenizer_dir)");
    io::Tokenizer tokenizer = detail::folder_tokenizer(tokenizer_dir, config);
    nn::InitRng rng = nn::InitRng::for_loading();
    auto model = std::make_unique<PsalmModel<float>>(config, rng);
    const io::SafetensorsCheckpoint weights = io::SafetensorsCheckpoint::open(dir);
    try {
      load_psalm_weights(*model, weights);
    } catch (const Error& e) {
      fail(dir.string(), ": the weights do not fit config.json: ", e.what());
    }
    return Segmenter(std::move(model), std::move(tokenizer), options);
  }

  /// A model already in memory (its weights are not copied: the Segmenter shares them).
  Segmenter(std::unique_ptr<PsalmModel<float>> model, io::Tokenizer tokenizer,
            SegmenterOptions options = {})
      : model_(std::move(model)), options_(std::move(options)) {
    PSALM_CHECK(model_ != nullptr, "Segmenter: no model");
    model_->eval();
    if (options_.weights_in_bf16) nn::keep_linear_weights_in_bf16(*model_);
    encoder_ = std::make_unique<InputEncoder>(model_->config(), std::move(tokenizer));
    // The shared prefix: every PSALM prompt opens with the system prompt and "This is an image
    // <image>"; the positions up to the last image token are the same for every task.
    Example probe;
    probe.task = Task::referring;
    probe.sentence = "x";
    const SequenceLayout layout = encoder_->layout_of(probe);
    std::int64_t end = 0;
    for (std::int64_t p = 0; p < layout.length(); ++p)
      if (layout.source[static_cast<std::size_t>(p)] == TokenSource::image) end = p + 1;
    PSALM_CHECK(end > 0, "Segmenter: the prompt template holds no image");
    prefix_ = truncated(layout, end);
    // The chat prefix: the conversation template up to its image, the same for every question.
    const SequenceLayout chat = encoder_->conversation_layout("x", "", true);
    end = 0;
    for (std::int64_t p = 0; p < chat.length(); ++p)
      if (chat.source[static_cast<std::size_t>(p)] == TokenSource::image) end = p + 1;
    PSALM_CHECK(end > 0, "Segmenter: the chat template holds no image");
    chat_prefix_ = truncated(chat, end);
  }

  PsalmModel<float>& model() { return *model_; }
  const PsalmConfig& config() const { return model_->config(); }
  const InputEncoder& encoder() const { return *encoder_; }
  const SegmenterOptions& options() const { return options_; }

  /// Runs the vision side on an (H0, W0, 3) RGB image ((H0, W0) grey and RGBA are converted as
  /// PIL does) and, with cache_prefix, Phi on the shared prompt prefix.
  EncodedImage encode(const Tensor<std::uint8_t>& image) {
    PSALM_CHECK(image.defined(), "Segmenter::encode: no image");
    const autograd::NoGrad no_grad;
    PreprocessedImage pre = encoder_->preprocess(image);
    const std::int64_t t = config().image_size;
    EncodedImage out;
    out.geometry_ = pre.geometry;
    out.features_ = model_->encode_images(pre.pixels.view({1, 3, t, t}));  // (1, 3, T, T)
    if (options_.cache_prefix)
      out.cache_ = prefilled(out, prefix_, prefix_.length() + kSuffixRoom),
      out.prefix_ = prefix_.length();
    return out;
  }

  /// The answer to `prompt` on an encoded image. Visual prompts are drawn on, and pooled from,
  /// `prompt_image` when given (video: a reference frame of the same size), else `image`.
  Segmentation segment(EncodedImage& image, const SegmentPrompt& prompt,
                       const EncodedImage* prompt_image = nullptr) {
    const Example request = example_of(prompt, prompt_image ? *prompt_image : image);
    const SampleOutputs s = run(image, request, prompt_image);
    const std::vector<eval::PanopticCategory> categories = example_categories(request);
    Segmentation out;
    out.task = request.task;
    out.height = image.height();
    out.width = image.width();
    out.prediction =
        task_inference(request.task, s, image.geometry(), categories, options_.inference);
    collect_masks(request, s, out);
    return out;
  }

  /// encode + segment, for a single prompt.
  Segmentation segment(const Tensor<std::uint8_t>& image, const SegmentPrompt& prompt) {
    EncodedImage encoded = encode(image);
    return segment(encoded, prompt);
  }

  /// A text answer to `question` about an encoded image, LLaVA-style: the question in the
  /// conversation template after the image, the answer generated with Phi's key/value cache
  /// (greedy or sampled, ChatOptions), and one mask per [SEG] in it (psalm/chat.hpp). With
  /// SegmenterOptions::cache_prefix, the template's system prompt and image tokens are run
  /// once per image and kept. Throws on an empty question, one with a task marker, or bad
  /// options.
  ChatReply chat(EncodedImage& image, const std::string& question,
                 const ChatOptions& options = {}) {
    check_chat_question(question);
    models::phi::check_generate_options(options.generate_options(io::PsalmTokenIds::endoftext));
    const autograd::NoGrad no_grad;
    const SequenceLayout layout = encoder_->conversation_layout(question, "", true);
    PSALM_CHECK(layout.length() < config().model_max_length,
                "chat: the question is too long: ", "the prompt reaches model_max_length (",
                config().model_max_length, " positions)");
    const std::int64_t need = chat_cache_capacity(config(), layout.length(), options);
    std::unique_ptr<models::phi::PhiKvCache<float>> fresh;
    models::phi::PhiKvCache<float>* cache = nullptr;
    std::int64_t cached = 0;
    if (options_.cache_prefix && starts_with(layout, chat_prefix_)) {
      if (!image.chat_cache_ || image.chat_cache_->capacity() < need) {
        image.chat_cache_ =
            prefilled(image, chat_prefix_, std::max(need, chat_prefix_.length() + kSuffixRoom));
        image.chat_prefix_ = chat_prefix_.length();
      }
      cache = image.chat_cache_.get();
      cached = image.chat_prefix_;
      cache->rewind(cached);
    } else {
      fresh = std::make_unique<models::phi::PhiKvCache<float>>(config().phi, 1, need);
      cache = fresh.get();
    }
    ChatReply reply = generate_chat_reply(*model_, image.features_, image.geometry_, layout, cached,
                                          *cache, encoder_->tokenizer(), options);
    if (cached > 0) cache->rewind(cached);
    return reply;
  }

  /// encode + chat, for a single question.
  ChatReply chat(const Tensor<std::uint8_t>& image, const std::string& question,
                 const ChatOptions& options = {}) {
    EncodedImage encoded = encode(image);
    return chat(encoded, question, options);
  }

  /// The request as an Example (image left undefined; visual prompts rasterised at the size of
  /// `image`): what InputEncoder::encode and the evaluation path read. Throws on an empty
  /// class list or sentence, a class list for a non-classes task, or a visual prompt outside
  /// the image.
  Example example_of(const SegmentPrompt& prompt, const EncodedImage& image) const {
    return example_of(prompt, image.height(), image.width());
  }
  Example example_of(const SegmentPrompt& prompt, std::int64_t height, std::int64_t width) const {
    Example ex;
    ex.task = prompt.task;
    switch (condition_kind(prompt.task)) {
      case ConditionKind::classes: {
        PSALM_CHECK(!prompt.classes.empty(), "segment: a ", to_string(prompt.task),
                    " prompt needs at least one class name");
        for (std::size_t c = 0; c < prompt.classes.size(); ++c) {
          const std::string& name = prompt.classes[c];
          PSALM_CHECK(name.find_first_not_of(" \t\n") != std::string::npos, "segment: class name ",
                      c, " is empty");
        }
        PSALM_CHECK(
            prompt.class_is_thing.empty() || prompt.class_is_thing.size() == prompt.classes.size(),
            "segment: ", prompt.class_is_thing.size(), " thing flags for ", prompt.classes.size(),
            " classes");
        ex.class_names = prompt.classes;
        ex.class_is_thing = prompt.class_is_thing;
        break;
      }
      case ConditionKind::referring:
        PSALM_CHECK(prompt.text.find_first_not_of(" \t\n") != std::string::npos, "segment: a ",
                    to_string(prompt.task), " prompt needs a sentence");
        ex.sentence = prompt.text;
        break;
      case ConditionKind::regions: {
        PSALM_CHECK(!prompt.regions.empty(),
                    "segment: an interactive prompt needs at least one visual prompt");
        const auto k = static_cast<std::int64_t>(prompt.regions.size());
        ex.prompt_masks = Tensor<std::uint8_t>(Shape{k, height, width});  // (K, H0, W0)
        for (std::int64_t i = 0; i < k; ++i) {
          const VisualPrompt& vp = prompt.regions[static_cast<std::size_t>(i)];
          try {
            ex.prompt_masks.select(0, i).assign(rasterize_visual_prompt(vp, height, width));
          } catch (const Error& e) {
            std::string what = e.what();
            if (what.rfind("visual prompt: ", 0) == 0) what.erase(0, 15);
            fail("visual prompt ", i, " (", to_string(vp.kind), "): ", what);
          }
          ex.prompt_kinds.push_back(vp.kind);
        }
        break;
      }
    }
    return ex;
  }

  /// Video objects (PSALM_SPEC §5.6): `frame(t)` gives frame t (H0, W0, 3) of `count`;
  /// `first_masks` the first frame's objects (H0, W0) in object order, `object_ids` their ids.
  /// Every frame is encoded once; the reference frame's tokens give the visual prompts.
  /// `progress(done, count)` is called after each frame.
  std::vector<VideoFramePrediction> segment_video(
      std::int64_t count, const std::function<Tensor<std::uint8_t>(std::int64_t)>& frame,
      std::vector<Tensor<std::uint8_t>> first_masks, std::vector<std::int32_t> object_ids,
      const VideoObjectOptions& options = {},
      const std::function<void(std::int64_t, std::int64_t)>& progress = {}) {
    PSALM_CHECK(count >= 1, "segment_video: no frames");
    PSALM_CHECK(!first_masks.empty(), "segment_video: the first frame has no object");
    VideoObjectTracker tracker(std::move(first_masks), std::move(object_ids), options);
    std::vector<VideoFramePrediction> out;
    std::optional<EncodedImage> reference;  // the encoding of tracker.reference_frame()
    for (std::int64_t t = 0; t < count; ++t) {
      EncodedImage current = encode(frame(t));
      const EncodedImage& source = t == tracker.reference_frame() ? current : *reference;
      PSALM_CHECK(source.height() == current.height() && source.width() == current.width(),
                  "segment_video: frame ", t, " is ", current.width(), "x", current.height(),
                  " but frame ", tracker.reference_frame(), " is ", source.width(), "x",
                  source.height(), "; every frame must have the same size");
      SegmentPrompt prompt;
      prompt.task = Task::interactive;
      for (const Tensor<std::uint8_t>& m : tracker.reference_masks())
        prompt.regions.push_back(VisualPrompt::from_mask(m));
      const Example request = example_of(prompt, source);
      const SampleOutputs s = run(current, request, &source);
      out.push_back(tracker.step(t, s, current.geometry()));
      if (tracker.reference_frame() == t) reference = std::move(current);
      if (progress) progress(t + 1, count);
    }
    return out;
  }

 private:
  /// Spare positions after the prefix a fresh cache holds (a longer prompt grows it).
  static constexpr std::int64_t kSuffixRoom = 256;

  static SequenceLayout truncated(const SequenceLayout& l, std::int64_t n) {
    SequenceLayout out;
    const auto e = static_cast<std::ptrdiff_t>(n);
    out.token_ids.assign(l.token_ids.begin(), l.token_ids.begin() + e);
    out.source.assign(l.source.begin(), l.source.begin() + e);
    out.source_index.assign(l.source_index.begin(), l.source_index.begin() + e);
    out.class_index.assign(l.class_index.begin(), l.class_index.begin() + e);
    out.refer_mask.assign(l.refer_mask.begin(), l.refer_mask.begin() + e);
    out.labels.assign(l.labels.begin(), l.labels.begin() + e);
    return out;
  }

  /// Whether `layout` opens with `prefix` (same tokens, same sources) and goes on after it.
  static bool starts_with(const SequenceLayout& layout, const SequenceLayout& prefix) {
    const std::int64_t n = prefix.length();
    if (layout.length() <= n) return false;
    for (std::int64_t p = 0; p < n; ++p) {
      const auto i = static_cast<std::size_t>(p);
      if (layout.source[i] != prefix.source[i] || layout.token_ids[i] != prefix.token_ids[i] ||
          layout.source_index[i] != prefix.source_index[i])
        return false;
    }
    return true;
  }

  /// A cache of `prefix` run through Phi on the image, with room for `capacity` positions.
  std::unique_ptr<models::phi::PhiKvCache<float>> prefilled(const EncodedImage& image,
                                                            const SequenceLayout& prefix,
                                                            std::int64_t capacity) {
    const autograd::NoGrad no_grad;
    auto cache = std::make_unique<models::phi::PhiKvCache<float>>(config().phi, 1, capacity);
    const SequenceBatch batch = batch_sequences(std::span<const SequenceLayout>(&prefix, 1));
    model_->prefill(image.features_, batch, *cache);
    return cache;
  }

  /// The model's outputs (last decoder layer, sample 0) for `request` on `image`.
  SampleOutputs run(EncodedImage& image, const Example& request, const EncodedImage* prompt_image) {
    const autograd::NoGrad no_grad;
    const SequenceLayout layout = encoder_->layout_of(request);
    PsalmBatch<float> batch;
    batch.task = request.task;
    batch.sequence = batch_sequences(std::span<const SequenceLayout>(&layout, 1));
    PsalmImageFeatures<float> features = image.features_;
    if (condition_kind(request.task) == ConditionKind::regions) {
      const Tensor<std::uint8_t> masks_t = encoder_->masks_to_input(request.prompt_masks);
      const std::int64_t t = config().image_size;
      for (std::int64_t k = 0; k < masks_t.size(0); ++k) {
        const std::uint8_t* m = masks_t.data() + k * t * t;
        PSALM_CHECK(std::any_of(m, m + t * t, [](std::uint8_t v) { return v != 0; }),
                    "visual prompt ", k, " (",
                    to_string(request.prompt_kinds[static_cast<std::size_t>(k)]),
                    ") covers no pixel after resizing the ", request.prompt_masks.size(2), "x",
                    request.prompt_masks.size(1), " image to side ", t);
      }
      batch.region_points.push_back(encoder_->region_points_of(masks_t));  // (K, P, 2)
      if (prompt_image != nullptr && prompt_image != &image)
        features.region_tokens = prompt_image->features_.image_tokens;  // (1, N, D)
    }
    models::phi::PhiKvCache<float>* cache = nullptr;
    if (image.cache_ && starts_with(layout, prefix_)) {
      if (image.cache_->capacity() < layout.length())
        image.cache_ = prefilled(image, prefix_, layout.length() + kSuffixRoom);
      image.cache_->rewind(image.prefix_);
      cache = image.cache_.get();
    }
    const PsalmOutput<float> out = model_->decode(batch, features, cache);
    if (cache != nullptr) cache->rewind(image.prefix_);
    return sample_outputs(out.last(), 0);
  }

  /// Segmentation::masks from the rule's output.
  static void collect_masks(const Example& request, const SampleOutputs& s, Segmentation& out) {
    const TaskPrediction& p = out.prediction;
    const std::int64_t h = out.height, w = out.width;
    auto plane_of = [&](auto&& inside) {
      Tensor<std::uint8_t> m(Shape{h, w});  // (H0, W0)
      for (std::int64_t i = 0; i < h * w; ++i) m.data()[i] = inside(i) ? 1 : 0;
      return m;
    };
    auto name_of = [&](std::int64_t c) {
      return request.class_names.at(static_cast<std::size_t>(c));
    };
    switch (request.task) {
      case Task::panoptic: {
        const Tensor<float> probs = softmax_rows(s.class_logits);  // (Q, C)
        const std::int64_t c = probs.size(1);
        const Tensor<std::int32_t> ids = p.panoptic.segment_ids.contiguous();  // (H0, W0)
        for (std::size_t i = 0; i < p.panoptic.segments.size(); ++i) {
          const eval::PanopticSegment& seg = p.panoptic.segments[i];
          const std::int64_t label = p.panoptic.labels[i], query = p.panoptic.queries[i];
          out.masks.push_back({plane_of([&](std::int64_t k) { return ids.data()[k] == seg.id; }),
                               name_of(label), label, probs.data()[query * c + label], query,
                               static_cast<bool>(p.panoptic.isthing[i]), seg.id});
        }
        break;
      }
      case Task::instance:
        for (std::size_t i = 0; i < p.instance.detections.size(); ++i) {
          const eval::CocoDetection& d = p.instance.detections[i];
          Tensor<std::uint8_t> m(Shape{h, w});  // (H0, W0)
          io::rle_decode_into(d.segmentation, m.data());
          const std::int64_t label = p.instance.labels[i];
          out.masks.push_back({std::move(m), name_of(label), label, static_cast<float>(d.score),
                               p.instance.queries[i], true, static_cast<std::int64_t>(i + 1)});
        }
        break;
      case Task::semantic: {
        const Tensor<std::int32_t> labels = p.semantic.labels.contiguous();  // (H0, W0)
        const Tensor<float> scores = p.semantic.scores.contiguous();         // (C - 1, H0, W0)
        for (std::int64_t c = 0; c < scores.size(0); ++c) {
          double sum = 0.0;
          std::int64_t area = 0;
          for (std::int64_t i = 0; i < h * w; ++i)
            if (labels.data()[i] == c) sum += scores.data()[c * h * w + i], ++area;
          if (area == 0) continue;
          out.masks.push_back({plane_of([&](std::int64_t i) { return labels.data()[i] == c; }),
                               name_of(c), c, static_cast<float>(sum / static_cast<double>(area)),
                               -1, true, static_cast<std::int64_t>(out.masks.size() + 1)});
        }
        break;
      }
      case Task::referring:
        out.masks.push_back(
            {p.referring.mask, request.sentence, 0, p.referring.score, p.referring.query, true, 1});
        break;
      case Task::gres: {
        out.no_target = p.gres.no_target;
        if (p.gres.no_target) break;
        std::int64_t best = p.gres.queries.front();
        for (const std::int64_t q : p.gres.queries)
          if (p.gres.scores[static_cast<std::size_t>(q)] >
              p.gres.scores[static_cast<std::size_t>(best)])
            best = q;
        out.masks.push_back({p.gres.mask, request.sentence, 0,
                             p.gres.scores[static_cast<std::size_t>(best)], best, true, 1});
        break;
      }
      case Task::interactive:
        for (std::size_t k = 0; k < p.regions.size(); ++k)
          out.masks.push_back({p.regions[k].mask, to_string(request.prompt_kinds[k]),
                               static_cast<std::int64_t>(k), p.regions[k].score, p.regions[k].query,
                               true, static_cast<std::int64_t>(k + 1)});
        break;
    }
  }

  std::unique_ptr<PsalmModel<float>> model_;
  SegmenterOptions options_;
  std::unique_ptr<InputEncoder> encoder_;
  SequenceLayout prefix_;       // the first P positions every prompt shares
  SequenceLayout chat_prefix_;  // the first positions every chat prompt shares
};

}  // namespace psalm
