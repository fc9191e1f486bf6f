// psalm/kernels/layer_norm.hpp — layer normalisation over the last axis, one row per body call:
// statistics (mean, 1/std) saved for the backward pass as llm.c does, the normalised affine
// output, and the backward pass for the input (weight / bias gradients are column sums of
// the saved per-row terms, done by the caller). Variance is biased (divides by cols), as
// torch.nn.LayerNorm. Depends on: core. Test: tests/kernels/test_layer_norm.cpp.
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"

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
    A m = 0;
    for (std::int64_t j = 0; j < cols; ++j) m += convert<A>(xr[j]);
    m /= static_cast<A>(cols);
    A var = 0;  // two-pass variance: no cancellation for large means
    for (std::int64_t j = 0; j < cols; ++j) {
      const A d = convert<A>(xr[j]) - m;
      var += d * d;
    }
    var /= static_cast<A>(cols);
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
    A mean_g = 0, mean_gx = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const A g = convert<A>(gr[j]) * (weight ? convert<A>(weight[j]) : A(1));
      const A xhat = (convert<A>(xr[j]) - m) * rs;
      mean_g += g;
      mean_gx += g * xhat;
    }
    mean_g /= static_cast<A>(cols);
    mean_gx /= static_cast<A>(cols);
    T* dr = d_x + r * cols;
    for (std::int64_t j = 0; j < cols; ++j) {
      const A g = convert<A>(gr[j]) * (weight ? convert<A>(weight[j]) : A(1));
      const A xhat = (convert<A>(xr[j]) - m) * rs;
      dr[j] = convert<T>(rs * (g - mean_g - xhat * mean_gx));
    }
  }
};

}  // namespace psalm::kernels
