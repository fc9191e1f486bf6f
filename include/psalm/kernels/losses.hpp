// psalm/kernels/losses.hpp — the per-row and per-element bodies of the fused losses, forward
// and backward: cross-entropy with class weights and an ignore index, binary cross-entropy with
// logits and pos_weight, sigmoid focal loss, and Mask2Former's dice loss.
// Each backward body writes d_x = d_loss[i * d_stride] * factor * (d loss_i / d x): d_stride 0
// reads one upstream gradient for a reduced loss, 1 one per element / row for reduction none.
// Depends on: core. Test: tests/autograd/test_cross_entropy.cpp,
// tests/autograd/test_bce.cpp, tests/autograd/test_focal.cpp, tests/autograd/test_dice.cpp (through
// the ops).
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"

namespace psalm::kernels {

/// log(1 + exp(-|x|)) + max(-x, 0) = -log(sigmoid(x)), without overflow for any x.
template <class C>
PSALM_HD_INLINE C neg_log_sigmoid(C x) {
  return std::log1p(std::exp(-(x < C(0) ? -x : x))) + (x < C(0) ? -x : C(0));
}

/// sigmoid(x) evaluated without overflow.
template <class C>
PSALM_HD_INLINE C stable_sigmoid(C x) {
  if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
  const C e = std::exp(x);
  return e / (C(1) + e);
}

/// Cross-entropy of row r of logits x (rows, cols) with class target[r]:
///   lse[r] = log sum_j exp(x[r, j]);  w_row[r] = weight[t] (1 without weights);
///   loss[r] = w_row[r] * (lse[r] - x[r, t]). Rows whose target equals ignore_index get
///   loss = w_row = 0. requires: x contiguous; target in [0, cols) or ignore_index (checked by
///   the caller); weight null or (cols).
template <class T>
struct CrossEntropyRows {
  const T* x;
  const std::int64_t* target;
  const T* weight;
  T* loss;
  T* w_row;
  T* lse;
  std::int64_t cols, ignore_index;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    const T* xr = x + r * cols;
    C mx = convert<C>(xr[0]);
    for (std::int64_t j = 1; j < cols; ++j) mx = convert<C>(xr[j]) > mx ? convert<C>(xr[j]) : mx;
    C total = 0;
    for (std::int64_t j = 0; j < cols; ++j) total += std::exp(convert<C>(xr[j]) - mx);
    const C l = mx + std::log(total);
    lse[r] = convert<T>(l);
    const std::int64_t t = target[r];
    if (t == ignore_index) {
      loss[r] = w_row[r] = convert<T>(C(0));
      return;
    }
    const C w = weight ? convert<C>(weight[t]) : C(1);
    w_row[r] = convert<T>(w);
    loss[r] = convert<T>(w * (l - convert<C>(xr[t])));
  }
};

/// Backward of CrossEntropyRows (overwrites d_x):
///   d_x[r, j] = d_loss[r * d_stride] * factor * w_row[r] * (softmax(x[r])_j - [j == t]).
template <class T>
struct CrossEntropyRowsBackward {
  const T* x;
  const std::int64_t* target;
  const T* w_row;
  const T* lse;
  const T* d_loss;
  T* d_x;
  std::int64_t cols, d_stride;
  double factor;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    const C g = convert<C>(d_loss[r * d_stride]) * static_cast<C>(factor) * convert<C>(w_row[r]);
    const T* xr = x + r * cols;
    T* dr = d_x + r * cols;
    const C l = convert<C>(lse[r]);
    const std::int64_t t = target[r];
    for (std::int64_t j = 0; j < cols; ++j) {
      const C p = std::exp(convert<C>(xr[j]) - l);
      dr[j] = convert<T>(g * (p - (j == t ? C(1) : C(0))));
    }
  }
};

/// Binary cross-entropy with logits, element i, PyTorch's form:
///   loss = (1 - y) x + (1 + (pw - 1) y) (log(1 + exp(-|x|)) + max(-x, 0)),
///   d loss / d x = (1 - y) - (1 + (pw - 1) y) sigmoid(-x).
/// requires: x, y, pos_weight (null = 1) contiguous of equal length.
template <class T>
struct BceWithLogits {
  const T* x;
  const T* y;
  const T* pos_weight;
  T* loss;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const C xv = convert<C>(x[i]), yv = convert<C>(y[i]);
    const C lw = pos_weight ? C(1) + (convert<C>(pos_weight[i]) - C(1)) * yv : C(1);
    loss[i] = convert<T>((C(1) - yv) * xv + lw * neg_log_sigmoid(xv));
  }
};

