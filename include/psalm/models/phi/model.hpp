// psalm/models/phi/model.hpp — PhiModel (embed_tokens -> N decoder layers -> final_layernorm)
// and PhiForCausalLM (PhiModel + lm_head), PSALM_SPEC.md §1.5. Two entry points: token ids, or
// embeddings (PSALM splices image, mask-token and visual-prompt embeddings into the sequence).
// Optional per-layer activation checkpointing and a KV cache for incremental decoding.
// Depends on: nn/{embedding,layer_norm,linear}, autograd/checkpoint,
// models/phi/{decoder_layer,kv_cache}.
// Test: tests/phi/test_transformers_parity.cpp, tests/phi/test_generate.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "psalm/autograd/checkpoint.hpp"
#include "psalm/models/phi/decoder_layer.hpp"
#include "psalm/models/phi/kv_cache.hpp"
#include "psalm/nn/embedding.hpp"
#include "psalm/nn/layer_norm.hpp"
#include "psalm/nn/linear.hpp"

namespace psalm::models::phi {

// Letters: B batch, L positions of this call, D hidden, V vocabulary.

/// The decoder stack. Parameter names as transformers' PhiModel (`embed_tokens.weight`,
/// `layers.{i}.self_attn.q_proj.weight`, ..., `final_layernorm.weight`).
template <Real T, Device Dev = cpu>
class PhiModel : public nn::Module<T, Dev> {
 public:
  PhiModel() = default;
  /// Random weights: embedding N(0, 0.02), linear layers PyTorch's default, LayerNorm (1, 0).
  /// Real use loads weights (models/phi/weights.hpp).
  PhiModel(const PhiConfig& config, nn::InitRng& rng)
      : embed_tokens(config.vocab_size, config.hidden_size, rng, 0.02),
        final_layernorm(config.hidden_size, config.layer_norm_eps),
        config_(config) {
    config.validate();
    for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) layers.emplace_back(config, rng);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("embed_tokens", embed_tokens);
    v.children("layers", layers);
    v.child("final_layernorm", final_layernorm);
  }

  const PhiConfig& config() const { return config_; }
  PhiConfig& config() { return config_; }

  /// The word embeddings of ids (B, L) -> (B, L, D).
  Var<T, Dev> embed(const Tensor<std::int64_t, Dev>& input_ids) const {
    PSALM_CHECK(input_ids.rank() == 2, "PhiModel: input_ids must be (B, L), got ",
                input_ids.shape());
    return autograd::embedding(input_ids, embed_tokens.weight,
                               config_.pad_token_id.value_or(autograd::kNoPadding));  // (B, L, D)
  }

  /// input_ids (B, L) -> final-normed hidden states (B, L, D). attention_mask (B, L) on the CPU,
  /// 1 = token, 0 = padding (right padding); undefined = no padding. With a cache, the L
  /// positions follow the cached ones and attention_mask covers only them. Non-const, as a
  /// module's forward is: gradient checkpointing walks each layer's parameters.
  Var<T, Dev> operator()(const Tensor<std::int64_t, Dev>& input_ids,
                         const Tensor<std::int64_t>& attention_mask = {},
                         PhiKvCache<T, Dev>* cache = nullptr) {
    return (*this)(embed(input_ids), attention_mask, cache);
  }

