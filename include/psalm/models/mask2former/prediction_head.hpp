// psalm/models/mask2former/prediction_head.hpp — PSALM's prediction head (run on the initial
// queries and after every layer): decoder_norm, mask logits (mask_embed . mask_features), the
// condition logits (CLASS_proj / SEG_proj / REGION_proj . conditions), and the next layer's
// attention mask. Depends on: nn/mlp, nn/layer_norm, autograd ops. Test:
// tests/mask2former/test_decoder.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/interpolate.hpp"
#include "psalm/autograd/ops/matmul.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/models/mask2former/config.hpp"
#include "psalm/nn/layer_norm.hpp"
#include "psalm/nn/mlp.hpp"
#include "psalm/nn/module.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::models::mask2former {

using nn::Real;
using nn::Var;

// Letters: B batch, Q queries, D hidden_dim, M mask_dim, Hm Wm mask_features plane (1/4 of the
// image), C class conditions, K_b region conditions of sample b, h w one memory level's plane.

/// The condition embeddings a batch brings (spec §2.6); each kind may be absent.
template <Real T, Device Dev = cpu>
struct Conditions {
  Var<T, Dev> class_conditions;      ///< (B, C, D) category-name embeddings, or undefined
  Var<T, Dev> referring_conditions;  ///< (B, 1, D) referring-sentence embedding, or undefined
  /// One (K_b, D) matrix per sample (K_b may differ, may be 0), or empty for none.
  std::vector<Var<T, Dev>> region_conditions;
};

/// One prediction set (deep supervision produces dec_layers + 1 of them).
template <Real T, Device Dev = cpu>
struct Prediction {
  Var<T, Dev> masks;                       ///< (B, Q, Hm, Wm) mask logits
  Var<T, Dev> class_logits;                ///< (B, Q, C), when class conditions were given
  Var<T, Dev> seg_logits;                  ///< (B, Q, 1), when a referring condition was given
  std::vector<Var<T, Dev>> region_logits;  ///< per sample (K_b, Q), when regions were given
};

/// The masked-attention mask for the next layer from mask logits (B, Q, Hm, Wm): bilinear resize
/// (align_corners false) to (h, w), blocked where sigmoid < 0.5, and every query row that would
/// be blocked everywhere unblocked entirely. Returns (B, 1, Q, h*w), 1 = blocked, shared by all
/// heads (upstream repeats it over the heads: the same mask). Computed from values only: no
/// gradient flows through it (upstream detaches it).
/// ref: PSALM mask2former_transformer_decoder.py forward_prediction_heads and forward_woconcat.
template <Real T, Device Dev>
Tensor<std::uint8_t, Dev> attention_mask_from(const Tensor<T, Dev>& mask_logits, std::int64_t h,
                                              std::int64_t w) {
  PSALM_CHECK(mask_logits.rank() == 4, "attention_mask_from: mask logits must be (B, Q, H, W), ",
              "got ", mask_logits.shape());
  const std::int64_t b = mask_logits.size(0), q = mask_logits.size(1);
  const Tensor<T, Dev> resized =
      autograd::interpolate(Var<T, Dev>(mask_logits), h, w).value();  // (B, Q, h, w)
  const Tensor<T, Dev> blocked(
      psalm::cast<T>(psalm::sigmoid(resized) < T(0.5)));          // (B, Q, h, w) 0 / 1
  const Tensor<T, Dev> rows = blocked.view({b, q, h * w});        // (B, Q, hw)
  const Tensor<T, Dev> all_blocked = psalm::min(rows, -1, true);  // (B, Q, 1)
  Tensor<std::uint8_t, Dev> out(
      psalm::cast<std::uint8_t>(rows * (T(1) - all_blocked)));  // (B, Q, hw)
  return out.view({b, 1, q, h * w});                            // (B, 1, Q, hw)
}

/// decoder_norm, mask_embed (3 layers), SEG_proj / CLASS_proj / REGION_proj (2 layers each),
/// all hidden_dim wide, with upstream's names. The decoder lists these entries under its own
/// prefix (predictor.decoder_norm, ...), as upstream keeps them on the decoder.
template <Real T, Device Dev = cpu>
class PredictionHead : public nn::Module<T, Dev> {
 public:
  PredictionHead() = default;
  PredictionHead(const MaskDecoderConfig& c, nn::InitRng& rng)
      : decoder_norm(c.hidden_dim),
        mask_embed(c.hidden_dim, c.hidden_dim, c.mask_dim, 3, rng),
        seg_proj(c.hidden_dim, c.hidden_dim, c.hidden_dim, 2, rng),
        class_proj(c.hidden_dim, c.hidden_dim, c.hidden_dim, 2, rng),
        region_proj(c.hidden_dim, c.hidden_dim, c.hidden_dim, 2, rng) {}

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("decoder_norm", decoder_norm);
    v.child("mask_embed", mask_embed);
    v.child("SEG_proj", seg_proj);
    v.child("CLASS_proj", class_proj);
    v.child("REGION_proj", region_proj);
  }

  /// output (B, Q, D), mask_features (B, M, Hm, Wm) -> one Prediction. Plain dot products: no
  /// normalisation, temperature or bias (spec §3.3).
  Prediction<T, Dev> operator()(const Var<T, Dev>& output, const Var<T, Dev>& mask_features,
                                const Conditions<T, Dev>& cond) const {
    const std::int64_t b = output.size(0), q = output.size(1);
    const std::int64_t m = mask_features.size(1), hm = mask_features.size(2),
                       wm = mask_features.size(3);
    Prediction<T, Dev> p;
    const Var<T, Dev> d = decoder_norm(output);                                      // (B, Q, D)
    const Var<T, Dev> features = autograd::reshape(mask_features, {b, m, hm * wm});  // (B, M, HmWm)
    p.masks = autograd::reshape(autograd::matmul(mask_embed(d), features),
                                {b, q, hm, wm});  // (B, Q, Hm, Wm)
    if (cond.class_conditions.defined())
      p.class_logits = autograd::matmul(
          class_proj(d), autograd::transpose(cond.class_conditions, 1, 2));  // (B, Q, C)
    if (cond.referring_conditions.defined())
      p.seg_logits = autograd::matmul(
          seg_proj(d), autograd::transpose(cond.referring_conditions, 1, 2));  // (B, Q, 1)
    if (!cond.region_conditions.empty()) {
      const Var<T, Dev> r = region_proj(d);  // (B, Q, D)
      for (std::int64_t s = 0; s < b; ++s) {
        const Var<T, Dev>& regions = cond.region_conditions[static_cast<std::size_t>(s)];
        if (regions.size(0) == 0) {  // no region prompted in this sample: (0, Q)
          p.region_logits.emplace_back(Tensor<T, Dev>::zeros({0, q}));
          continue;
        }
        const Var<T, Dev> rs = autograd::squeeze(autograd::slice(r, 0, s, s + 1), 0);  // (Q, D)
        p.region_logits.push_back(
            autograd::matmul(regions, autograd::transpose(rs, 0, 1)));  // (K_b, Q)
      }
    }
    return p;
  }

  nn::LayerNorm<T, Dev> decoder_norm;
  nn::Mlp<T, Dev> mask_embed;   // D -> D -> D -> M
  nn::Mlp<T, Dev> seg_proj;     // SEG_proj: D -> D -> D
  nn::Mlp<T, Dev> class_proj;   // CLASS_proj
  nn::Mlp<T, Dev> region_proj;  // REGION_proj
};

}  // namespace psalm::models::mask2former