template <class T>
struct BceWithLogitsBackward {
  const T* x;
  const T* y;
  const T* pos_weight;
  const T* d_loss;
  T* d_x;
  std::int64_t d_stride;
  double factor;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const C xv = convert<C>(x[i]), yv = convert<C>(y[i]);
    const C lw = pos_weight ? C(1) + (convert<C>(pos_weight[i]) - C(1)) * yv : C(1);
    const C g = convert<C>(d_loss[i * d_stride]) * static_cast<C>(factor);
    d_x[i] = convert<T>(g * ((C(1) - yv) - lw * stable_sigmoid(-xv)));
  }
};

/// Sigmoid focal loss (torchvision.ops.sigmoid_focal_loss), element i, p = sigmoid(x):
///   ce = bce_with_logits(x, y),  1 - p_t = p (1 - y) + (1 - p) y,
///   loss = a_t (1 - p_t)^gamma ce,  a_t = alpha y + (1 - alpha)(1 - y) (1 when alpha < 0).
/// The backward differentiates that product; where 1 - p_t is 0 its power's derivative is
/// taken as 0.
template <class T>
struct SigmoidFocal {
  const T* x;
  const T* y;
  T* loss;
  double alpha, gamma;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const C xv = convert<C>(x[i]), yv = convert<C>(y[i]);
    const C p = stable_sigmoid(xv), q = stable_sigmoid(-xv);  // q = 1 - p
    const C ce = (C(1) - yv) * xv + neg_log_sigmoid(xv);
    const C one_minus_pt = p * (C(1) - yv) + q * yv;
    const C a_t = alpha >= 0 ? C(alpha) * yv + C(1 - alpha) * (C(1) - yv) : C(1);
    loss[i] = convert<T>(a_t * std::pow(one_minus_pt, C(gamma)) * ce);
  }
};

template <class T>
struct SigmoidFocalBackward {
  const T* x;
  const T* y;
  const T* d_loss;
  T* d_x;
  std::int64_t d_stride;
  double factor, alpha, gamma;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const C xv = convert<C>(x[i]), yv = convert<C>(y[i]);
    const C p = stable_sigmoid(xv), q = stable_sigmoid(-xv);
    const C ce = (C(1) - yv) * xv + neg_log_sigmoid(xv);
    const C one_minus_pt = p * (C(1) - yv) + q * yv;
    const C a_t = alpha >= 0 ? C(alpha) * yv + C(1 - alpha) * (C(1) - yv) : C(1);
    const C gm = C(gamma);
    // d(1 - p_t)/dx = p q (1 - 2y); d(1 - p_t)^gamma / dx = gamma (1 - p_t)^(gamma - 1) * that.
    const C d_mod = (gm != C(0) && one_minus_pt > C(0))
                        ? gm * std::pow(one_minus_pt, gm - C(1)) * p * q * (C(1) - C(2) * yv)
                        : C(0);
    const C g = convert<C>(d_loss[i * d_stride]) * static_cast<C>(factor);
    d_x[i] = convert<T>(g * a_t * (d_mod * ce + std::pow(one_minus_pt, gm) * (p - yv)));
  }
};

/// Dice loss of row r (one mask of `cols` points), p = sigmoid(x), as Mask2Former:
///   num = 2 sum(p y) + 1,  den = sum(p) + sum(y) + 1,  loss = 1 - num / den.
/// Saves num and den per row for the backward. requires: x, y (rows, cols) contiguous.
template <class T>
struct DiceRows {
  const T* x;
  const T* y;
  T* loss;
  T* num;
  T* den;
  std::int64_t cols;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    C spy = 0, sp = 0, sy = 0;
    for (std::int64_t j = r * cols; j < (r + 1) * cols; ++j) {
      const C p = stable_sigmoid(convert<C>(x[j])), yv = convert<C>(y[j]);
      spy += p * yv;
      sp += p;
      sy += yv;
    }
    const C n = C(2) * spy + C(1), d = sp + sy + C(1);
    num[r] = convert<T>(n);
    den[r] = convert<T>(d);
    loss[r] = convert<T>(C(1) - n / d);
  }
};

/// Backward of DiceRows (overwrites d_x): d loss / d p_j = (num - 2 y_j den) / den^2,
/// times p_j (1 - p_j).
template <class T>
struct DiceRowsBackward {
  const T* x;
  const T* y;
  const T* num;
  const T* den;
  const T* d_loss;
  T* d_x;
  std::int64_t cols, d_stride;
  double factor;

  PSALM_HD void operator()(std::int64_t r) const {
    using C = compute_type_t<T>;
    const C n = convert<C>(num[r]), d = convert<C>(den[r]);
    const C g = convert<C>(d_loss[r * d_stride]) * static_cast<C>(factor) / (d * d);
    for (std::int64_t j = r * cols; j < (r + 1) * cols; ++j) {
      const C xv = convert<C>(x[j]);
      const C pq = stable_sigmoid(xv) * stable_sigmoid(-xv);
      d_x[j] = convert<T>(g * (n - C(2) * convert<C>(y[j]) * d) * pq);
    }
  }
};

}  // namespace psalm::kernels
