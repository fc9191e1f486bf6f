// psalm/models/mask2former/decoder.hpp — MaskedAttentionDecoder, PSALM's masked-attention
// decoder (MultiScaleMaskedTransformerDecoderForOPTPreTrain.forward_woconcat): outside queries,
// layers cycling levels 1/32, 1/16, 1/8 (masked cross-attn, self-attn, FFN, post-norm), a
// prediction after the initial queries and every layer. Depends on: models/mask2former/*,
// nn/{embedding, feature_maps, map_tokens, position_encoding}. Test:
// tests/mask2former/test_decoder.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/models/mask2former/attention_layers.hpp"
#include "psalm/models/mask2former/config.hpp"
#include "psalm/models/mask2former/prediction_head.hpp"
#include "psalm/nn/embedding.hpp"
#include "psalm/nn/feature_maps.hpp"
#include "psalm/nn/map_tokens.hpp"
#include "psalm/nn/module.hpp"
#include "psalm/nn/position_encoding.hpp"

namespace psalm::models::mask2former {

// Letters: B batch, Q queries, D hidden_dim, M mask_dim, Hm Wm mask_features plane, H_l W_l and
// S_l = H_l W_l the plane and token count of memory level l (l = 0: 1/32, 1: 1/16, 2: 1/8).

/// What one decoder run produces.
template <Real T, Device Dev = cpu>
struct DecoderOutput {
  /// dec_layers + 1 prediction sets: [0] from the initial queries, [i + 1] after layer i. The
  /// last is the model's output (pred_*), the others feed deep supervision (aux_outputs).
  std::vector<Prediction<T, Dev>> predictions;
  /// The mask each layer's cross-attention used, (B, 1, Q, S_l), 1 = blocked (for inspection).
  std::vector<Tensor<std::uint8_t, Dev>> attention_masks;

  const Prediction<T, Dev>& last() const { return predictions.back(); }
};

template <Real T, Device Dev = cpu>
class MaskedAttentionDecoder : public nn::Module<T, Dev> {
 public:
  MaskedAttentionDecoder() = default;
  /// Initialised as upstream: attention / FFN matrices xavier_uniform, MHA biases zero, the
  /// embeddings N(0, 1), the MLPs PyTorch's default (PSALM then loads its checkpoint).
  MaskedAttentionDecoder(const MaskDecoderConfig& config, nn::InitRng& rng)
      : position_(config.hidden_dim / 2), config_(config) {
    config.validate();
    const std::int64_t d = config.hidden_dim;
    for (std::int64_t i = 0; i < config.dec_layers; ++i) {
      self_attention_layers.emplace_back(d, config.nheads, rng);
      cross_attention_layers.emplace_back(d, config.nheads, rng);
      ffn_layers.emplace_back(d, config.dim_feedforward, rng);
    }
    head = PredictionHead<T, Dev>(config, rng);
    query_feat = nn::Embedding<T, Dev>(config.num_queries, d, rng);
    query_embed = nn::Embedding<T, Dev>(config.num_queries, d, rng);
    seg_query_embed = nn::Embedding<T, Dev>(config.num_queries + 1, d, rng);
    level_embed = nn::Embedding<T, Dev>(config.num_feature_levels, d, rng);
  }

  /// Upstream names (PSALM prefixes them with "predictor."). The prediction head's entries sit
  /// directly on the decoder, as upstream keeps them (so train() / eval() reach the head's
  /// layers but not the PredictionHead object itself, which has no mode-dependent state).
  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.children("transformer_self_attention_layers", self_attention_layers);
    v.children("transformer_cross_attention_layers", cross_attention_layers);
    v.children("transformer_ffn_layers", ffn_layers);
    head.visit(v);  // decoder_norm, mask_embed, SEG_proj, CLASS_proj, REGION_proj
    v.child("query_feat", query_feat);
    v.child("query_embed", query_embed);
    v.child("SEG_query_embed", seg_query_embed);
    v.child("level_embed", level_embed);
  }

