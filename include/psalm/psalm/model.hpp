// psalm/psalm/model.hpp — PsalmModel, the whole of PSALM (the paper's Fig. 2; PSALM_SPEC §1):
// Swin -> projector -> image tokens; the prompt's sequence spliced from words, image tokens,
// pooled visual prompts and mask tokens -> Phi -> hidden states; mask-token outputs -> decoder
// queries; class-name / sentence / region outputs -> condition embeddings; Swin features ->
// pixel decoder -> the masked-attention decoder -> a prediction per decoder layer. Parameter
// names are the released checkpoint's (spec §7.1), so loading it is a 1:1 map.
// Depends on: models/{swin,projector,phi,deformable,mask2former}, psalm/{config, sequence,
// embedding, conditions, region_pooling, task}. Test: tests/psalm/test_model.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "psalm/models/deformable/pixel_decoder.hpp"
#include "psalm/models/mask2former/decoder.hpp"
#include "psalm/models/phi/kv_cache.hpp"
#include "psalm/models/phi/model.hpp"
#include "psalm/models/projector/projector.hpp"
#include "psalm/models/swin/backbone.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/psalm/conditions.hpp"
#include "psalm/psalm/config.hpp"
#include "psalm/psalm/embedding.hpp"
#include "psalm/psalm/region_pooling.hpp"
#include "psalm/psalm/sequence.hpp"
#include "psalm/psalm/sequence_batch.hpp"
#include "psalm/psalm/task.hpp"

namespace psalm {

using autograd::Real;
using autograd::Var;
using models::mask2former::Conditions;
using models::mask2former::Prediction;

// Letters: B batch, T input side, G image-token grid (N = G*G tokens), L padded sequence,
// D LLM width, E decoder width, Q mask tokens, C classes, K_b visual prompts of sample b,
// P points pooled per prompt, Hm Wm mask plane (T/4).

/// One batch: every sample has the same task.
template <Real T, Device Dev = cpu>
struct PsalmBatch {
  Task task = Task::panoptic;
  Tensor<T, Dev> pixels;  ///< (B, 3, T, T), preprocessed (psalm/preprocess.hpp)
  SequenceBatch sequence;
  /// Per sample, the prompt pixels to pool for each of its K_b visual prompts: (K_b, P, 2) in
  /// [0, 1] as (x, y) (psalm/region_pooling.hpp draws them). Empty unless the task is
  /// interactive.
  std::vector<Tensor<T, Dev>> region_points;
  /// Per sample, the image tokens (N, D) its visual prompts are pooled from when they belong
  /// to another image than its own: upstream's `vp_images` (video object segmentation prompts
  /// frame t with regions of a reference frame; these are that frame's `image_tokens`, which
  /// the vision tower and projector would give again). Empty, or an undefined entry: the
  /// sample's own image tokens. Constants: no gradient flows into them.
  std::vector<Tensor<T, Dev>> region_tokens;

  /// B: images, or sequences when the pixels are left out (PsalmModel::decode).
  std::int64_t batch() const { return pixels.defined() ? pixels.size(0) : sequence.batch(); }
};

/// The prompt-independent half of a forward pass: what Swin, the projector and the pixel
/// decoder make of a batch of images. `encode_images` computes it and `decode` reads it, so an
/// image can be segmented with many prompts while this half runs once (psalm/segmenter.hpp).
template <Real T, Device Dev = cpu>
struct PsalmImageFeatures {
  Var<T, Dev> image_tokens;                              ///< (B, N, D) the projector's tokens
  models::deformable::PixelDecoderOutput<T, Dev> pixel;  ///< the decoder's maps and mask features
  /// (B, N, D) the tokens visual prompts are pooled from; undefined: image_tokens. Video object
  /// segmentation pools them from a reference frame (ref: llava_phi.py PSALMForDAVISEval,
  /// vp_images).
  Var<T, Dev> region_tokens;

  std::int64_t batch() const { return image_tokens.defined() ? image_tokens.size(0) : 0; }
};

/// Everything a forward pass produces; `predictions` is what training and inference read.
template <Real T, Device Dev = cpu>
struct PsalmOutput {
  /// dec_layers + 1 prediction sets: [0] from the initial queries, one after every decoder
  /// layer; back() is the model's output (pred_*), the others feed deep supervision.
  std::vector<Prediction<T, Dev>> predictions;
  Var<T, Dev> image_tokens;  ///< (B, N, D)
  /// (B, L, D); with a prefix cache (PsalmModel::decode) only the positions after the prefix.
  Var<T, Dev> inputs_embeds;
  Var<T, Dev> hidden;   ///< (B, L, D) like inputs_embeds: Phi's output after final_layernorm
  Var<T, Dev> queries;  ///< (B, Q, E): seg_query_projector of the mask-token outputs
  Conditions<T, Dev> conditions;