  /// inputs_embeds (B, L, D) -> final-normed hidden states (B, L, D); masks as above.
  Var<T, Dev> operator()(const Var<T, Dev>& inputs_embeds,
                         const Tensor<std::int64_t>& attention_mask = {},
                         PhiKvCache<T, Dev>* cache = nullptr) {
    PSALM_CHECK(inputs_embeds.rank() == 3 && inputs_embeds.size(2) == config_.hidden_size,
                "PhiModel: inputs_embeds must be (B, L, ", config_.hidden_size, "), got ",
                inputs_embeds.shape());
    const std::int64_t b = inputs_embeds.size(0), l = inputs_embeds.size(1);
    AttentionInputs<T, Dev> in;
    std::int64_t offset = 0;
    if (cache != nullptr) {
      PSALM_CHECK(cache->batch() == b, "PhiModel: cache batch ", cache->batch(),
                  " differs from the input batch ", b);
      offset = cache->length();
      in.blocked = cache->begin_step(l, attention_mask);  // (B, 1, L, cached + L)
      in.cache = cache;
    } else {
      in.blocked = attention_blocked_mask<Dev>(attention_mask, b, l, l);  // (B, 1, L, L)
    }
    in.rotary = RotaryTables<T, Dev>::make(config_, offset, l);  // (L, F)
    Var<T, Dev> x = inputs_embeds;                               // (B, L, D)
    for (std::size_t i = 0; i < layers.size(); ++i) {
      PhiDecoderLayer<T, Dev>& layer = layers[i];
      const auto index = static_cast<std::int64_t>(i);
      if (gradient_checkpointing && cache == nullptr) {
        std::vector<Var<T, Dev>> params;  // handles: they share values and gradients
        layer.for_each_parameter([&](const std::string&, Var<T, Dev>& p) { params.push_back(p); });
        const PhiDecoderLayer<T, Dev>& block = layer;
        x = autograd::checkpoint(
            [&block, in, index](const Var<T, Dev>& xi) { return block(xi, in, index); }, x,
            params);  // (B, L, D)
      } else {
        x = layer(x, in, index);  // (B, L, D)
      }
    }
    if (cache != nullptr) cache->end_step();
    return final_layernorm(x);  // (B, L, D)
  }

  nn::Embedding<T, Dev> embed_tokens;
  std::vector<PhiDecoderLayer<T, Dev>> layers;
  nn::LayerNorm<T, Dev> final_layernorm;
  /// Recompute each layer's forward in backward instead of keeping its activations (the
  /// transformers name). Ignored with a KV cache.
  bool gradient_checkpointing = false;

 private:
  PhiConfig config_;
};

/// What PhiForCausalLM returns.
template <Real T, Device Dev>
struct PhiOutput {
  Var<T, Dev> last_hidden_state;  // (B, L, D)
  Var<T, Dev> logits;             // (B, L, V), undefined unless asked for
};

/// PhiModel under `model.` and `lm_head` (with a bias unless config.lm_head_bias is false).
/// With config.tie_word_embeddings the logits use `model.embed_tokens.weight` and there is no
/// `lm_head` entry (as transformers saves tied models).
template <Real T, Device Dev = cpu>
class PhiForCausalLM : public nn::Module<T, Dev> {
 public:
  PhiForCausalLM() = default;
  PhiForCausalLM(const PhiConfig& config, nn::InitRng& rng)
      : model(config, rng),
        lm_head(config.tie_word_embeddings
                    ? nn::Linear<T, Dev>()
                    : nn::Linear<T, Dev>(config.hidden_size, config.vocab_size, rng,
                                         config.lm_head_bias)) {}

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("model", model);
    if (!config().tie_word_embeddings) v.child("lm_head", lm_head);
  }

  const PhiConfig& config() const { return model.config(); }

  /// input_ids (B, L) -> hidden states (B, L, D) and, when `with_logits`, logits (B, L, V).
  PhiOutput<T, Dev> forward(const Tensor<std::int64_t, Dev>& input_ids,
                            const Tensor<std::int64_t>& attention_mask = {},
                            bool with_logits = true, PhiKvCache<T, Dev>* cache = nullptr) {
    return heads(model(input_ids, attention_mask, cache), with_logits);
  }
  /// inputs_embeds (B, L, D) -> the same.
  PhiOutput<T, Dev> forward(const Var<T, Dev>& inputs_embeds,
                            const Tensor<std::int64_t>& attention_mask = {},
                            bool with_logits = true, PhiKvCache<T, Dev>* cache = nullptr) {
    return heads(model(inputs_embeds, attention_mask, cache), with_logits);
  }

  /// hidden (B, L, D) -> (B, L, V) through lm_head or, tied, the input embedding.
  Var<T, Dev> logits(const Var<T, Dev>& hidden) const {
    if (config().tie_word_embeddings)
      return autograd::linear(hidden, model.embed_tokens.weight, Var<T, Dev>{});  // (B, L, V)
    return lm_head(hidden);                                                       // (B, L, V)
  }

  PhiModel<T, Dev> model;
  nn::Linear<T, Dev> lm_head;  ///< empty when the embeddings are tied

 private:
  PhiOutput<T, Dev> heads(Var<T, Dev> hidden, bool with_logits) const {
    PhiOutput<T, Dev> out{std::move(hidden), {}};
    if (with_logits) out.logits = logits(out.last_hidden_state);  // (B, L, V)
    return out;
  }
};

}  // namespace psalm::models::phi
