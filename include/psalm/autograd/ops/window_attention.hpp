// psalm/autograd/ops/window_attention.hpp — the fused core of Swin's (shifted-)window
// multi-head self-attention for ALL windows of a stage at once: qkv rows -> softmax(q k^T *
// scale + relative position bias + shifted-window mask) v, as two batched GEMMs and one row
// kernel (kernels/attention.hpp WindowSoftmaxRows) that adds the bias and derives the -100
// mask from the windows' region ids on the fly. Backward: four batched GEMMs, the softmax
// backward row body, and the bias gradient as a sum over windows.
// Depends on: autograd/tape, kernels/attention, tensor/matmul, tensor/reduce.
// Test: tests/autograd/test_window.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/attention.hpp"
#include "psalm/tensor/matmul.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::autograd {

// Letters: Bw = B * nW windows (window index fastest), nW windows per image, N tokens per
// window, H heads, D head size, C = H * D channels.

namespace detail {

/// What the backward of window_self_attention needs: the probabilities and q, k, v.
template <Real T, Device Dev>
struct WindowAttentionContext {
  GradRef<T, Dev> qkv, bias;
  Tensor<T, Dev> qkv_heads;  // (3, Bw, H, N, D) contiguous: q | k | v
  Tensor<T, Dev> p;          // (Bw, H, N, N)
  double scale;
};

}  // namespace detail

/// Multi-head self-attention inside every window: qkv (Bw, N, 3C) (rows q | k | v, heads
/// contiguous, as Swin's fused qkv Linear), bias (H, N, N) added to every window's scores,
/// regions (nW, N) from window_regions() (autograd/ops/window.hpp) for shifted windows or
/// undefined for none. Returns (Bw, N, C), heads concatenated. scale 0 means 1 / sqrt(D).
/// Padded (zero) tokens are ordinary keys, as upstream. ref: Mask2Former swin.py
/// WindowAttention.forward.
template <Real T, Device Dev>
Var<T, Dev> window_self_attention(const Var<T, Dev>& qkv, const Var<T, Dev>& bias,
                                  const Tensor<std::uint8_t, Dev>& regions, std::int64_t heads,
                                  double scale = 0.0) {
  PSALM_CHECK(qkv.rank() == 3 && heads > 0 && qkv.size(2) % (3 * heads) == 0,
              "window_self_attention: qkv must be (windows, N, 3 * C) with C divisible by ", heads,
              " heads, got ", qkv.shape());
  const std::int64_t bw = qkv.size(0), n = qkv.size(1), c = qkv.size(2) / 3, d = c / heads;
  PSALM_CHECK(bias.rank() == 3 && bias.size(0) == heads && bias.size(1) == n && bias.size(2) == n,
              "window_self_attention: bias must be (", heads, ", ", n, ", ", n, "), got ",
              bias.shape());
  std::int64_t nw = 1;
  if (regions.defined()) {
    PSALM_CHECK(regions.rank() == 2 && regions.size(1) == n && regions.size(0) > 0 &&
                    bw % regions.size(0) == 0,
                "window_self_attention: regions must be (nW, ", n, ") with nW dividing ", bw,
                " windows, got ", regions.shape());
    nw = regions.size(0);
  }
  if (scale == 0.0) scale = 1.0 / std::sqrt(static_cast<double>(d));

  // (3, Bw, H, N, D): one copy puts q, k and v head-major for the batched GEMMs.
  const Tensor<T, Dev> qkv_heads =
      qkv.value().view({bw, n, 3, heads, d}).permute({2, 0, 3, 1, 4}).contiguous();
  const Tensor<T, Dev> q = qkv_heads.select(0, 0), k = qkv_heads.select(0, 1),
                       v = qkv_heads.select(0, 2);  // (Bw, H, N, D) each
  Tensor<T, Dev> p = psalm::matmul(q, k, {.transpose_b = true, .alpha = scale});  // (Bw, H, N, N)
  const Tensor<T, Dev> bias_c = bias.value().contiguous();                        // (H, N, N)
  const Tensor<std::uint8_t, Dev> reg = regions.defined() ? regions.contiguous() : regions;
  const std::int64_t rows = bw * heads * n;
  if (rows > 0)
    Executor<Dev>::launch(
        rows,
        psalm::kernels::WindowSoftmaxRows<T>{p.data(), bias_c.data(),
                                             reg.defined() ? reg.data() : nullptr, heads, n, nw},
        grain_for(n));
  const Tensor<T, Dev> y = psalm::matmul(p, v);                                // (Bw, H, N, D)
  Tensor<T, Dev> out = y.permute({0, 2, 1, 3}).contiguous().view({bw, n, c});  // (Bw, N, C)

  const bool recording = should_record(qkv, bias);
  detail::WindowAttentionContext<T, Dev> ctx{qkv.grad_ref(), bias.grad_ref(), {}, {}, scale};
  if (recording) {
    ctx.qkv_heads = qkv_heads;
    ctx.p = std::move(p);
  }
  return record(
      std::move(out), recording, std::move(ctx),
      [](detail::WindowAttentionContext<T, Dev>& cx, const Tensor<T, Dev>& d_out) {
        const std::int64_t nb = cx.p.size(0), h = cx.p.size(1), nt = cx.p.size(2);
        const std::int64_t dh = cx.qkv_heads.size(4);
        const Tensor<T, Dev> d_y =
            d_out.view({nb, nt, h, dh}).permute({0, 2, 1, 3}).contiguous();  // (Bw, H, N, D)
        const Tensor<T, Dev> q = cx.qkv_heads.select(0, 0), k = cx.qkv_heads.select(0, 1),
                             v = cx.qkv_heads.select(0, 2);
        Tensor<T, Dev> d_heads;  // (3, Bw, H, N, D)
        if (cx.qkv.needed()) {
          d_heads = Tensor<T, Dev>(cx.qkv_heads.shape());
          Tensor<T, Dev> d_v = d_heads.select(0, 2);  // (Bw, H, N, D) = p^T d_y
          psalm::matmul_into(d_v, cx.p, d_y, {.transpose_a = true});
        }
        // d_p = d_y v^T (Bw, H, N, N), then d_s = p * (d_p - rowsum(d_p * p)) in place.
        Tensor<T, Dev> d_s = psalm::matmul(d_y, v, {.transpose_b = true});
        const std::int64_t rows = nb * h * nt;
        if (rows > 0)
          Executor<Dev>::launch(rows,
                                psalm::kernels::SoftmaxRowsBackward<T>{cx.p.data(), d_s.data(),
                                                                       d_s.data(), nt, false},
                                grain_for(nt));
        cx.p = Tensor<T, Dev>();  // free the probabilities before the last GEMMs
        if (cx.bias.needed())     // the bias is shared by every window: sum over Bw
          cx.bias.accumulate(psalm::sum(d_s.view({nb, h * nt * nt}), 0).view({h, nt, nt}));
        if (!cx.qkv.needed()) return;
        Tensor<T, Dev> d_q = d_heads.select(0, 0), d_k = d_heads.select(0, 1);
        psalm::matmul_into(d_q, d_s, k, {.alpha = cx.scale});  // (Bw, H, N, D)
        psalm::matmul_into(d_k, d_s, q, {.transpose_a = true, .alpha = cx.scale});
        cx.qkv.accumulate(d_heads.permute({1, 3, 0, 2, 4})
                              .contiguous()
                              .view({nb, nt, 3 * h * dh}));  // (Bw, N, 3C)
      });
}

}  // namespace psalm::autograd