  /// queries (B, Q, D); multi_scale: the pixel decoder's maps (B, D, H_l, W_l), read coarsest
  /// first (level l = 0: res5 at 1/32, 1: res4 at 1/16, 2: res3 at 1/8); mask_features
  /// (B, M, Hm, Wm); the conditions the batch has.
  DecoderOutput<T, Dev> operator()(const Var<T, Dev>& queries,
                                   const nn::FeatureMaps<T, Dev>& multi_scale,
                                   const Var<T, Dev>& mask_features,
                                   const Conditions<T, Dev>& conditions = {}) const {
    check_inputs(queries, multi_scale, mask_features, conditions);
    const std::int64_t levels = config_.num_feature_levels;
    std::vector<Var<T, Dev>> src, pos;
    std::vector<std::int64_t> heights, widths;
    std::int64_t level = 0;
    for (int k : multi_scale.coarse_to_fine()) {
      const Var<T, Dev>& x = multi_scale.res(k);
      const std::int64_t h = x.size(2), w = x.size(3);
      heights.push_back(h);
      widths.push_back(w);
      pos.emplace_back(nn::map_to_tokens(position_(h, w)));  // (1, S_l, D), cached per size
      src.push_back(nn::map_to_tokens(x) +
                    autograd::slice(level_embed.weight, 0, level, level + 1));  // (B, S_l, D)
      ++level;
    }
    const Var<T, Dev> query_pos = autograd::unsqueeze(query_embed.weight, 0);  // (1, Q, D)

    DecoderOutput<T, Dev> out;
    Var<T, Dev> output = queries;  // (B, Q, D)
    out.predictions.push_back(head(output, mask_features, conditions));
    Tensor<std::uint8_t, Dev> blocked =
        attention_mask_from(out.predictions.back().masks.value(), heights[0], widths[0]);
    for (std::int64_t i = 0; i < config_.dec_layers; ++i) {
      const auto layer = static_cast<std::size_t>(i);
      const auto l = static_cast<std::size_t>(i % levels);
      out.attention_masks.push_back(blocked);  // (B, 1, Q, S_l)
      output = cross_attention_layers[layer](output, src[l], pos[l], query_pos, blocked);
      output = self_attention_layers[layer](output, query_pos);  // (B, Q, D)
      output = ffn_layers[layer](output);                        // (B, Q, D)
      out.predictions.push_back(head(output, mask_features, conditions));
      if (i + 1 < config_.dec_layers) {
        const auto next = static_cast<std::size_t>((i + 1) % levels);
        blocked = attention_mask_from(out.predictions.back().masks.value(), heights[next],
                                      widths[next]);  // (B, 1, Q, S_next)
      }
    }
    return out;
  }

  const MaskDecoderConfig& config() const { return config_; }

  std::vector<SelfAttentionLayer<T, Dev>> self_attention_layers;
  std::vector<CrossAttentionLayer<T, Dev>> cross_attention_layers;
  std::vector<FFNLayer<T, Dev>> ffn_layers;
  PredictionHead<T, Dev> head;
  nn::Embedding<T, Dev> query_feat;       // (Q, D): unused when queries come from the LLM
  nn::Embedding<T, Dev> query_embed;      // (Q, D): the queries' positional embedding
  nn::Embedding<T, Dev> seg_query_embed;  // SEG_query_embed (Q + 1, D): unused on this path
  nn::Embedding<T, Dev> level_embed;      // (3, D)

 private:
  nn::SinePositionEncoding<T, Dev> position_;  // hidden_dim / 2 features per axis
  void check_inputs(const Var<T, Dev>& queries, const nn::FeatureMaps<T, Dev>& multi_scale,
                    const Var<T, Dev>& mask_features, const Conditions<T, Dev>& c) const {
    const std::int64_t d = config_.hidden_dim;
    PSALM_CHECK(
        queries.rank() == 3 && queries.size(1) == config_.num_queries && queries.size(2) == d,
        "MaskedAttentionDecoder: queries must be (B, ", config_.num_queries, ", ", d, "), got ",
        queries.shape());
    const std::int64_t b = queries.size(0);
    PSALM_CHECK(static_cast<std::int64_t>(multi_scale.size()) == config_.num_feature_levels,
                "MaskedAttentionDecoder: expected ", config_.num_feature_levels,
                " multi-scale maps (1/32, 1/16, 1/8), got ", multi_scale.size(), " (",
                multi_scale.names(), ")");
    for (int k : multi_scale.levels())
      PSALM_CHECK(multi_scale.res(k).size(0) == b && multi_scale.res(k).size(1) == d,
                  "MaskedAttentionDecoder: multi-scale map res", k, " must be (", b, ", ", d,
                  ", H, W), got ", multi_scale.res(k).shape());
    PSALM_CHECK(mask_features.rank() == 4 && mask_features.size(0) == b &&
                    mask_features.size(1) == config_.mask_dim,
                "MaskedAttentionDecoder: mask_features must be (", b, ", ", config_.mask_dim,
                ", H, W), got ", mask_features.shape());
    PSALM_CHECK(!c.class_conditions.defined() ||
                    (c.class_conditions.rank() == 3 && c.class_conditions.size(0) == b &&
                     c.class_conditions.size(2) == d),
                "MaskedAttentionDecoder: class conditions must be (", b, ", C, ", d, "), got ",
                c.class_conditions.shape());
    PSALM_CHECK(!c.referring_conditions.defined() ||
                    (c.referring_conditions.rank() == 3 && c.referring_conditions.size(0) == b &&
                     c.referring_conditions.size(2) == d),
                "MaskedAttentionDecoder: referring conditions must be (", b, ", 1, ", d, "), got ",
                c.referring_conditions.shape());
    PSALM_CHECK(
        c.region_conditions.empty() || static_cast<std::int64_t>(c.region_conditions.size()) == b,
        "MaskedAttentionDecoder: region conditions must hold one (K_b, ", d,
        ") matrix per sample (", b, "), got ", c.region_conditions.size());
    for (std::size_t s = 0; s < c.region_conditions.size(); ++s)
      PSALM_CHECK(c.region_conditions[s].rank() == 2 && c.region_conditions[s].size(1) == d,
                  "MaskedAttentionDecoder: region conditions of sample ", s, " must be (K, ", d,
                  "), got ", c.region_conditions[s].shape());
  }

  MaskDecoderConfig config_;
};

}  // namespace psalm::models::mask2former