  const Prediction<T, Dev>& last() const { return predictions.back(); }
};

/// PSALM's `model.`: Phi's decoder stack with the vision tower and the projector beside it
/// (upstream's PSALMModel(LlavaMetaModel, PhiModel)).
template <Real T, Device Dev = cpu>
class PsalmLanguageModel : public nn::Module<T, Dev> {
 public:
  PsalmLanguageModel() = default;
  PsalmLanguageModel(const PsalmConfig& config, nn::InitRng& rng)
      : phi(config.phi, rng),
        vision_tower(config.swin, rng),
        mm_projector(models::projector::make_projector<T, Dev>(config.projector, rng)) {}

  /// Phi's entries (embed_tokens, layers, final_layernorm) sit directly under `model.`.
  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    phi.visit(v);
    v.child("vision_tower", vision_tower);
    v.child("mm_projector", *mm_projector);
  }

  models::phi::PhiModel<T, Dev> phi;
  models::swin::SwinBackbone<T, Dev> vision_tower;
  std::unique_ptr<models::projector::Projector<T, Dev>> mm_projector;
};

template <Real T, Device Dev = cpu>
class PsalmModel : public nn::Module<T, Dev> {
 public:
  PsalmModel() = default;
  /// Random weights initialised as upstream builds a fresh model: the components their own
  /// way, seg_query zeros, region_projector N(0, 0.02) with zero bias, the other projectors
  /// PyTorch's Linear default. `InitRng::for_loading()` skips drawing when weights follow.
  PsalmModel(const PsalmConfig& config, nn::InitRng& rng)
      : model(config, rng),
        lm_head(config.phi.tie_word_embeddings
                    ? nn::Linear<T, Dev>()
                    : nn::Linear<T, Dev>(config.phi.hidden_size, config.phi.vocab_size, rng,
                                         config.phi.lm_head_bias)),
        region_projector(config.phi.hidden_size, config.decoder_dim(), rng),
        pixel_decoder(config.pixel_decoder, rng),
        predictor(config.mask_decoder, rng),
        seg_query_projector(config.phi.hidden_size, config.decoder_dim(), rng),
        SEG_token_projector(config.phi.hidden_size, config.decoder_dim(), rng),
        class_name_projector(config.phi.hidden_size, config.decoder_dim(), rng),
        config_(config) {
    config.validate();
    seg_query = Var<T, Dev>::parameter(
        Tensor<T, Dev>::zeros(Shape{config.num_mask_tokens, config.phi.hidden_size}));  // (Q, D)
    region_projector.weight = Var<T, Dev>::parameter(nn::init::normal<T, Dev>(
        {config.decoder_dim(), config.phi.hidden_size}, 0.02, rng));  // (E, D)
    region_projector.bias =
        Var<T, Dev>::parameter(Tensor<T, Dev>::zeros(Shape{config.decoder_dim()}));  // (E)
  }

