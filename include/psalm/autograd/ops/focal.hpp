// psalm/autograd/ops/focal.hpp — fused sigmoid focal loss (torchvision.ops.sigmoid_focal_loss,
// as Mask2Former / DETR use it): alpha-balanced, (1 - p_t)^gamma-modulated binary
// cross-entropy with logits. One elementwise kernel forward, one backward (recomputed from
// logits and targets). Backward accumulates.
// Depends on: autograd/tape, autograd/ops/loss_reduction, kernels/losses. Test:
// tests/autograd/test_focal.cpp.
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/autograd/ops/loss_reduction.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/losses.hpp"

namespace psalm::autograd {

/// Options of sigmoid_focal_loss, torchvision's defaults.
struct FocalOptions {
  double alpha = 0.25;  ///< weight of the positives in [0, 1]; negative: no weighting
  double gamma = 2.0;   ///< focusing exponent, >= 0
  Reduction reduction = Reduction::none;
};

/// Context of sigmoid_focal_loss: logits and targets, contiguous.
template <Real T, Device Dev>
struct FocalContext {
  GradRef<T, Dev> logits;
  Tensor<T, Dev> x, y;
  FocalOptions opt;
  double divisor;
};

/// a_t (1 - p_t)^gamma bce_with_logits(x, y) per element (reduced as opt.reduction); x of any
/// shape, target of the same shape with values in [0, 1].
template <Real T, Device Dev>
Var<T, Dev> sigmoid_focal_loss(const Var<T, Dev>& logits, const Tensor<T, Dev>& target,
                               const FocalOptions& opt = {}) {
  PSALM_CHECK(target.shape() == logits.shape(), "sigmoid_focal_loss: target of shape ",
              target.shape(), " differs from the logits' shape ", logits.shape());
  PSALM_CHECK(opt.alpha <= 1.0 && std::isfinite(opt.alpha),
              "sigmoid_focal_loss: alpha must be <= 1 (negative disables it), got ", opt.alpha);
  PSALM_CHECK(opt.gamma >= 0.0 && std::isfinite(opt.gamma),
              "sigmoid_focal_loss: gamma must be finite and >= 0, got ", opt.gamma);
  const Tensor<T, Dev> x = logits.value().contiguous(), y = target.contiguous();
  const std::int64_t n = x.numel();
  Tensor<T, Dev> loss(x.shape());
  if (n > 0)
    Executor<Dev>::launch(
        n, psalm::kernels::SigmoidFocal<T>{x.data(), y.data(), loss.data(), opt.alpha, opt.gamma});
  const double divisor = static_cast<double>(n);
  Tensor<T, Dev> out = detail::reduce_loss(loss, opt.reduction, divisor);
  return record(std::move(out), should_record(logits),
                FocalContext<T, Dev>{logits.grad_ref(), x, y, opt, divisor},
                [](FocalContext<T, Dev>& c, const Tensor<T, Dev>& d_out) {
                  const auto g = detail::loss_grad(d_out, c.opt.reduction, c.divisor);
                  Tensor<T, Dev> d_x(c.x.shape());
                  if (c.x.numel() > 0)
                    Executor<Dev>::launch(
                        c.x.numel(), psalm::kernels::SigmoidFocalBackward<T>{
                                         c.x.data(), c.y.data(), g.d.data(), d_x.data(), g.stride,
                                         g.factor, c.opt.alpha, c.opt.gamma});
                  c.logits.accumulate(std::move(d_x));
                });
}

}  // namespace psalm::autograd
