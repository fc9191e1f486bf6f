// psalm/models/phi/decoder_layer.hpp — PhiDecoderLayer: one LayerNorm feeding attention and the
// MLP in parallel, both added to the residual: x + attn(LN x) + mlp(LN x) (PSALM_SPEC.md §1.5).
// Depends on: nn/layer_norm, models/phi/{attention,mlp}. Test:
// tests/phi/test_transformers_parity.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/models/phi/attention.hpp"
#include "psalm/models/phi/mlp.hpp"
#include "psalm/nn/layer_norm.hpp"

namespace psalm::models::phi {

// Letters: B batch, L positions, D hidden.

template <Real T, Device Dev = cpu>
class PhiDecoderLayer : public nn::Module<T, Dev> {
 public:
  PhiDecoderLayer() = default;
  PhiDecoderLayer(const PhiConfig& c, nn::InitRng& rng)
      : self_attn(c, rng), mlp(c, rng), input_layernorm(c.hidden_size, c.layer_norm_eps) {}

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("self_attn", self_attn);
    v.child("mlp", mlp);
    v.child("input_layernorm", input_layernorm);
  }

  /// x (B, L, D) -> (B, L, D). `layer` is this layer's index (for the KV cache).
  Var<T, Dev> operator()(const Var<T, Dev>& x, const AttentionInputs<T, Dev>& in,
                         std::int64_t layer = 0) const {
    const Var<T, Dev> h = input_layernorm(x);     // (B, L, D)
    return x + self_attn(h, in, layer) + mlp(h);  // (B, L, D)
  }

  PhiAttention<T, Dev> self_attn;
  PhiMlp<T, Dev> mlp;
  nn::LayerNorm<T, Dev> input_layernorm;
};

}  // namespace psalm::models::phi
