// psalm/autograd/ops/cross_entropy.hpp — fused cross-entropy over class logits
// (torch.nn.functional.cross_entropy for (N, C) logits and class-index targets) with class
// weights, ignore_index and PyTorch's weighted mean sum_i w[y_i] nll_i / sum_i w[y_i]. One row
// kernel forward saves each row's log-sum-exp; the backward is one row kernel. Backward
// accumulates. Depends on: autograd/tape, autograd/ops/loss_reduction, kernels/losses.
// Test: tests/autograd/test_cross_entropy.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include "psalm/autograd/ops/loss_reduction.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/losses.hpp"

namespace psalm::autograd {

// Letters: N rows (samples), C classes.

/// Options of cross_entropy, as PyTorch's keyword arguments.
template <Real T, Device Dev>
struct CrossEntropyOptions {
  Tensor<T, Dev> weight{};           ///< (C) class weights, undefined for all ones
  std::int64_t ignore_index = -100;  ///< rows with this target add nothing
  Reduction reduction = Reduction::mean;
};

/// Context of cross_entropy: the logits, targets, each row's weight and log-sum-exp.
template <Real T, Device Dev>
struct CrossEntropyContext {
  GradRef<T, Dev> logits;
  Tensor<T, Dev> x;                  // (N, C) contiguous
  Tensor<std::int64_t, Dev> target;  // (N) contiguous
  Tensor<T, Dev> w_row, lse;         // (N)
  Reduction reduction;
  double divisor;  // sum of w_row for mean
};

/// Cross-entropy of logits (N, C) against class indices target (N). Returns (N) for reduction
/// none (0 on ignored rows), else a rank-0 loss. With reduction mean and every row ignored
/// the result is NaN (0 / 0), as in PyTorch.
template <Real T, Device Dev>
Var<T, Dev> cross_entropy(const Var<T, Dev>& logits, const Tensor<std::int64_t, Dev>& target,
                          const CrossEntropyOptions<T, Dev>& opt = {}) {
  PSALM_CHECK(logits.rank() == 2, "cross_entropy: logits must be (N, C), got ", logits.shape());
  const std::int64_t n = logits.size(0), c = logits.size(1);
  PSALM_CHECK(c > 0, "cross_entropy: logits need at least one class, got ", logits.shape());
  PSALM_CHECK(target.rank() == 1 && target.size(0) == n, "cross_entropy: target must be (", n,
              "), got ", target.shape());
  PSALM_CHECK(!opt.weight.defined() || (opt.weight.rank() == 1 && opt.weight.size(0) == c),
              "cross_entropy: weight must be (", c, "), got ", opt.weight.shape());
  const Tensor<std::int64_t, Dev> t = target.contiguous();
  for (const std::int64_t v : t.to_vector())
    PSALM_CHECK(v == opt.ignore_index || (v >= 0 && v < c), "cross_entropy: target ", v,
                " is outside [0, ", c, ") and is not ignore_index ", opt.ignore_index);
  const Tensor<T, Dev> x = logits.value().contiguous();
  const Tensor<T, Dev> w = opt.weight.defined() ? opt.weight.contiguous() : Tensor<T, Dev>();
  Tensor<T, Dev> loss(Shape{n}), w_row(Shape{n}), lse(Shape{n});  // (N)
  if (n > 0)
    Executor<Dev>::launch(n,
                          psalm::kernels::CrossEntropyRows<T>{
                              x.data(), t.data(), w.defined() ? w.data() : nullptr, loss.data(),
                              w_row.data(), lse.data(), c, opt.ignore_index},
                          grain_for(c));
  const double divisor =
      opt.reduction == Reduction::mean ? static_cast<double>(psalm::sum(w_row).item()) : 1.0;
  Tensor<T, Dev> y = detail::reduce_loss(loss, opt.reduction, divisor);
  return record(
      std::move(y), should_record(logits),
      CrossEntropyContext<T, Dev>{logits.grad_ref(), x, t, w_row, lse, opt.reduction, divisor},
      [](CrossEntropyContext<T, Dev>& ctx, const Tensor<T, Dev>& d_y) {
        const auto g = detail::loss_grad(d_y, ctx.reduction, ctx.divisor);
        const std::int64_t rows = ctx.x.size(0), cols = ctx.x.size(1);
        Tensor<T, Dev> d_x(ctx.x.shape());  // (N, C)
        if (rows > 0)
          Executor<Dev>::launch(
              rows,
              psalm::kernels::CrossEntropyRowsBackward<T>{
                  ctx.x.data(), ctx.target.data(), ctx.w_row.data(), ctx.lse.data(), g.d.data(),
                  d_x.data(), cols, g.stride, g.factor},
              grain_for(cols));
        ctx.logits.accumulate(std::move(d_x));
      });
}

}  // namespace psalm::autograd
