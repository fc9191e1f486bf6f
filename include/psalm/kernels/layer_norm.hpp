// psalm/kernels/layer_norm.hpp — layer normalisation over the last axis, one row per body call:
// statistics (mean, 1/std) saved for the backward pass as llm.c does, the normalised affine
// output, the backward pass for the input, and the weight / bias gradients as one fused pass
// over column blocks. Variance is biased (divides by cols), as torch.nn.LayerNorm. Row sums
// are lane-split (kernels/fast_math.hpp) so the CPU loops vectorise.
// Depends on: core, kernels/fast_math. Test: tests/kernels/test_layer_norm.cpp.
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/kernels/fast_math.hpp"

namespace psalm::kernels {

/// Type of the saved statistics: double for double inputs, float otherwise.
template <class T>
using layer_norm_stat_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

/// y[r] = (x[r] - mean) * rstd * weight + bias; saves mean[r] and rstd[r].
/// requires: x, y (rows, cols) contiguous; weight, bias (cols) or nullptr; y may alias x.
template <class T>
struct LayerNormRows {
  const T* x;
  const T* weight;
  const T* bias;
  T* y;
  layer_norm_stat_t<T>* mean;  // (rows) or nullptr
  layer_norm_stat_t<T>* rstd;  // (rows) or nullptr
  std::int64_t cols;
  double eps;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    using A = std::conditional_t<std::is_same_v<C, double>, double, float>;
    const T* xr = x + r * cols;
    const A m =
        lane_sum<A>(cols, [&](std::int64_t j) { return convert<A>(xr[j]); }) / static_cast<A>(cols);
    // two-pass variance: no cancellation for large means
    const A var = lane_sum<A>(cols,
                              [&](std::int64_t j) {
                                const A d = convert<A>(xr[j]) - m;
                                return d * d;
                              }) /
                  static_cast<A>(cols);
    const A rs = A(1) / std::sqrt(var + static_cast<A>(eps));
    if (mean) mean[r] = m;
    if (rstd) rstd[r] = rs;
    T* yr = y + r * cols;
    for (std::int64_t j = 0; j < cols; ++j) {
      A v = (convert<A>(xr[j]) - m) * rs;
      if (weight) v *= convert<A>(weight[j]);
      if (bias) v += convert<A>(bias[j]);
      yr[j] = convert<T>(v);
    }
  }
};

/// d_x[r] for y = LayerNorm(x) with saved mean / rstd (overwrites d_x):
/// xhat = (x - mean) rstd, g = d_y * weight,
/// d_x = rstd * (g - mean(g) - xhat * mean(g * xhat)).
/// requires: x, d_y, d_x (rows, cols) contiguous; weight (cols) or nullptr.
template <class T>
struct LayerNormRowsBackward {
  const T* x;
  const T* weight;
  const T* d_y;
  const layer_norm_stat_t<T>* mean;
  const layer_norm_stat_t<T>* rstd;
  T* d_x;
  std::int64_t cols;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    using A = std::conditional_t<std::is_same_v<C, double>, double, float>;
    const T* xr = x + r * cols;
    const T* gr = d_y + r * cols;
    const A m = mean[r], rs = rstd[r];
    if (weight)
      row(xr, d_x + r * cols, m, rs,
          [&](std::int64_t j) { return convert<A>(gr[j]) * convert<A>(weight[j]); });
    else
      row(xr, d_x + r * cols, m, rs, [&](std::int64_t j) { return convert<A>(gr[j]); });
  }

  /// One row; g_at(j) is d_y * weight in the statistics type.
  template <class A, class G>
  PSALM_HD void row(const T* xr, T* dr, A m, A rs, const G& g_at) const {
    const A mean_g = lane_sum<A>(cols, g_at) / static_cast<A>(cols);
    const A mean_gx =
        lane_sum<A>(cols,
                    [&](std::int64_t j) { return g_at(j) * ((convert<A>(xr[j]) - m) * rs); }) /
        static_cast<A>(cols);
    for (std::int64_t j = 0; j < cols; ++j) {
      const A xhat = (convert<A>(xr[j]) - m) * rs;
      dr[j] = convert<T>(rs * (g_at(j) - mean_g - xhat * mean_gx));
    }
  }
};

/// Weight and bias gradients of y = LayerNorm(x) for one block of `block` columns (call index
/// c covers columns [c * block, min((c + 1) * block, cols))), overwriting:
///   d_weight[j] = sum_r d_y[r, j] * (x[r, j] - mean[r]) * rstd[r],   d_bias[j] = sum_r d_y[r, j].
/// One pass over the rows; the CPU uses blocks of a few cache lines (rows are read as short
/// contiguous runs), the GPU blocks of 1 (adjacent threads read adjacent columns).
/// requires: x, d_y (rows, cols) contiguous; mean, rstd (rows); d_weight, d_bias (cols) or null.
template <class T>
struct LayerNormParamGrad {
  const T* x;
  const T* d_y;
  const layer_norm_stat_t<T>* mean;
  const layer_norm_stat_t<T>* rstd;
  T* d_weight;
  T* d_bias;
  std::int64_t rows, cols, block;

  PSALM_HD void operator()(std::int64_t c) const {
    using A = layer_norm_stat_t<T>;
    const std::int64_t j0 = c * block, j1 = j0 + block < cols ? j0 + block : cols;
    for (std::int64_t j = j0; j < j1; ++j) {
      if (d_weight) d_weight[j] = convert<T>(A(0));
      if (d_bias) d_bias[j] = convert<T>(A(0));
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * cols;
      const T* gr = d_y + r * cols;
      const A m = mean[r], rs = rstd[r];
      if (d_weight)
        for (std::int64_t j = j0; j < j1; ++j)
          d_weight[j] = convert<T>(convert<A>(d_weight[j]) +
                                   convert<A>(gr[j]) * ((convert<A>(xr[j]) - m) * rs));
      if (d_bias)
        for (std::int64_t j = j0; j < j1; ++j)
          d_bias[j] = convert<T>(convert<A>(d_bias[j]) + convert<A>(gr[j]));
    }
  }
};

}  // namespace psalm::kernels
