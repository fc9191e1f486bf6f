// psalm/models/deformable/encoder_layer.hpp — one post-norm layer of the deformable encoder of
// Mask2Former's pixel decoder (MSDeformAttnTransformerEncoderLayer): deformable self-attention
// over the flattened feature pyramid, then a ReLU FFN, each followed by add + LayerNorm.
// Depends on: models/deformable/ms_deform_attn, nn (Linear, LayerNorm, init), autograd ops.
// Test: tests/pixel_decoder/test_pixel_decoder.cpp (through the whole decoder).
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/activation.hpp"
#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/models/deformable/ms_deform_attn.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/layer_norm.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::models::deformable {

// Letters: B batch, S tokens of all levels, C d_model, F d_ffn, L levels.

/// Hyper-parameters of one encoder layer, named as MSDeformAttnTransformerEncoderLayer's
/// arguments. Dropout is not modelled: PSALM trains the pixel decoder with dropout 0.
struct EncoderLayerConfig {
  std::int64_t d_model = 256, d_ffn = 1024, n_levels = 3, n_heads = 8, n_points = 4;
};

/// src = norm1(src + self_attn(src + pos, ref, src)); src = norm2(src +
/// linear2(relu(linear1(src)))). ref: Mask2Former
/// mask2former/modeling/pixel_decoder/msdeformattn.py (MSDeformAttnTransformerEncoderLayer),
/// activation "relu", post-norm.
template <Real T, Device Dev = cpu>
class EncoderLayer : public nn::Module<T, Dev> {
 public:
  EncoderLayer() = default;
  /// Initialised as MSDeformAttnTransformerEncoderOnly does: xavier_uniform on the FFN weight
  /// matrices (PyTorch's default on their biases), Deformable DETR's init in self_attn.
  EncoderLayer(const EncoderLayerConfig& config, nn::InitRng& rng)
      : self_attn({config.d_model, config.n_levels, config.n_heads, config.n_points}, rng),
        norm1(config.d_model),
        linear1(config.d_model, config.d_ffn, rng),
        linear2(config.d_ffn, config.d_model, rng),
        norm2(config.d_model) {
    linear1.weight = Var<T, Dev>::parameter(nn::init::xavier_uniform<T, Dev>(
        {config.d_ffn, config.d_model}, config.d_model, config.d_ffn, rng));  // (F, C)
    linear2.weight = Var<T, Dev>::parameter(nn::init::xavier_uniform<T, Dev>(
        {config.d_model, config.d_ffn}, config.d_ffn, config.d_model, rng));  // (C, F)
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("self_attn", self_attn);
    v.child("norm1", norm1);
    v.child("linear1", linear1);
    v.child("linear2", linear2);
    v.child("norm2", norm2);
  }

  /// src (B, S, C); pos (B or 1, S, C) the query position (sine + level embedding);
  /// reference_points (B, S, L, 2) in [0, 1] as (x, y) -> (B, S, C).
  Var<T, Dev> operator()(const Var<T, Dev>& src, const Var<T, Dev>& pos,
                         const Tensor<T, Dev>& reference_points, const LevelShapes& shapes) const {
    using autograd::relu;
    const Var<T, Dev> attended = self_attn(src + pos, reference_points, src, shapes);  // (B, S, C)
    const Var<T, Dev> x = norm1(src + attended);                                       // (B, S, C)
    const Var<T, Dev> ffn = linear2(relu(linear1(x)));                                 // (B, S, C)
    return norm2(x + ffn);                                                             // (B, S, C)
  }

  MSDeformAttn<T, Dev> self_attn;
  nn::LayerNorm<T, Dev> norm1;
  nn::Linear<T, Dev> linear1;  // C -> F
  nn::Linear<T, Dev> linear2;  // F -> C
  nn::LayerNorm<T, Dev> norm2;
};

}  // namespace psalm::models::deformable
