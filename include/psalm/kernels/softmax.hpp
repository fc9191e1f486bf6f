// psalm/kernels/softmax.hpp — the one numerically stable softmax / log-softmax row body
// (softmax_row), and SoftmaxRows: softmax over the last axis of a contiguous (rows, cols)
// layout, one row per body call, with an optional additive mask broadcast over rows
// (mask_row_period rows share one mask row). Forward and backward. Row sums and maxima run in
// kernels/fast_math.hpp's lane-split form and exp is its vectorisable float exp, so the CPU
// loops vectorise. Attention's masked rows (kernels/attention.hpp) are softmax_row too.
// Depends on: core, kernels/fast_math. Test: tests/kernels/test_softmax.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/kernels/fast_math.hpp"

namespace psalm::kernels {

/// The maximum of a row and the sum of exp(x - max) over it; the row's log-sum-exp is
/// max + log(sum) (-inf for a row that is -inf everywhere: max -inf, sum 0).
template <class C>
struct SoftmaxRowStats {
  C max, sum;
};

/// One row: y[j] = softmax_j(at(j)) (log_softmax when `log`), where at(j) is the row's input in
/// the compute type with any mask already applied. A row that is -inf everywhere gives zeros
/// (log_softmax: -inf) instead of NaN. y may alias the memory at() reads: at(j) is read before
/// y[j] is written. Narrow storage (bf16) rounds each output once. Every softmax of the library
/// is this body; the row structs below and in kernels/attention.hpp only address their masks.
template <class T, class At>
PSALM_HD SoftmaxRowStats<compute_type_t<T>> softmax_row(T* y, std::int64_t cols, const At& at,
                                                        bool log = false) {
  using C = compute_type_t<T>;
  const C mx = lane_max<C>(cols, at);
  if (mx == -std::numeric_limits<C>::infinity()) {
    for (std::int64_t j = 0; j < cols; ++j)
      y[j] = convert<T>(log ? -std::numeric_limits<C>::infinity() : C(0));
    return {mx, C(0)};
  }
  if (log) {
    const C total = lane_sum<C>(cols, [&](std::int64_t j) { return fast_exp(at(j) - mx); });
    const C lse = mx + std::log(total);
    for (std::int64_t j = 0; j < cols; ++j) y[j] = convert<T>(at(j) - lse);
    return {mx, total};
  }
  if constexpr (std::is_same_v<T, C>) {
    // The exponentials go to y on the way, then one scaling pass.
    const C total = lane_sum<C>(cols, [&](std::int64_t j) {
      const C e = fast_exp(at(j) - mx);
      y[j] = e;
      return e;
    });
    const C inv = C(1) / total;
    for (std::int64_t j = 0; j < cols; ++j) y[j] *= inv;
    return {mx, total};
  } else {  // narrow storage (bf16): exponentials recomputed in C, rounded once
    const C total = lane_sum<C>(cols, [&](std::int64_t j) { return fast_exp(at(j) - mx); });
    const C inv = C(1) / total;
    for (std::int64_t j = 0; j < cols; ++j) y[j] = convert<T>(fast_exp(at(j) - mx) * inv);
    return {mx, total};
  }
}

/// y[r, :] = softmax(x[r, :] + mask[r % period, :]) (or log_softmax). Rows that are masked
/// everywhere (-inf) give zeros (softmax) / -inf (log_softmax) instead of NaN.
/// requires: x, y (rows, cols) contiguous; mask null or (period, cols). y may alias x.
template <class T>
struct SoftmaxRows {
  const T* x;
  T* y;
  const T* mask;  // optional additive mask, nullptr for none
  std::int64_t cols, mask_row_period;
  bool log;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    const T* xr = x + r * cols;
    const T* mr = mask ? mask + (r % mask_row_period) * cols : nullptr;
    // One loop body per case, so no loop tests the mask per element (and each vectorises).
    if (mr)
      softmax_row(
          y + r * cols, cols, [&](std::int64_t j) { return convert<C>(xr[j]) + convert<C>(mr[j]); },
          log);
    else
      softmax_row(
          y + r * cols, cols, [&](std::int64_t j) { return convert<C>(xr[j]); }, log);
  }
};

/// Backward of SoftmaxRows given its output y and d_y (overwrites d_x):
/// softmax:     d_x = y * (d_y - sum(d_y * y))
/// log_softmax: d_x = d_y - exp(y) * sum(d_y)
/// requires: all (rows, cols) contiguous; d_x may alias d_y.
template <class T>
struct SoftmaxRowsBackward {
  const T* y;
  const T* d_y;
  T* d_x;
  std::int64_t cols;
  bool log;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    const T* yr = y + r * cols;
    const T* gr = d_y + r * cols;
    T* dr = d_x + r * cols;
    if (log) {
      const C total = lane_sum<C>(cols, [&](std::int64_t j) { return convert<C>(gr[j]); });
      for (std::int64_t j = 0; j < cols; ++j)
        dr[j] = convert<T>(convert<C>(gr[j]) - fast_exp(convert<C>(yr[j])) * total);
    } else {
      const C dot =
          lane_sum<C>(cols, [&](std::int64_t j) { return convert<C>(gr[j]) * convert<C>(yr[j]); });
      for (std::int64_t j = 0; j < cols; ++j) {
        const C yv = convert<C>(yr[j]);
        dr[j] = convert<T>(yv * (convert<C>(gr[j]) - dot));
      }
    }
  }
};

}  // namespace psalm::kernels
