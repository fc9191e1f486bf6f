// psalm/models/deformable/encoder.hpp — the encoder-only deformable transformer of Mask2Former's
// pixel decoder (MSDeformAttnTransformerEncoderOnly, `pixel_decoder.transformer.*`): flattens
// the levels into one token sequence, adds a learned level embedding to each level's sine
// position, and runs the encoder layers with pixel-centre reference points.
// Depends on: models/deformable/{encoder_layer, ms_deform_attn}, nn, autograd ops.
// Test: tests/pixel_decoder/test_pixel_decoder.cpp (through the whole decoder).
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/models/deformable/encoder_layer.hpp"
#include "psalm/models/deformable/ms_deform_attn.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/module.hpp"

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
        config_(config) {}

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("encoder", encoder);
    v.parameter("level_embed", level_embed);
  }

  /// srcs[l] (B, C, H_l, W_l) the projected levels; pos[l] (1, C, H_l, W_l) their sine
  /// position encodings -> the encoded tokens (B, S, C) and the level shapes.
  EncoderOutput<T, Dev> operator()(const std::vector<Var<T, Dev>>& srcs,
                                   const std::vector<Tensor<T, Dev>>& pos) const {
    using namespace autograd;
    const std::int64_t levels = config_.n_levels, c = config_.d_model;
    PSALM_CHECK(static_cast<std::int64_t>(srcs.size()) == levels && pos.size() == srcs.size(),
                "deformable encoder: configured for ", levels, " levels, got ", srcs.size(),
                " maps and ", pos.size(), " position encodings");
    const std::int64_t b = srcs[0].size(0);
    LevelShapes shapes;
    std::vector<Var<T, Dev>> tokens, positions;
    for (std::int64_t l = 0; l < levels; ++l) {
      const Var<T, Dev>& src = srcs[static_cast<std::size_t>(l)];
      PSALM_CHECK(src.rank() == 4 && src.size(0) == b && src.size(1) == c,
                  "deformable encoder: level ", l, " must be (", b, ", ", c, ", H, W), got ",
                  src.shape());
      const std::int64_t h = src.size(2), w = src.size(3);
      PSALM_CHECK((pos[static_cast<std::size_t>(l)].shape() == Shape{1, c, h, w}),
                  "deformable encoder: position encoding of level ", l, " must be (1, ", c, ", ", h,
                  ", ", w, "), got ", pos[static_cast<std::size_t>(l)].shape());
      shapes.hw.push_back({h, w});
      tokens.push_back(transpose(reshape(src, {b, c, h * w}), 1, 2));  // (B, H_l W_l, C)
      const Var<T, Dev> sine(
          pos[static_cast<std::size_t>(l)].reshape({1, c, h * w}).transpose(1, 2));   // (1, HW, C)
      const Var<T, Dev> embed = reshape(slice(level_embed, 0, l, l + 1), {1, 1, c});  // (1, 1, C)
      positions.push_back(sine + embed);  // (1, H_l W_l, C)
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
  EncoderLayerConfig config_;
};

}  // namespace psalm::models::deformable
