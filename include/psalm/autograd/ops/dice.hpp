// psalm/autograd/ops/dice.hpp — fused dice loss on sigmoid probabilities as Mask2Former defines
// it (ref: mask2former/modeling/criterion.py dice_loss): per mask
// 1 - (2 sum(p g) + 1) / (sum(p) + sum(g) + 1), summed over masks and divided by num_masks.
// One row kernel forward (saving each mask's numerator and denominator), one backward.
// Backward accumulates. Depends on: autograd/tape, autograd/ops/loss_reduction, kernels/losses.
// Test: tests/autograd/test_dice.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "psalm/autograd/ops/loss_reduction.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/losses.hpp"

namespace psalm::autograd {

// Letters: N masks, P points (or pixels) per mask.

/// Options of dice_loss.
struct DiceOptions {
  /// none: the (N) per-mask losses; sum: their sum; mean: their sum / num_masks.
  Reduction reduction = Reduction::mean;
  /// Divisor of mean; 0 means N. PSALM passes the batch's number of ground-truth masks (§4.2).
  double num_masks = 0.0;
};

/// Context of dice_loss: logits and targets as (N, P), and each mask's numerator / denominator.
template <Real T, Device Dev>
struct DiceContext {
  GradRef<T, Dev> logits;
  Tensor<T, Dev> x, y;      // (N, P) contiguous
  Tensor<T, Dev> num, den;  // (N)
  Reduction reduction;
  double divisor;
};

/// Dice loss of mask logits (N, ...) against targets of the same shape (values in [0, 1]);
/// every axis after the first is flattened into the points of one mask.
template <Real T, Device Dev>
Var<T, Dev> dice_loss(const Var<T, Dev>& logits, const Tensor<T, Dev>& target,
                      const DiceOptions& opt = {}) {
  PSALM_CHECK(logits.rank() >= 1, "dice_loss: logits need a mask axis, got ", logits.shape());
  PSALM_CHECK(target.shape() == logits.shape(), "dice_loss: target of shape ", target.shape(),
              " differs from the logits' shape ", logits.shape());
  PSALM_CHECK(opt.num_masks >= 0.0 && std::isfinite(opt.num_masks),
              "dice_loss: num_masks must be finite and >= 0, got ", opt.num_masks);
  const std::int64_t n = logits.size(0);
  const std::int64_t p = n == 0 ? 0 : logits.numel() / n;
  const Tensor<T, Dev> x = logits.value().reshape({n, p}).contiguous();  // (N, P)
  const Tensor<T, Dev> y = target.reshape({n, p}).contiguous();          // (N, P)
  Tensor<T, Dev> loss(Shape{n}), num(Shape{n}), den(Shape{n});           // (N)
  if (n > 0)
    Executor<Dev>::launch(
        n, psalm::kernels::DiceRows<T>{x.data(), y.data(), loss.data(), num.data(), den.data(), p},
        grain_for(p));
  const double divisor = opt.num_masks > 0 ? opt.num_masks : static_cast<double>(n);
  Tensor<T, Dev> out = detail::reduce_loss(loss, opt.reduction, divisor);
  return record(std::move(out), should_record(logits),
                DiceContext<T, Dev>{logits.grad_ref(), x, y, num, den, opt.reduction, divisor},
                [](DiceContext<T, Dev>& c, const Tensor<T, Dev>& d_out) {
                  const auto g = detail::loss_grad(d_out, c.reduction, c.divisor);
                  const std::int64_t rows = c.x.size(0), cols = c.x.size(1);
                  Tensor<T, Dev> d_x(c.logits.shape());  // (N, ...), laid out as (N, P)
                  if (rows > 0)
                    Executor<Dev>::launch(rows,
                                          psalm::kernels::DiceRowsBackward<T>{
                                              c.x.data(), c.y.data(), c.num.data(), c.den.data(),
                                              g.d.data(), d_x.data(), cols, g.stride, g.factor},
                                          grain_for(cols));
                  c.logits.accumulate(std::move(d_x));
                });
}

}  // namespace psalm::autograd
