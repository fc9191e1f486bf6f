// psalm/autograd/ops/bce.hpp — fused binary cross-entropy with logits
// (torch.nn.functional.binary_cross_entropy_with_logits) with pos_weight, in PyTorch's
// overflow-free form. One elementwise kernel forward, one backward (recomputed from the saved
// logits and targets). Backward accumulates.
// Depends on: autograd/tape, autograd/ops/loss_reduction, kernels/losses. Test:
// tests/autograd/test_bce.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/loss_reduction.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/losses.hpp"

namespace psalm::autograd {

/// Options of binary_cross_entropy_with_logits.
template <Real T, Device Dev>
struct BceOptions {
  /// Weight of the positive term, broadcast to the logits (a (1) tensor for one scalar, (C) per
  /// class along the last axis); undefined for 1.
  Tensor<T, Dev> pos_weight{};
  Reduction reduction = Reduction::mean;
};

/// Context of binary_cross_entropy_with_logits: logits, targets and pos_weight, contiguous
/// and of the logits' shape.
template <Real T, Device Dev>
struct BceContext {
  GradRef<T, Dev> logits;
  Tensor<T, Dev> x, y, pos_weight;
  Reduction reduction;
  double divisor;
};

/// Mean / sum / elementwise of (1 - y) x + (1 + (pw - 1) y) log(1 + exp(-x)), x of any shape and
/// target of the same shape (soft targets allowed). d/dx = (1 - y) - (1 + (pw - 1) y) sigmoid(-x).
template <Real T, Device Dev>
Var<T, Dev> binary_cross_entropy_with_logits(const Var<T, Dev>& logits,
                                             const Tensor<T, Dev>& target,
                                             const BceOptions<T, Dev>& opt = {}) {
  PSALM_CHECK(target.shape() == logits.shape(), "binary_cross_entropy_with_logits: target of ",
              "shape ", target.shape(), " differs from the logits' shape ", logits.shape());
  Tensor<T, Dev> pw;
  if (opt.pos_weight.defined()) {
    PSALM_CHECK(broadcast_shapes(logits.shape(), opt.pos_weight.shape()) == logits.shape(),
                "binary_cross_entropy_with_logits: pos_weight of shape ", opt.pos_weight.shape(),
                " does not broadcast to the logits' shape ", logits.shape());
    pw = opt.pos_weight.expand(logits.shape()).contiguous();
  }
  const Tensor<T, Dev> x = logits.value().contiguous(), y = target.contiguous();
  const std::int64_t n = x.numel();
  Tensor<T, Dev> loss(x.shape());
  if (n > 0)
    Executor<Dev>::launch(
        n, psalm::kernels::BceWithLogits<T>{x.data(), y.data(), pw.defined() ? pw.data() : nullptr,
                                            loss.data()});
  const double divisor = static_cast<double>(n);
  Tensor<T, Dev> out = detail::reduce_loss(loss, opt.reduction, divisor);
  return record(std::move(out), should_record(logits),
                BceContext<T, Dev>{logits.grad_ref(), x, y, pw, opt.reduction, divisor},
                [](BceContext<T, Dev>& c, const Tensor<T, Dev>& d_out) {
                  const auto g = detail::loss_grad(d_out, c.reduction, c.divisor);
                  Tensor<T, Dev> d_x(c.x.shape());
                  if (c.x.numel() > 0)
                    Executor<Dev>::launch(
                        c.x.numel(), psalm::kernels::BceWithLogitsBackward<T>{
                                         c.x.data(), c.y.data(),
                                         c.pos_weight.defined() ? c.pos_weight.data() : nullptr,
                                         g.d.data(), d_x.data(), g.stride, g.factor});
                  c.logits.accumulate(std::move(d_x));
                });
}

}  // namespace psalm::autograd
