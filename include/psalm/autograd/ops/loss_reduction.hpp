// psalm/autograd/ops/loss_reduction.hpp — the reduction shared by the fused losses (none, mean,
// sum, as PyTorch's `reduction=`) and the bookkeeping their backward bodies need: one upstream
// gradient (stride 0) for a reduced loss, one per element (stride 1) otherwise.
// Depends on: tensor/reduce. Test: tests/autograd/test_cross_entropy.cpp,
// tests/autograd/test_bce.cpp, tests/autograd/test_focal.cpp, tests/autograd/test_dice.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/var.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::autograd {

/// How a loss combines its per-element (or per-row) values.
enum class Reduction { none, mean, sum };

namespace detail {

/// reduction none: `loss` itself; sum: its total (rank 0); mean: its total / `divisor`.
template <Real T, Device Dev>
Tensor<T, Dev> reduce_loss(const Tensor<T, Dev>& loss, Reduction reduction, double divisor) {
  if (reduction == Reduction::none) return loss;
  const Tensor<T, Dev> total = psalm::sum(loss);  // ()
  if (reduction == Reduction::sum) return total;
  return Tensor<T, Dev>(total / static_cast<T>(divisor));
}

/// The upstream gradient as the backward bodies read it: contiguous, with its stride (0 when
/// the loss was reduced to one value) and the factor d(reduced)/d(element) (1 / divisor for
/// mean, 1 otherwise).
template <Real T, Device Dev>
struct LossGrad {
  Tensor<T, Dev> d;
  std::int64_t stride;
  double factor;
};

template <Real T, Device Dev>
LossGrad<T, Dev> loss_grad(const Tensor<T, Dev>& d_out, Reduction reduction, double divisor) {
  if (reduction == Reduction::none) return {d_out.contiguous(), 1, 1.0};
  return {d_out.contiguous(), 0, reduction == Reduction::mean ? 1.0 / divisor : 1.0};
}

}  // namespace detail
}  // namespace psalm::autograd
