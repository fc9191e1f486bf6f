// psalm/kernels/attention.hpp — the row bodies of attention: one row of scores (already scaled
// by the GEMM) gets its mask and becomes softmax probabilities in place. AttentionSoftmaxRows
// reads additive and / or boolean masks through broadcast strides and saves the row's
// log-sum-exp; WindowSoftmaxRows adds Swin's relative position bias and derives the
// shifted-window mask from region ids. Both are kernels/softmax.hpp's softmax_row.
// Depends on: core, kernels/softmax. Test: tests/kernels/test_attention.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/kernels/softmax.hpp"

namespace psalm::kernels {

/// Strides (in elements) of a mask viewed as (B, H, Lq, Lk); 0 on broadcast axes.
struct MaskStrides {
  std::int64_t b = 0, h = 0, q = 0, k = 0;
};

/// For row r = (b * heads + h) * lq + i of the scores (rows = B * H * Lq, cols = Lk):
///   p[r, j] = softmax_j(s[r, j] + add_mask[b, h, i, j]), with p[r, j] = 0 where block[b, h, i, j]
///   is nonzero (true = blocked, as nn.MultiheadAttention); lse[r] = log sum_j exp(...) over the
///   positions not blocked. A row blocked (or -inf) everywhere gives p = 0 and lse = -inf, so the
///   attention output of that row is zero and no gradient flows through it.
/// requires: s (rows, cols) contiguous, overwritten with p; add_mask / block null or readable at
///   the given strides; lse null or (rows).
template <class T>
struct AttentionSoftmaxRows {
  T* s;
  T* lse;  // optional
  const T* add_mask;
  MaskStrides add_strides;
  const std::uint8_t* block;
  MaskStrides block_strides;
  std::int64_t heads, lq, cols;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    constexpr C neg_inf = -std::numeric_limits<C>::infinity();
    const std::int64_t i = r % lq, h = (r / lq) % heads, b = r / (lq * heads);
    T* row = s + r * cols;
    const T* am =
        add_mask ? add_mask + b * add_strides.b + h * add_strides.h + i * add_strides.q : nullptr;
    const std::uint8_t* bm =
        block ? block + b * block_strides.b + h * block_strides.h + i * block_strides.q : nullptr;
    const std::int64_t ak = add_strides.k, bk = block_strides.k;
    // One loop body per mask case, so no loop tests a mask pointer per element.
    SoftmaxRowStats<C> st;
    if (am && bm)
      st = softmax_row(row, cols, [&](std::int64_t j) {
        return bm[j * bk] ? neg_inf : convert<C>(row[j]) + convert<C>(am[j * ak]);
      });
    else if (am)
      st = softmax_row(row, cols,
                       [&](std::int64_t j) { return convert<C>(row[j]) + convert<C>(am[j * ak]); });
    else if (bm)
      st = softmax_row(row, cols,
                       [&](std::int64_t j) { return bm[j * bk] ? neg_inf : convert<C>(row[j]); });
    else
      st = softmax_row(row, cols, [&](std::int64_t j) { return convert<C>(row[j]); });
    if (lse) lse[r] = convert<T>(st.max == neg_inf ? neg_inf : st.max + std::log(st.sum));
  }
};

/// Swin's (shifted-)window attention, row r = (bw * H + h) * N + i of the scaled scores s
/// (Bw * H * N, N), in place: p[r, j] = softmax_j(s[r, j] + bias[h, i, j] + m), where m is -100
/// when `regions` is set and region[w, i] != region[w, j] (w = bw mod nW), else 0.
/// ref: Mask2Former swin.py WindowAttention.forward (the -100 of BasicLayer's attn_mask).
/// requires: s, bias (H, N, N), regions (nW, N) contiguous; regions may be null.
template <class T>
struct WindowSoftmaxRows {
  T* s;
  const T* bias;
  const std::uint8_t* regions;  // optional
  std::int64_t heads, n, num_windows;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    const std::int64_t i = r % n, h = (r / n) % heads, bw = r / (n * heads);
    T* row = s + r * n;
    const T* b = bias + (h * n + i) * n;
    if (regions) {
      const std::uint8_t* reg = regions + (bw % num_windows) * n;
      const std::uint8_t own = reg[i];
      softmax_row(row, n, [&](std::int64_t j) {
        return convert<C>(row[j]) + convert<C>(b[j]) + (reg[j] != own ? C(-100) : C(0));
      });
    } else {
      softmax_row(row, n, [&](std::int64_t j) { return convert<C>(row[j]) + convert<C>(b[j]); });
    }
  }
};

}  // namespace psalm::kernels
