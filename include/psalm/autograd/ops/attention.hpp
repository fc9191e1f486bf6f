// psalm/autograd/ops/attention.hpp — fused scaled-dot-product attention,
// softmax(q k^T * scale + mask) v, with an additive float mask and / or a boolean mask
// (nonzero = blocked, as nn.MultiheadAttention's attn_mask). Two batched GEMMs and one row
// kernel forward, four GEMMs and one row kernel backward; the context saves the probabilities.
// Backward accumulates. Depends on: autograd/tape, kernels/attention, kernels/softmax,
// tensor/matmul. Test: tests/autograd/test_attention.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/attention.hpp"
#include "psalm/kernels/softmax.hpp"
#include "psalm/tensor/matmul.hpp"

namespace psalm::autograd {

// Letters: B batch, H heads, Lq queries, Lk keys, D head size of q and k, Dv head size of v.

/// The masks of scaled_dot_product_attention; each optional, each broadcast to (B, H, Lq, Lk)
/// (NumPy rules: (Lq, Lk), (B, 1, Lq, Lk), (B, 1, 1, Lk), ... all work, without copies).
template <Real T, Device Dev>
struct AttentionMask {
  Tensor<T, Dev> additive{};            ///< added to the scaled scores (-inf blocks a position)
  Tensor<std::uint8_t, Dev> blocked{};  ///< nonzero = the query may not attend to that key
};

/// Context of attention: the probabilities p (B, H, Lq, Lk) and the operands each gradient
/// needs: q for d_k, k for d_q, v for d_q and d_k.
template <Real T, Device Dev>
struct AttentionContext {
  GradRef<T, Dev> q, k, v;
  Tensor<T, Dev> q_value, k_value, v_value;
  Tensor<T, Dev> p;  // (B, H, Lq, Lk) contiguous
  double scale;
};

namespace detail {

template <class M, Device Dev>
psalm::kernels::MaskStrides attention_mask_strides(const Tensor<M, Dev>& mask, const Shape& full,
                                                   const char* what) {
  PSALM_CHECK(mask.rank() <= 4 && broadcast_shapes(full, mask.shape()) == full,
              "scaled_dot_product_attention: ", what, " mask of shape ", mask.shape(),
              " does not broadcast to the scores' shape ", full);
  const Tensor<M, Dev> e = mask.expand(full);
  return {e.strides()[0], e.strides()[1], e.strides()[2], e.strides()[3]};
}

}  // namespace detail

/// softmax(q @ k^T * scale + mask) @ v for q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv);
/// returns (B, H, Lq, Dv). `scale` 0 means 1 / sqrt(D). Inputs may be strided views. A query
/// row whose keys are all blocked gives a zero output row and no gradient (PyTorch gives NaN
/// there; PSALM's masked attention unblocks such rows before it calls attention).
///   d_v = p^T d_y,   d_p = d_y v^T,   d_s = p * (d_p - rowsum(d_p * p)),
///   d_q = scale * d_s k,   d_k = scale * d_s^T q.
template <Real T, Device Dev>
Var<T, Dev> scaled_dot_product_attention(const Var<T, Dev>& q, const Var<T, Dev>& k,
                                         const Var<T, Dev>& v,
                                         const AttentionMask<T, Dev>& mask = {},
                                         double scale = 0.0) {
  PSALM_CHECK(q.rank() == 4 && k.rank() == 4 && v.rank() == 4,
              "scaled_dot_product_attention: q, k, v must be (B, H, L, D), got ", q.shape(), ", ",
              k.shape(), ", ", v.shape());
  const std::int64_t b = q.size(0), h = q.size(1), lq = q.size(2), d = q.size(3);
  const std::int64_t lk = k.size(2);
  PSALM_CHECK(k.size(0) == b && k.size(1) == h && k.size(3) == d,
              "scaled_dot_product_attention: k of shape ", k.shape(), " does not fit q of shape ",
              q.shape(), " (need (B, H, Lk, D))");
  PSALM_CHECK(v.size(0) == b && v.size(1) == h && v.size(2) == lk,
              "scaled_dot_product_attention: v of shape ", v.shape(), " does not fit k of shape ",
              k.shape(), " (need (B, H, Lk, Dv))");
  PSALM_CHECK(scale >= 0.0 && std::isfinite(scale),
              "scaled_dot_product_attention: scale must be finite and >= 0, got ", scale);
  if (scale == 0.0) scale = d > 0 ? 1.0 / std::sqrt(static_cast<double>(d)) : 1.0;
  const Shape scores_shape{b, h, lq, lk};
  psalm::kernels::MaskStrides add_strides, block_strides;
  if (mask.additive.defined())
    add_strides = detail::attention_mask_strides(mask.additive, scores_shape, "additive");
  if (mask.blocked.defined())
    block_strides = detail::attention_mask_strides(mask.blocked, scores_shape, "boolean");

  // (B, H, Lq, Lk): scaled scores, then probabilities in place.
  Tensor<T, Dev> p = psalm::matmul(q.value(), k.value(), {.transpose_b = true, .alpha = scale});
  const std::int64_t rows = b * h * lq;
  if (rows > 0)
    Executor<Dev>::launch(
        rows,
        psalm::kernels::AttentionSoftmaxRows<T>{
            p.data(), nullptr, mask.additive.defined() ? mask.additive.data() : nullptr,
            add_strides, mask.blocked.defined() ? mask.blocked.data() : nullptr, block_strides, h,
            lq, lk},
        grain_for(lk));
  Tensor<T, Dev> y = psalm::matmul(p, v.value());  // (B, H, Lq, Dv)

  AttentionContext<T, Dev> ctx{q.grad_ref(), k.grad_ref(), v.grad_ref(), {}, {}, {}, {}, scale};
  const bool recording = should_record(q, k, v);
  if (recording) {
    ctx.p = p;
    if (k.requires_grad()) ctx.q_value = q.value();
    if (q.requires_grad()) ctx.k_value = k.value();
    if (q.requires_grad() || k.requires_grad()) ctx.v_value = v.value();
  }
  return record(
      std::move(y), recording, std::move(ctx),
      [](AttentionContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
        if (c.v.needed())  // (B, H, Lk, Lq) @ (B, H, Lq, Dv) -> (B, H, Lk, Dv)
          c.v.accumulate(psalm::matmul(c.p, d_y, {.transpose_a = true}));
        if (!c.q.needed() && !c.k.needed()) return;
        // (B, H, Lq, Dv) @ (B, H, Lk, Dv)^T -> d_p (B, H, Lq, Lk), then d_s in place.
        Tensor<T, Dev> d_s = psalm::matmul(d_y, c.v_value, {.transpose_b = true});
        const std::int64_t cols = d_s.size(-1), n = d_s.numel();
        if (n > 0)
          Executor<Dev>::launch(n / cols,
                                psalm::kernels::SoftmaxRowsBackward<T>{c.p.data(), d_s.data(),
                                                                       d_s.data(), cols, false},
                                grain_for(cols));
        c.p = Tensor<T, Dev>();  // free the probabilities before the last two GEMMs
        if (c.q.needed())        // (B, H, Lq, Lk) @ (B, H, Lk, D) -> (B, H, Lq, D)
          c.q.accumulate(psalm::matmul(d_s, c.k_value, {.alpha = c.scale}));
        if (c.k.needed())  // (B, H, Lq, Lk)^T @ (B, H, Lq, D) -> (B, H, Lk, D)
          c.k.accumulate(psalm::matmul(d_s, c.q_value, {.transpose_a = true, .alpha = c.scale}));
      });
}

}  // namespace psalm::autograd
