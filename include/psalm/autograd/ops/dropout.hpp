// psalm/autograd/ops/dropout.hpp — differentiable dropout (elementwise) and drop_path
// (stochastic depth, timm's drop_path: one draw per sample along axis 0, whole samples
// zeroed), both scaled by 1 / (1 - p) and seeded through psalm::CounterRng (kernels/dropout.hpp)
// so every device draws the same mask. The mask is not saved: the backward re-draws it from
// the seed. Identity (the input Var itself, nothing recorded) when not training or p = 0.
// Backward accumulates. Depends on: autograd/tape, kernels/dropout.
// Test: tests/autograd/test_dropout.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/tape.hpp"
#include "psalm/core/rng.hpp"
#include "psalm/kernels/dropout.hpp"

namespace psalm::autograd {

/// Options of dropout / drop_path. The caller owns the randomness: use one `rng.stream` per
/// layer and step (e.g. stream = step * layers + layer) so masks never repeat.
struct DropoutOptions {
  double p = 0.5;        ///< probability of dropping an element (dropout) or sample (drop_path)
  bool training = true;  ///< false: identity (inference)
  CounterRng rng{};      ///< seed and stream of the mask
};

/// Context of dropout / drop_path: what re-draws the mask.
template <Real T, Device Dev>
struct DropoutContext {
  GradRef<T, Dev> x;
  CounterRng rng;
  float p;
  T scale;
  std::int64_t group;
};

namespace detail {

template <Real T, Device Dev>
Var<T, Dev> masked_scale(const Var<T, Dev>& x, const DropoutOptions& opt, std::int64_t group,
                         const char* name) {
  PSALM_CHECK(opt.p >= 0.0 && opt.p <= 1.0, name, ": p must be in [0, 1], got ", opt.p);
  if (!opt.training || opt.p == 0.0) return x;
  const T scale = opt.p < 1.0 ? static_cast<T>(1.0 / (1.0 - opt.p)) : T(0);
  const auto p = static_cast<float>(opt.p);
  const Tensor<T, Dev> src = x.value().contiguous();
  Tensor<T, Dev> y(x.shape());
  if (y.numel() > 0)
    Executor<Dev>::launch(
        y.numel(), psalm::kernels::DropoutMask<T>{src.data(), y.data(), opt.rng, p, scale, group});
  return record(std::move(y), should_record(x),
                DropoutContext<T, Dev>{x.grad_ref(), opt.rng, p, scale, group},
                [](DropoutContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  const Tensor<T, Dev> g = d_y.contiguous();
                  Tensor<T, Dev> d_x(c.x.shape());
                  if (g.numel() > 0)
                    Executor<Dev>::launch(
                        g.numel(), psalm::kernels::DropoutMask<T>{g.data(), d_x.data(), c.rng, c.p,
                                                                  c.scale, c.group});
                  c.x.accumulate(std::move(d_x));
                });
}

}  // namespace detail

/// Each element zeroed with probability p, survivors scaled by 1 / (1 - p).
template <Real T, Device Dev>
Var<T, Dev> dropout(const Var<T, Dev>& x, const DropoutOptions& opt) {
  return detail::masked_scale(x, opt, 1, "dropout");
}

/// Stochastic depth: each sample (index along axis 0) zeroed with probability p, survivors
/// scaled by 1 / (1 - p). ref: timm/layers/drop.py (drop_path, scale_by_keep=True).
template <Real T, Device Dev>
Var<T, Dev> drop_path(const Var<T, Dev>& x, const DropoutOptions& opt) {
  PSALM_CHECK(x.rank() >= 1, "drop_path: input needs a batch axis, got shape ", x.shape());
  const std::int64_t per_sample = x.size(0) == 0 ? 1 : x.numel() / x.size(0);
  return detail::masked_scale(x, opt, per_sample == 0 ? 1 : per_sample, "drop_path");
}

}  // namespace psalm::autograd
