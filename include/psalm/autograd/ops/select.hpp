// psalm/autograd/ops/select.hpp — differentiable choice by a constant condition:
// where(cond, a, b) with broadcasting, and masked_fill(x, mask, value). The condition is a
// tensor of any element type (non-zero is true) and is saved as the only context; each
// branch receives d_y where it was chosen, summed back to its shape. Backward accumulates.
// Depends on: autograd/tape, autograd/reduce_broadcast. Test: tests/autograd/test_select.cpp.
#pragma once

#include "psalm/autograd/reduce_broadcast.hpp"
#include "psalm/autograd/tape.hpp"

namespace psalm::autograd {

/// Context of where / masked_fill: the condition (broadcast to the output by expressions).
template <Real T, Device Dev, Scalar C>
struct WhereContext {
  GradRef<T, Dev> a, b;
  Tensor<C, Dev> cond;
};

/// cond ? a : b elementwise, broadcasting all three.
template <Real T, Device Dev, Scalar C>
Var<T, Dev> where(const Tensor<C, Dev>& cond, const Var<T, Dev>& a, const Var<T, Dev>& b) {
  Tensor<T, Dev> y = psalm::where(cond, a.value(), b.value());
  return record(std::move(y), should_record(a, b),
                WhereContext<T, Dev, C>{a.grad_ref(), b.grad_ref(), cond},
                [](WhereContext<T, Dev, C>& c, const Tensor<T, Dev>& d_y) {
                  if (c.a.needed())
                    c.a.accumulate(
                        sum_to_shape(Tensor<T, Dev>(psalm::where(c.cond, d_y, T(0))), c.a.shape()));
                  if (c.b.needed())
                    c.b.accumulate(
                        sum_to_shape(Tensor<T, Dev>(psalm::where(c.cond, T(0), d_y)), c.b.shape()));
                });
}

/// x with `value` wherever mask is non-zero; mask broadcasts to x's shape.
template <Real T, Device Dev, Scalar C>
Var<T, Dev> masked_fill(const Var<T, Dev>& x, const Tensor<C, Dev>& mask, double value) {
  PSALM_CHECK(broadcast_shapes(x.shape(), mask.shape()) == x.shape(), "masked_fill: mask of shape ",
              mask.shape(), " does not broadcast to ", x.shape());
  Tensor<T, Dev> y = psalm::where(mask, static_cast<T>(value), x.value());
  return record(std::move(y), should_record(x), WhereContext<T, Dev, C>{{}, x.grad_ref(), mask},
                [](WhereContext<T, Dev, C>& c, const Tensor<T, Dev>& d_y) {
                  c.b.accumulate(Tensor<T, Dev>(psalm::where(c.cond, T(0), d_y)));
                });
}

}  // namespace psalm::autograd