  /// Upstream's state_dict order: PSALM's own seg_query, then its modules as registered.
  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.parameter("seg_query", seg_query);
    v.child("model", model);
    if (!config_.phi.tie_word_embeddings) v.child("lm_head", lm_head);
    v.child("region_projector", region_projector);
    v.child("pixel_decoder", pixel_decoder);
    v.child("predictor", predictor);
    v.child("seg_query_projector", seg_query_projector);
    v.child("SEG_token_projector", SEG_token_projector);
    v.child("class_name_projector", class_name_projector);
  }

  const PsalmConfig& config() const { return config_; }

  /// Freezes (false) or unfreezes Swin; PSALM's stage 2 trains with it frozen (spec §4.5).
  void set_vision_tower_trainable(bool on) { model.vision_tower.set_requires_grad(on); }

  /// The segmentation forward pass of one single-task batch: encode_images, then decode.
  PsalmOutput<T, Dev> operator()(const PsalmBatch<T, Dev>& batch) {
    check_batch(batch);
    return decode(batch, encode_images(batch.pixels));
  }

  /// The image half of the forward pass: pixels (B, 3, T, T), preprocessed, -> projector
  /// tokens and pixel-decoder maps.
  PsalmImageFeatures<T, Dev> encode_images(const Tensor<T, Dev>& pixels) {
    const std::int64_t t = config_.image_size;
    PSALM_CHECK(pixels.defined() && pixels.rank() == 4 && pixels.size(0) >= 1 &&
                    pixels.size(1) == 3 && pixels.size(2) == t && pixels.size(3) == t,
                "PsalmModel: pixels must be (B, 3, ", t, ", ", t, "), got ",
                pixels.defined() ? pixels.shape() : Shape{});
    const Var<T, Dev> input(pixels);
    PsalmImageFeatures<T, Dev> out;
    // ref: llava_phi.py runs the vision tower once for the projector tokens and once more for
    // the pixel decoder; with drop path active the two passes differ (two_vision_passes).
    const nn::FeatureMaps<T, Dev> features = model.vision_tower(input);  // res2..res5
    out.image_tokens = (*model.mm_projector)(features.res(5));           // (B, N, D)
    const nn::FeatureMaps<T, Dev> decoder_features =
        two_vision_passes ? model.vision_tower(input) : features;  // res2..res5
    out.pixel = pixel_decoder(decoder_features);
    return out;
  }

  /// Runs the first P positions of the batch's sequences through Phi into `cache` (which must
  /// be empty): the positions every prompt on these images shares, text and image tokens only
  /// (the system prompt and the image). `decode(..., &cache)` then starts after them.
  /// Inference only (run under autograd::NoGrad).
  void prefill(const PsalmImageFeatures<T, Dev>& image, const SequenceBatch& prefix,
               models::phi::PhiKvCache<T, Dev>& cache) {
    PSALM_CHECK(cache.length() == 0, "PsalmModel::prefill: the cache already holds ",
                cache.length(), " positions");
    PSALM_CHECK(prefix.batch() == image.batch(), "PsalmModel::prefill: ", image.batch(),
                " images but a prefix batch of ", prefix.batch());
    check_plain_prefix(prefix, prefix.length());
    const Var<T, Dev> embeds = splice_embeddings<T, Dev>(
        {model.phi.embed(prefix.token_ids.template to<Dev>()), image.image_tokens, {}, {}},
        prefix);  // (B, P, D)
    model.phi(embeds, prefix.attention_mask, &cache);
  }

  /// The prompt half of the forward pass on encoded images: the batch's sequences (its pixels
  /// are not read) -> Phi -> mask-token queries and conditions -> the masked-attention decoder.
  /// With `prefix` (filled by prefill from the same images and the same first positions),
  /// only the positions after the cached ones run through Phi; the cache is left longer by
  /// them (PhiKvCache::rewind takes it back for the next prompt).
  PsalmOutput<T, Dev> decode(const PsalmBatch<T, Dev>& batch,
                             const PsalmImageFeatures<T, Dev>& image,
                             models::phi::PhiKvCache<T, Dev>* prefix = nullptr) {
    check_sequences(batch);
    const std::int64_t b = batch.sequence.batch();
    PSALM_CHECK(image.batch() == b, "PsalmModel: ", image.batch(),
                " encoded images but a sequence batch of ", b);
    const std::int64_t cached = prefix != nullptr ? prefix->length() : 0;
    if (cached > 0) {
      PSALM_CHECK(cached < batch.sequence.length(), "PsalmModel: the cached prefix (", cached,
                  " positions) leaves nothing of sequences of ", batch.sequence.length());
      check_plain_prefix(batch.sequence, cached);
    }
    // The positions that run through Phi now: all, or those after the cached prefix.
    const SequenceBatch seq =
        cached > 0 ? narrow_sequences(batch.sequence, cached, batch.sequence.length() - cached)
                   : batch.sequence;
    PsalmOutput<T, Dev> out;
    out.image_tokens = image.image_tokens;  // (B, N, D)
    const std::vector<Var<T, Dev>> regions = pool_batch_regions(
        image.region_tokens.defined() ? image.region_tokens : image.image_tokens, batch);
    out.inputs_embeds = splice_embeddings<T, Dev>(
        {model.phi.embed(seq.token_ids.template to<Dev>()), out.image_tokens, regions, seg_query},
        seq);                                                               // (B, L, D)
    out.hidden = model.phi(out.inputs_embeds, seq.attention_mask, prefix);  // (B, L, D)

    out.queries = seg_query_projector(
        gather_positions(out.hidden, positions_of(seq, TokenSource::mask_token),
                         {b, config_.num_mask_tokens, config_.phi.hidden_size}));  // (B, Q, E)
    out.conditions = conditions_for(batch.task, out.hidden, seq);

    out.predictions =
        predictor(out.queries, image.pixel.multi_scale, image.pixel.mask_features, out.conditions)
            .predictions;
    return out;
  }

  /// Next-token logits (B, L, V) of a text-only or image + text sequence (the LLaVA
  /// conversation batches and `psalm chat`): no mask tokens, no decoder.
  Var<T, Dev> language_logits(const PsalmBatch<T, Dev>& batch) {
    PSALM_CHECK(batch.sequence.batch() >= 1, "PsalmModel: empty batch");
    Var<T, Dev> image_tokens;
    if (batch.pixels.defined())
      image_tokens = (*model.mm_projector)(model.vision_tower(Var<T, Dev>(batch.pixels)).res(5));
    const Var<T, Dev> embeds = splice_embeddings<T, Dev>(
        {model.phi.embed(batch.sequence.token_ids.template to<Dev>()), image_tokens, {}, {}},
        batch.sequence);                                                     // (B, L, D)
    return language_head(model.phi(embeds, batch.sequence.attention_mask));  // (B, L, V)
  }

  /// Phi's hidden states (B, L, D) -> next-token logits (B, L, V).
  Var<T, Dev> language_head(const Var<T, Dev>& hidden) const {
    if (config_.phi.tie_word_embeddings)  // the input embedding is the output projection
      return autograd::linear(hidden, model.phi.embed_tokens.weight, Var<T, Dev>{});  // (B, L, V)
    return lm_head(hidden);                                                           // (B, L, V)
  }

  /// Runs the positions of `seq` (words, image tokens of `image`, mask tokens; no visual
  /// prompts) through Phi after those `cache` holds, appending them to it: the steps of text
  /// generation (psalm/chat.hpp). Returns their hidden states (B, L, D). Inference only.
  Var<T, Dev> language_hidden(const PsalmImageFeatures<T, Dev>& image, const SequenceBatch& seq,
                              models::phi::PhiKvCache<T, Dev>& cache) {
    const Var<T, Dev> embeds = splice_embeddings<T, Dev>(
        {model.phi.embed(seq.token_ids.template to<Dev>()), image.image_tokens, {}, seg_query},
        seq);                                              // (B, L, D)
    return model.phi(embeds, seq.attention_mask, &cache);  // (B, L, D)
  }

  /// The mask decoder driven by a generated [SEG] token (psalm chat): its hidden state
  /// (B, 1, D) becomes the referring condition through SEG_token_projector, and the hidden
  /// states of the mask tokens that follow it (B, Q, D) the queries through
  /// seg_query_projector, as a referring prompt's "[SEG]<seg>" answer feeds them. Returns the
  /// last decoder layer's prediction.
  Prediction<T, Dev> seg_token_prediction(const PsalmImageFeatures<T, Dev>& image,
                                          const Var<T, Dev>& seg_hidden,
                                          const Var<T, Dev>& mask_hidden) {
    PSALM_CHECK(seg_hidden.rank() == 3 && seg_hidden.size(1) == 1 && mask_hidden.rank() == 3 &&
                    mask_hidden.size(1) == config_.num_mask_tokens,
                "PsalmModel: a [SEG] prediction needs hidden states (B, 1, D) and (B, ",
                config_.num_mask_tokens, ", D), got ", seg_hidden.shape(), " and ",
                mask_hidden.shape());
    Conditions<T, Dev> c;
    c.referring_conditions = SEG_token_projector(seg_hidden);      // (B, 1, E)
    const Var<T, Dev> queries = seg_query_projector(mask_hidden);  // (B, Q, E)
    return predictor(queries, image.pixel.multi_scale, image.pixel.mask_features, c)
        .predictions.back();
  }

  PsalmLanguageModel<T, Dev> model;
  nn::Linear<T, Dev> lm_head;  ///< empty when config.phi.tie_word_embeddings
  nn::Linear<T, Dev> region_projector;
  models::deformable::PixelDecoder<T, Dev> pixel_decoder;
  models::mask2former::MaskedAttentionDecoder<T, Dev> predictor;
  nn::Linear<T, Dev> seg_query_projector;
  nn::Linear<T, Dev> SEG_token_projector;  // upstream's name: the referring condition
  nn::Linear<T, Dev> class_name_projector;
  Var<T, Dev> seg_query;  ///< (Q, D) the learnable mask tokens
  /// Run Swin a second time for the pixel decoder, as the released recipe does (only differs
  /// from one shared pass when drop path is active).
  bool two_vision_passes = false;

 private:
  /// Flat positions b * L + p of every `kind` position, ordered by sample then source_index.
  static std::vector<std::int64_t> positions_of(const SequenceBatch& seq, TokenSource kind) {
    const std::int64_t b = seq.batch(), l = seq.length();
    const Tensor<std::uint8_t> source = seq.source.contiguous();
    const Tensor<std::int64_t> index = seq.source_index.contiguous();
    std::vector<std::int64_t> out;
    for (std::int64_t s = 0; s < b; ++s) {
      std::vector<std::pair<std::int64_t, std::int64_t>> found;  // (source_index, position)
      for (std::int64_t p = 0; p < l; ++p)
        if (static_cast<TokenSource>(source.data()[s * l + p]) == kind)
          found.emplace_back(index.data()[s * l + p], s * l + p);
      std::sort(found.begin(), found.end());
      for (const auto& [k, pos] : found) out.push_back(pos);
    }
    return out;
  }

  /// The visual-prompt vectors of every sample: its points pooled from its own image tokens,
  /// or from its `region_tokens` entry when that is defined.
  std::vector<Var<T, Dev>> pool_batch_regions(const Var<T, Dev>& image_tokens,
                                              const PsalmBatch<T, Dev>& batch) const {
    std::vector<Var<T, Dev>> out;
    if (batch.region_points.empty()) return out;
    const std::int64_t b = batch.batch(), n = image_tokens.size(1), d = image_tokens.size(2);
    for (std::int64_t s = 0; s < b; ++s) {
      const auto i = static_cast<std::size_t>(s);
      const Tensor<T, Dev>& points = batch.region_points[i];
      if (!points.defined() || points.size(0) == 0) {
        out.emplace_back();
        continue;
      }
      const bool other = i < batch.region_tokens.size() && batch.region_tokens[i].defined();
      PSALM_CHECK((!other || batch.region_tokens[i].shape() == Shape{n, d}),
                  "PsalmModel: region tokens of sample ", s, " are ",
                  batch.region_tokens[i].shape(), "; the image tokens are (", n, ", ", d, ")");
      const Var<T, Dev> tokens =
          other ? Var<T, Dev>(batch.region_tokens[i])                                     // (N, D)
                : autograd::reshape(autograd::slice(image_tokens, 0, s, s + 1), {n, d});  // (N, D)
      out.push_back(region_pool(tokens, points));  // (K_b, D)
    }
    return out;
  }

  /// The conditions the task's head reads (spec §2.6: the other kinds stay absent).
  Conditions<T, Dev> conditions_for(Task task, const Var<T, Dev>& hidden,
                                    const SequenceBatch& seq) const {
    Conditions<T, Dev> c;
    const std::int64_t b = seq.batch();
    switch (condition_kind(task)) {
      case ConditionKind::classes: {
        const std::int64_t classes = seq.num_classes.empty() ? 0 : seq.num_classes.front();
        for (std::int64_t n : seq.num_classes)
          PSALM_CHECK(n == classes, "PsalmModel: samples of one batch list ", classes, " and ", n,
                      " classes; a batch needs one class count");
        c.class_conditions = class_name_projector(
            span_mean(hidden, seq.class_index, classes, "class conditions"));  // (B, C, E)
        break;
      }
      case ConditionKind::referring: {
        const Tensor<std::int64_t> refer(psalm::cast<std::int64_t>(seq.refer_mask));  // (B, L)
        c.referring_conditions =
            SEG_token_projector(span_mean(hidden, refer, 1, "referring condition"));  // (B, 1, E)
        break;
      }
      case ConditionKind::regions: {
        const std::vector<std::int64_t> pos = positions_of(seq, TokenSource::region);
        const Var<T, Dev> all = region_projector(gather_positions(
            hidden, pos, {static_cast<std::int64_t>(pos.size()), config_.phi.hidden_size}));
        std::int64_t start = 0;  // regions are ordered by sample
        for (std::int64_t s = 0; s < b; ++s) {
          const std::int64_t k = seq.num_regions[static_cast<std::size_t>(s)];
          c.region_conditions.push_back(autograd::slice(all, 0, start, start + k));  // (K_b, E)
          start += k;
        }
        break;
      }
    }
    return c;
  }

  void check_batch(const PsalmBatch<T, Dev>& batch) const {
    const std::int64_t t = config_.image_size;
    PSALM_CHECK(batch.pixels.rank() == 4 && batch.pixels.size(1) == 3 &&
                    batch.pixels.size(2) == t && batch.pixels.size(3) == t,
                "PsalmModel: pixels must be (B, 3, ", t, ", ", t, "), got ", batch.pixels.shape());
    const std::int64_t b = batch.batch();
    PSALM_CHECK(b >= 1 && batch.sequence.batch() == b, "PsalmModel: ", b,
                " images but a sequence batch of ", batch.sequence.batch());
  }

  /// What decode reads of a batch: the sequences and, for interactive tasks, region points.
  void check_sequences(const PsalmBatch<T, Dev>& batch) const {
    const std::int64_t b = batch.sequence.batch();
    PSALM_CHECK(b >= 1, "PsalmModel: empty sequence batch");
    PSALM_CHECK(static_cast<std::int64_t>(batch.sequence.num_regions.size()) == b &&
                    static_cast<std::int64_t>(batch.sequence.num_classes.size()) == b,
                "PsalmModel: the sequence batch must count classes and regions per sample");
    const bool regions = condition_kind(batch.task) == ConditionKind::regions;
    PSALM_CHECK(!regions || static_cast<std::int64_t>(batch.region_points.size()) == b,
                "PsalmModel: an interactive batch needs region points for each of its ", b,
                " samples, got ", batch.region_points.size());
    for (std::int64_t s = 0; s < b && regions; ++s) {
      const std::int64_t k = batch.sequence.num_regions[static_cast<std::size_t>(s)];
      const Tensor<T, Dev>& p = batch.region_points[static_cast<std::size_t>(s)];
      PSALM_CHECK(k >= 1, "PsalmModel: interactive sample ", s, " has no <region>");
      PSALM_CHECK(p.defined() && p.rank() == 3 && p.size(0) == k && p.size(2) == 2,
                  "PsalmModel: region points of sample ", s, " must be (", k, ", P, 2), got ",
                  p.defined() ? p.shape() : Shape{});
    }
    PSALM_CHECK(
        batch.region_tokens.empty() || static_cast<std::int64_t>(batch.region_tokens.size()) == b,
        "PsalmModel: region tokens must be given for all ", b, " samples or none, got ",
        batch.region_tokens.size());
    for (std::size_t s = 0; s < batch.region_tokens.size(); ++s)
      PSALM_CHECK(!batch.region_tokens[s].defined() ||
                      (batch.region_tokens[s].rank() == 2 &&
                       batch.region_tokens[s].size(1) == config_.phi.hidden_size),
                  "PsalmModel: region tokens of sample ", s, " must be (N, ",
                  config_.phi.hidden_size, "), got ", batch.region_tokens[s].shape());
  }

  /// A cached prefix may hold only text and image tokens of real (unpadded) positions: the
  /// conditions and queries read positions after it.
  static void check_plain_prefix(const SequenceBatch& seq, std::int64_t length) {
    PSALM_CHECK(length >= 1 && length <= seq.length(), "PsalmModel: a prefix of ", length,
                " positions does not fit sequences of ", seq.length());
    const std::int64_t l = seq.length();
    for (std::int64_t s = 0; s < seq.batch(); ++s)
      for (std::int64_t p = 0; p < length; ++p) {
        const auto src = static_cast<TokenSource>(seq.source.data()[s * l + p]);
        PSALM_CHECK((src == TokenSource::word || src == TokenSource::image) &&
                        seq.attention_mask.data()[s * l + p] == 1 &&
                        seq.class_index.data()[s * l + p] == 0 &&
                        seq.refer_mask.data()[s * l + p] == 0,
                    "PsalmModel: position ", p, " of sample ", s,
                    " cannot be part of a cached prefix (only text and image tokens can)");
      }
  }

  PsalmConfig config_;
};

}  // namespace psalm
