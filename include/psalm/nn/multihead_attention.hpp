// psalm/nn/multihead_attention.hpp — MultiheadAttention as torch.nn.MultiheadAttention (no
// dropout): packed in_proj_weight (3E, E) = [Wq; Wk; Wv], in_proj_bias, out_proj, a boolean mask
// (true = blocked); sequence-first (L, B, E) as Mask2Former calls it, or batch-first (B, L, E).
// Depends on: nn/linear, autograd ops linear / shape / attention.
// Test: tests/nn/test_multihead_attention.cpp (against torch.nn.MultiheadAttention).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/attention.hpp"
#include "psalm/autograd/ops/linear.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

// Letters: Lq queries, Lk keys, B batch, E embed_dim, H heads, D = E / H head size.

/// Layout of MultiheadAttention's inputs and output.
enum class SequenceLayout {
  sequence_first,  ///< (L, B, E): torch's default (batch_first=False), what Mask2Former uses
  batch_first      ///< (B, L, E)
};

template <Real T, Device Dev = cpu>
class MultiheadAttention : public Module<T, Dev> {
 public:
  MultiheadAttention() = default;
  /// Initialised as torch: xavier_uniform in_proj_weight, zero in_proj_bias and out_proj.bias,
  /// out_proj.weight as a default Linear.
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads, InitRng& rng,
                     SequenceLayout layout = SequenceLayout::sequence_first)
      : num_heads_(num_heads), layout_(layout) {
    PSALM_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0,
                "MultiheadAttention: embed_dim ", embed_dim, " must be a positive multiple of ",
                "num_heads ", num_heads);
    in_proj_weight = Var<T, Dev>::parameter(init::xavier_uniform<T, Dev>(
        {3 * embed_dim, embed_dim}, embed_dim, 3 * embed_dim, rng));                // (3E, E)
    in_proj_bias = Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({3 * embed_dim}));  // (3E)
    out_proj = Linear<T, Dev>(embed_dim, embed_dim, rng);
    out_proj.bias.value().fill(T{0});
  }

  void visit(ModuleVisitor<T, Dev>& v) override {
    v.parameter("in_proj_weight", in_proj_weight);
    v.parameter("in_proj_bias", in_proj_bias);
    v.child("out_proj", out_proj);
  }

  /// query (Lq, B, E), key (Lk, B, E), value (Lk, B, E) (or (B, L, E) batch-first) -> the
  /// output in the query's layout. `blocked` (optional, nonzero = may not attend) is
  /// (Lq, Lk), torch's per-head (B*H, Lq, Lk) with index b*H + h, or (B, 1 or H, Lq, Lk),
  /// which broadcasts one mask over the heads without a copy. A query row blocked everywhere
  /// gives a zero attention output (torch gives NaN there).
  Var<T, Dev> operator()(const Var<T, Dev>& query, const Var<T, Dev>& key, const Var<T, Dev>& value,
                         const Tensor<std::uint8_t, Dev>& blocked = {}) const {
    const std::int64_t e = embed_dim();
    PSALM_CHECK(query.rank() == 3 && key.rank() == 3 && value.rank() == 3,
                "MultiheadAttention: query, key, value must be rank 3, got ", query.shape(), ", ",
                key.shape(), ", ", value.shape());
    PSALM_CHECK(query.size(2) == e && key.size(2) == e && value.size(2) == e,
                "MultiheadAttention: the last axis of query ", query.shape(), ", key ", key.shape(),
                ", value ", value.shape(), " must be embed_dim ", e);
    const int batch_axis = layout_ == SequenceLayout::batch_first ? 0 : 1;
    const std::int64_t b = query.size(batch_axis);
    const std::int64_t lq = query.size(1 - batch_axis), lk = key.size(1 - batch_axis);
    PSALM_CHECK(key.shape() == value.shape() && key.size(batch_axis) == b,
                "MultiheadAttention: key ", key.shape(), " and value ", value.shape(),
                " must have one shape with the query's batch ", b);

    const Var<T, Dev> q = project(query, 0);  // (B, H, Lq, D)
    const Var<T, Dev> k = project(key, 1);    // (B, H, Lk, D)
    const Var<T, Dev> v = project(value, 2);  // (B, H, Lk, D)
    autograd::AttentionMask<T, Dev> mask;
    if (blocked.defined()) mask.blocked = mask_for_heads(blocked, b, lq, lk);  // (B, H|1, Lq, Lk)
    const double scale = 1.0 / std::sqrt(static_cast<double>(e / num_heads_));
    const Var<T, Dev> y =
        autograd::scaled_dot_product_attention(q, k, v, mask, scale);  // (B, H, Lq, D)
    const Var<T, Dev> merged =
        layout_ == SequenceLayout::batch_first
            ? autograd::reshape(autograd::permute(y, {0, 2, 1, 3}), {b, lq, e})   // (B, Lq, E)
            : autograd::reshape(autograd::permute(y, {2, 0, 1, 3}), {lq, b, e});  // (Lq, B, E)
    return out_proj(merged);  // (Lq, B, E) or (B, Lq, E)
  }

  std::int64_t embed_dim() const { return in_proj_weight.size(1); }
  std::int64_t num_heads() const { return num_heads_; }
  SequenceLayout layout() const { return layout_; }

  Var<T, Dev> in_proj_weight;  // (3E, E): rows [Wq; Wk; Wv]
  Var<T, Dev> in_proj_bias;    // (3E)
  Linear<T, Dev> out_proj;     // (E, E) + (E)

 private:
  /// x (L, B, E) or (B, L, E) through block `which` (0 q, 1 k, 2 v) of the packed projection,
  /// split into heads: (B, H, L, D), a view of the projection.
  Var<T, Dev> project(const Var<T, Dev>& x, int which) const {
    const std::int64_t e = embed_dim(), d = e / num_heads_;
    const Var<T, Dev> w = autograd::slice(in_proj_weight, 0, which * e, (which + 1) * e);  // (E, E)
    const Var<T, Dev> bias = autograd::slice(in_proj_bias, 0, which * e, (which + 1) * e);  // (E)
    const Var<T, Dev> p = autograd::linear(x, w, bias);  // (L, B, E) or (B, L, E)
    if (layout_ == SequenceLayout::batch_first)
      return autograd::permute(autograd::reshape(p, {x.size(0), x.size(1), num_heads_, d}),
                               {0, 2, 1, 3});  // (B, H, L, D)
    return autograd::permute(autograd::reshape(p, {x.size(0), x.size(1), num_heads_, d}),
                             {1, 2, 0, 3});  // (B, H, L, D)
  }

  /// The mask as (B, H or 1, Lq, Lk), or (Lq, Lk) as given (it broadcasts).
  Tensor<std::uint8_t, Dev> mask_for_heads(const Tensor<std::uint8_t, Dev>& m, std::int64_t b,
                                           std::int64_t lq, std::int64_t lk) const {
    const std::int64_t h = num_heads_;
    if (m.rank() == 2) {
      PSALM_CHECK(m.size(0) == lq && m.size(1) == lk, "MultiheadAttention: attention mask ",
                  m.shape(), " must be (Lq, Lk) = (", lq, ", ", lk, ")");
      return m;  // (Lq, Lk)
    }
    if (m.rank() == 3) {
      PSALM_CHECK(m.size(0) == b * h && m.size(1) == lq && m.size(2) == lk,
                  "MultiheadAttention: attention mask ", m.shape(),
                  " must be (B*heads, Lq, Lk) = (", b * h, ", ", lq, ", ", lk, ")");
      return m.reshape({b, h, lq, lk});  // (B, H, Lq, Lk)
    }
    PSALM_CHECK(m.rank() == 4 && m.size(0) == b && (m.size(1) == 1 || m.size(1) == h) &&
                    m.size(2) == lq && m.size(3) == lk,
                "MultiheadAttention: attention mask ", m.shape(), " must be (Lq, Lk), (B*heads, ",
                "Lq, Lk) or (B, 1 or heads, Lq, Lk) with B = ", b, ", heads = ", h, ", Lq = ", lq,
                ", Lk = ", lk);
    return m;  // (B, H|1, Lq, Lk)
  }

  std::int64_t num_heads_ = 1;
  SequenceLayout layout_ = SequenceLayout::sequence_first;
};

}  // namespace psalm::nn
