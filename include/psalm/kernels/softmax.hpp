// psalm/kernels/softmax.hpp — numerically stable softmax / log-softmax over the last axis of
// a contiguous (rows, cols) layout, one row per body call, with an optional additive mask
// broadcast over rows (mask_row_period rows share one mask row). Forward and backward.
// Depends on: core. Test: tests/kernels/test_softmax.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"

namespace psalm::kernels {

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
    T* yr = y + r * cols;
    const T* mr = mask ? mask + (r % mask_row_period) * cols : nullptr;
    auto at = [&](std::int64_t j) {
      return mr ? convert<C>(xr[j]) + convert<C>(mr[j]) : convert<C>(xr[j]);
    };
    C mx = -std::numeric_limits<C>::infinity();
    for (std::int64_t j = 0; j < cols; ++j) {
      const C v = at(j);
      mx = v > mx ? v : mx;
    }
    if (mx == -std::numeric_limits<C>::infinity()) {
      for (std::int64_t j = 0; j < cols; ++j)
        yr[j] = convert<T>(log ? -std::numeric_limits<C>::infinity() : C(0));
      return;
    }
    C total = 0;
    for (std::int64_t j = 0; j < cols; ++j) total += std::exp(at(j) - mx);
    if (log) {
      const C lse = mx + std::log(total);
      for (std::int64_t j = 0; j < cols; ++j) yr[j] = convert<T>(at(j) - lse);
    } else {
      const C inv = C(1) / total;
      for (std::int64_t j = 0; j < cols; ++j) yr[j] = convert<T>(std::exp(at(j) - mx) * inv);
    }
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
    C dot = 0;
    for (std::int64_t j = 0; j < cols; ++j)
      dot += log ? convert<C>(gr[j]) : convert<C>(gr[j]) * convert<C>(yr[j]);
    for (std::int64_t j = 0; j < cols; ++j) {
      const C yv = convert<C>(yr[j]), g = convert<C>(gr[j]);
      dr[j] = convert<T>(log ? g - std::exp(yv) * dot : yv * (g - dot));
    }
  }
};

}  // namespace psalm::kernels
