// psalm/kernels/optimizer.hpp — the element bodies of the optimizer updates, each one fused
// pass over a parameter and its state: AdamW (decoupled weight decay, bias correction) and SGD
// with momentum / Nesterov, in PyTorch's order of operations.
// Depends on: core. Test: tests/optim/test_adamw.cpp, tests/optim/test_sgd.cpp (through optim/).
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"

namespace psalm::kernels {

/// One AdamW step of element i (torch.optim.AdamW, amsgrad off):
///   p *= 1 - lr wd;  m += (1 - beta1)(g - m);  v = beta2 v + (1 - beta2) g^2;
///   p -= step_size m / (sqrt(v) / bc2_sqrt + eps),  step_size = lr / (1 - beta1^t),
///   bc2_sqrt = sqrt(1 - beta2^t). The scalars arrive precomputed in double, as PyTorch's.
/// requires: p, g, m, v contiguous of equal length; g is read only.
template <class T>
struct AdamWUpdate {
  T* p;
  const T* g;
  T* m;
  T* v;
  double decay;  // 1 - lr * weight_decay
  double beta1, beta2, step_size, bc2_sqrt, eps;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const C gi = convert<C>(g[i]);
    const C pi = convert<C>(p[i]) * static_cast<C>(decay);
    const C mi = convert<C>(m[i]) + static_cast<C>(1 - beta1) * (gi - convert<C>(m[i]));
    const C vi = convert<C>(v[i]) * static_cast<C>(beta2) + static_cast<C>(1 - beta2) * gi * gi;
    const C denom = std::sqrt(vi) / static_cast<C>(bc2_sqrt) + static_cast<C>(eps);
    m[i] = convert<T>(mi);
    v[i] = convert<T>(vi);
    p[i] = convert<T>(pi - static_cast<C>(step_size) * (mi / denom));
  }
};

/// One SGD step of element i (torch.optim.SGD):
///   d = g + wd p;  with momentum: buf = d on the first step, else momentum buf + (1 - dampening)
///   d, and d = d + momentum buf (Nesterov) or d = buf;  p -= lr d.
/// requires: p, g contiguous of equal length; buf the same or null when momentum is 0.
template <class T>
struct SgdUpdate {
  T* p;
  const T* g;
  T* buf;
  double lr, weight_decay, momentum, dampening;
  bool first, nesterov;

  PSALM_HD void operator()(std::int64_t i) const {
    using C = compute_type_t<T>;
    const C pi = convert<C>(p[i]);
    C d = convert<C>(g[i]);
    if (weight_decay != 0) d += static_cast<C>(weight_decay) * pi;
    if (buf) {
      const C b =
          first ? d
                : static_cast<C>(momentum) * convert<C>(buf[i]) + static_cast<C>(1 - dampening) * d;
      buf[i] = convert<T>(b);
      d = nesterov ? d + static_cast<C>(momentum) * b : b;
    }
    p[i] = convert<T>(pi - static_cast<C>(lr) * d);
  }
};

}  // namespace psalm::kernels
