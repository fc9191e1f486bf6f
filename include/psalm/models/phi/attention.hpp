// psalm/models/phi/attention.hpp — PhiAttention: q / k / v projections, partial NeoX rotary on q
// and k, fused scaled-dot-product attention under the causal + key padding mask, and the `dense`
// output projection (PSALM_SPEC.md §1.5). Weights in the split layout of current transformers
// (q_proj, k_proj, v_proj); models/phi/weights.hpp converts the fused query_key_value layout.
// Depends on: nn/linear, autograd/ops/{attention,shape}, models/phi/{rotary,kv_cache}.
// Test: tests/phi/test_transformers_parity.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/attention.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/models/phi/config.hpp"
#include "psalm/models/phi/kv_cache.hpp"
#include "psalm/models/phi/rotary.hpp"
#include "psalm/nn/linear.hpp"

namespace psalm::models::phi {

// Letters: B batch, L positions of this call, Lk key positions (L, or cached + L), D hidden,
// H heads, Dh head size.

/// What every layer of one forward shares: rotary angles of the L positions, the blocked mask,
/// and (incremental decoding only) the cache the layers append to.
template <Real T, Device Dev>
struct AttentionInputs {
  RotaryTables<T, Dev> rotary;          // (L, F)
  Tensor<std::uint8_t, Dev> blocked;    // (B, 1, L, Lk)
  PhiKvCache<T, Dev>* cache = nullptr;  // null: no cache
};

template <Real T, Device Dev = cpu>
class PhiAttention : public nn::Module<T, Dev> {
 public:
  PhiAttention() = default;
  PhiAttention(const PhiConfig& c, nn::InitRng& rng)
      : q_proj(c.hidden_size, c.hidden_size, rng),
        k_proj(c.hidden_size, c.hidden_size, rng),
        v_proj(c.hidden_size, c.hidden_size, rng),
        dense(c.hidden_size, c.hidden_size, rng),
        heads_(c.num_attention_heads),
        head_dim_(c.head_dim()) {}

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("q_proj", q_proj);
    v.child("k_proj", k_proj);
    v.child("v_proj", v_proj);
    v.child("dense", dense);
  }

  /// h (B, L, D) -> (B, L, D). `layer` indexes the cache.
  Var<T, Dev> operator()(const Var<T, Dev>& h, const AttentionInputs<T, Dev>& in,
                         std::int64_t layer = 0) const {
    using namespace autograd;
    const std::int64_t b = h.size(0), l = h.size(1);
    const std::vector<std::int64_t> split{b, l, heads_, head_dim_};
    Var<T, Dev> q = apply_rotary(reshape(q_proj(h), split), in.rotary);  // (B, L, H, Dh)
    Var<T, Dev> k = apply_rotary(reshape(k_proj(h), split), in.rotary);  // (B, L, H, Dh)
    Var<T, Dev> v = reshape(v_proj(h), split);                           // (B, L, H, Dh)
    q = permute(q, {0, 2, 1, 3});                                        // (B, H, L, Dh)
    k = permute(k, {0, 2, 1, 3});                                        // (B, H, L, Dh)
    v = permute(v, {0, 2, 1, 3});                                        // (B, H, L, Dh)
    if (in.cache != nullptr) {
      PSALM_CHECK(!should_record(q, k, v),
                  "PhiAttention: the KV cache is for inference; run it under autograd::NoGrad");
      auto [k_all, v_all] = in.cache->append(layer, k.value(), v.value());  // (B, H, Lk, Dh)
      k = Var<T, Dev>(k_all);
      v = Var<T, Dev>(v_all);
    }
    // softmax(q k^T / sqrt(Dh), blocked -> 0) v
    Var<T, Dev> o = scaled_dot_product_attention(q, k, v, {.blocked = in.blocked});  // (B,H,L,Dh)
    o = reshape(permute(o, {0, 2, 1, 3}), {b, l, heads_ * head_dim_});               // (B, L, D)
    return dense(o);                                                                 // (B, L, D)
  }

  nn::Linear<T, Dev> q_proj, k_proj, v_proj, dense;

 private:
  std::int64_t heads_ = 1, head_dim_ = 1;
};

}  // namespace psalm::models::phi
