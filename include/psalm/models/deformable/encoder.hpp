// psalm/models/deformable/encoder.hpp — the encoder-only deformable transformer of Mask2Former's
// pixel decoder (MSDeformAttnTransformerEncoderOnly, `pixel_decoder.transformer.*`): flattens
// the levels into one token sequence, adds a learned level embedding to each level's sine
// position (computed once per map size), and runs the encoder layers with pixel-centre
// reference points. Depends on: models/deformable/{encoder_layer, ms_deform_attn}, nn.
// Test: tests/pixel_decoder/test_pixel_decoder.cpp (through the whole decoder).
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/models/deformable/encoder_layer.hpp"
#include "psalm/models/deformable/ms_deform_attn.hpp"
#include "psalm/nn/feature_maps.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/map_tokens.hpp"
#include "psalm/nn/module.hpp"
#include "psalm/nn/position_encoding.hpp"

namespace psalm::models::deformable {

// Letters: B batch, C d_model, H_l W_l the plane of level l, S = sum_l H_l W_l, L levels.

/// The stack of encoder layers (MSDeformAttnTransformerEncoder): `layers.{i}.*`.
template <Real T, Device Dev = cpu>
class EncoderLayers : public nn::Module<T, Dev> {
 public:
  EncoderLayers() = default;
  EncoderLayers(const EncoderLayerConfig& config, std::int64_t num_layers, nn::InitRng& rng) {
    PSALM_CHECK(num_layers >= 1, "deformable encoder: needs at least one layer, got ", num_layers);
    for (std::int64_t i = 0; i < num_layers; ++i) layers.emplace_back(config, rng);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override { v.children("layers", layers); }

  std::vector<EncoderLayer<T, Dev>> layers;
};

/// What the encoder returns: the encoded tokens of all levels and the level shapes.
template <Real T, Device Dev = cpu>
struct EncoderOutput {
  Var<T, Dev> memory;  // (B, S, C), level 0's tokens first
  LevelShapes shapes;  // (H_l, W_l) of each level
};

/// MSDeformAttnTransformerEncoderOnly: `encoder.layers.{i}.*` and `level_embed` (L, C).
/// ref: Mask2Former mask2former/modeling/pixel_decoder/msdeformattn.py. No padding mask and
/// valid ratios 1, as PSALM runs it.
template <Real T, Device Dev = cpu>
class DeformableEncoder : public nn::Module<T, Dev> {
 public:
  DeformableEncoder() = default;
  /// level_embed ~ N(0, 1), layers as EncoderLayer's constructor.
  DeformableEncoder(const EncoderLayerConfig& config, std::int64_t num_layers, nn::InitRng& rng)
      : encoder(config, num_layers, rng),
        level_embed(Var<T, Dev>::parameter(
            nn::init::normal<T, Dev>({config.n_levels, config.d_model}, 1.0, rng))),  // (L, C)
        position_(config.d_model / 2),
        config_(config) {
    PSALM_CHECK(config.d_model > 0 && config.d_model % 2 == 0, "deformable encoder: d_model ",
                config.d_model,
                " must be positive and even (sine positions: d_model / 2 per axis)");
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("encoder", encoder);
    v.parameter("level_embed", level_embed);
  }

  /// levels: the projected maps (B, C, H_l, W_l), flattened coarsest first (level l of the
  /// tokens is the l-th of levels.coarse_to_fine(), as Mask2Former orders res5, res4, res3),
  /// each with its sine position encoding (computed once per map size) plus level_embed[l]
  /// -> the encoded tokens (B, S, C) and the level shapes.
  EncoderOutput<T, Dev> operator()(const nn::FeatureMaps<T, Dev>& levels) const {
    using namespace autograd;
    const std::int64_t c = config_.d_model;
    PSALM_CHECK(static_cast<std::int64_t>(levels.size()) == config_.n_levels,
                "deformable encoder: configured for ", config_.n_levels, " levels, got ",
                levels.size(), " (", levels.names(), ")");
    const std::int64_t b = levels.batch();
    LevelShapes shapes;
    std::vector<Var<T, Dev>> tokens, positions;
    std::int64_t l = 0;
    for (int k : levels.coarse_to_fine()) {
      const Var<T, Dev>& src = levels.res(k);
      PSALM_CHECK(src.size(1) == c, "deformable encoder: res", k, " must be (", b, ", ", c,
                  ", H, W), got ", src.shape());
      const std::int64_t h = src.size(2), w = src.size(3);
      shapes.hw.push_back({h, w});
      tokens.push_back(nn::map_to_tokens(src));                    // (B, H_l W_l, C)
      const Var<T, Dev> sine(nn::map_to_tokens(position_(h, w)));  // (1, HW, C)
      const Var<T, Dev> embed = reshape(slice(level_embed, 0, l, l + 1), {1, 1, c});  // (1, 1, C)
      positions.push_back(sine + embed);  // (1, H_l W_l, C)
      ++l;
    }
    Var<T, Dev> memory = concat(tokens, 1);                                    // (B, S, C)
    const Var<T, Dev> position = concat(positions, 1);                         // (1, S, C)
    const Tensor<T, Dev> reference = reference_points_for<T, Dev>(shapes, b);  // (B, S, L, 2)
    for (const EncoderLayer<T, Dev>& layer : encoder.layers)
      memory = layer(memory, position, reference, shapes);  // (B, S, C)
    return {memory, shapes};
  }

  const EncoderLayerConfig& config() const { return config_; }

  EncoderLayers<T, Dev> encoder;
  Var<T, Dev> level_embed;  // (L, C)

 private:
  nn::SinePositionEncoding<T, Dev> position_;  // d_model / 2 features per axis
  EncoderLayerConfig config_;
};

}  // namespace psalm::models::deformable
