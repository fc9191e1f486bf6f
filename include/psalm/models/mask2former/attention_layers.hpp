// psalm/models/mask2former/attention_layers.hpp — the three post-norm sub-layers of one
// Mask2Former decoder layer: CrossAttentionLayer (masked cross-attention to one memory level),
// SelfAttentionLayer (among the queries) and FFNLayer, with upstream state_dict names
// (multihead_attn / self_attn, norm, linear1, linear2) and upstream initialisation.
// Depends on: nn/multihead_attention, nn/layer_norm, nn/linear. Test:
// tests/mask2former/test_decoder.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "psalm/autograd/ops/activation.hpp"
#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/layer_norm.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/module.hpp"
#include "psalm/nn/multihead_attention.hpp"

namespace psalm::models::mask2former {

using nn::Real;
using nn::Var;

// Letters: B batch, Q queries, S memory tokens of one level (H_l W_l), D hidden_dim, F FFN width.
// The layers run batch-first, (B, Q, D); upstream runs sequence-first, (Q, B, D): the same maths.

namespace detail {
/// Upstream's _reset_parameters: xavier_uniform_ on every parameter with more than one axis.
template <Real T, Device Dev>
void xavier_reset_matrices(nn::Module<T, Dev>& m, nn::InitRng& rng) {
  m.for_each_parameter([&](const std::string&, Var<T, Dev>& p) {
    if (p.rank() > 1)
      p.value().assign(nn::init::xavier_uniform<T, Dev>(p.shape(), p.size(1), p.size(0), rng));
  });
}
}  // namespace detail

/// tgt = norm(tgt + MHA(q = tgt + query_pos, k = memory + pos, v = memory, mask)).
/// ref: Mask2Former mask2former_transformer_decoder.py CrossAttentionLayer.forward_post.
template <Real T, Device Dev = cpu>
class CrossAttentionLayer : public nn::Module<T, Dev> {
 public:
  CrossAttentionLayer() = default;
  CrossAttentionLayer(std::int64_t d_model, std::int64_t nhead, nn::InitRng& rng)
      : multihead_attn(d_model, nhead, rng, nn::SequenceLayout::batch_first), norm(d_model) {
    detail::xavier_reset_matrices(*this, rng);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("multihead_attn", multihead_attn);
    v.child("norm", norm);
  }

  /// tgt (B, Q, D), memory (B, S, D), pos (1 or B, S, D), query_pos (1 or B, Q, D), blocked
  /// (B, 1 or heads, Q, S) nonzero = the query may not look there (or undefined) -> (B, Q, D).
  Var<T, Dev> operator()(const Var<T, Dev>& tgt, const Var<T, Dev>& memory, const Var<T, Dev>& pos,
                         const Var<T, Dev>& query_pos,
                         const Tensor<std::uint8_t, Dev>& blocked) const {
    const Var<T, Dev> attended =
        multihead_attn(tgt + query_pos, memory + pos, memory, blocked);  // (B, Q, D)
    return norm(tgt + attended);                                         // (B, Q, D)
  }

  nn::MultiheadAttention<T, Dev> multihead_attn;
  nn::LayerNorm<T, Dev> norm;
};

/// tgt = norm(tgt + MHA(q = k = tgt + query_pos, v = tgt)).
/// ref: Mask2Former mask2former_transformer_decoder.py SelfAttentionLayer.forward_post.
template <Real T, Device Dev = cpu>
class SelfAttentionLayer : public nn::Module<T, Dev> {
 public:
  SelfAttentionLayer() = default;
  SelfAttentionLayer(std::int64_t d_model, std::int64_t nhead, nn::InitRng& rng)
      : self_attn(d_model, nhead, rng, nn::SequenceLayout::batch_first), norm(d_model) {
    detail::xavier_reset_matrices(*this, rng);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("self_attn", self_attn);
    v.child("norm", norm);
  }

  /// tgt (B, Q, D), query_pos (1 or B, Q, D) -> (B, Q, D).
  Var<T, Dev> operator()(const Var<T, Dev>& tgt, const Var<T, Dev>& query_pos) const {
    const Var<T, Dev> qk = tgt + query_pos;               // (B, Q, D)
    const Var<T, Dev> attended = self_attn(qk, qk, tgt);  // (B, Q, D)
    return norm(tgt + attended);                          // (B, Q, D)
  }

  nn::MultiheadAttention<T, Dev> self_attn;
  nn::LayerNorm<T, Dev> norm;
};

/// tgt = norm(tgt + linear2(relu(linear1(tgt)))).
/// ref: Mask2Former mask2former_transformer_decoder.py FFNLayer.forward_post.
template <Real T, Device Dev = cpu>
class FFNLayer : public nn::Module<T, Dev> {
 public:
  FFNLayer() = default;
  FFNLayer(std::int64_t d_model, std::int64_t dim_feedforward, nn::InitRng& rng)
      : linear1(d_model, dim_feedforward, rng),
        linear2(dim_feedforward, d_model, rng),
        norm(d_model) {
    detail::xavier_reset_matrices(*this, rng);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("linear1", linear1);
    v.child("linear2", linear2);
    v.child("norm", norm);
  }

  /// tgt (B, Q, D) -> (B, Q, D).
  Var<T, Dev> operator()(const Var<T, Dev>& tgt) const {
    const Var<T, Dev> hidden = autograd::relu(linear1(tgt));  // (B, Q, F)
    return norm(tgt + linear2(hidden));                       // (B, Q, D)
  }

  nn::Linear<T, Dev> linear1;  // (F, D)
  nn::Linear<T, Dev> linear2;  // (D, F)
  nn::LayerNorm<T, Dev> norm;
};

}  // namespace psalm::models::mask2former
