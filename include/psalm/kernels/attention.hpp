// psalm/kernels/attention.hpp — the row body of scaled-dot-product attention: one row of scores
// (already scaled by the GEMM) gets its additive and / or boolean mask, read through broadcast
// strides, and becomes softmax probabilities in place, with the row's log-sum-exp saved.
// Max and sum are lane-split and exp is the vectorisable float one (kernels/fast_math.hpp).
// Depends on: core, kernels/fast_math. Test: tests/kernels/test_attention.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/kernels/fast_math.hpp"

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
    // Pass 1: masked scores (written back) and their maximum.
    C mx = neg_inf;
    if (am || bm) {
      for (std::int64_t j = 0; j < cols; ++j) {
        C v = convert<C>(row[j]);
        if (am) v += convert<C>(am[j * add_strides.k]);
        if (bm && bm[j * block_strides.k]) v = neg_inf;
        row[j] = convert<T>(v);
        mx = v > mx ? v : mx;
      }
    } else {
      mx = lane_max<C>(cols, [&](std::int64_t j) { return convert<C>(row[j]); });
    }
    if (mx == neg_inf) {
      for (std::int64_t j = 0; j < cols; ++j) row[j] = convert<T>(C(0));
      if (lse) lse[r] = convert<T>(neg_inf);
      return;
    }
    // Pass 2: exponentials and their sum; pass 3: normalise.
    const C total = lane_sum<C>(cols, [&](std::int64_t j) {
      const C e = fast_exp(convert<C>(row[j]) - mx);
      row[j] = convert<T>(e);
      return e;
    });
    const C inv = C(1) / total;
    for (std::int64_t j = 0; j < cols; ++j) row[j] = convert<T>(convert<C>(row[j]) * inv);
    if (lse) lse[r] = convert<T>(mx + std::log(total));
  }
};

}  // namespace psalm::kernels
