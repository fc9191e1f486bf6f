// psalm/autograd/ops/matmul.hpp — differentiable matrix product, plain or batched:
// a (..., m, k) @ b (..., k, n) with equal batch axes, or one operand 2-D and broadcast over
// the other's batch. Forward and both gradients are single (batched) GEMMs through
// tensor/matmul.hpp with transpose flags, never explicit transposes. Backward accumulates.
// Depends on: autograd/tape, autograd/reduce_broadcast, tensor/matmul.
// Test: tests/autograd/test_matmul.cpp.
#pragma once

#include "psalm/autograd/reduce_broadcast.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/tensor/matmul.hpp"

namespace psalm::autograd {

/// Context of matmul: each operand is saved only when the other needs a gradient.
template <Real T, Device Dev>
struct MatmulContext {
  GradRef<T, Dev> a, b;
  Tensor<T, Dev> a_value;  // (..., m, k), saved when b needs a gradient
  Tensor<T, Dev> b_value;  // (..., k, n), saved when a needs a gradient
};

/// a @ b. d_a = d_y @ b^T, d_b = a^T @ d_y; a 2-D operand used against a batch receives the
/// sum over the batch (for b, one GEMM over the flattened batch rows).
template <Real T, Device Dev>
Var<T, Dev> matmul(const Var<T, Dev>& a, const Var<T, Dev>& b) {
  Tensor<T, Dev> y = psalm::matmul(a.value(), b.value());  // (..., m, n)
  MatmulContext<T, Dev> ctx{a.grad_ref(), b.grad_ref(), {}, {}};
  if (b.requires_grad()) ctx.a_value = a.value();
  if (a.requires_grad()) ctx.b_value = b.value();
  return record(std::move(y), should_record(a, b), std::move(ctx),
                [](MatmulContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  if (c.a.needed()) {
                    // (..., m, n) @ (..., k, n)^T -> (..., m, k)
                    Tensor<T, Dev> d_a = psalm::matmul(d_y, c.b_value, {.transpose_b = true});
                    c.a.accumulate(sum_to_shape(d_a, c.a.shape()));
                  }
                  if (c.b.needed()) {
                    const int ra = c.a_value.rank();
                    if (c.b.shape().rank() == 2 && ra > 2) {
                      // (B*m, k)^T @ (B*m, n) -> (k, n): the batch sum inside one GEMM.
                      const std::int64_t k = c.a_value.size(-1), n = d_y.size(-1);
                      c.b.accumulate(psalm::matmul(c.a_value.reshape({-1, k}), d_y.reshape({-1, n}),
                                                   {.transpose_a = true}));
                    } else {
                      Tensor<T, Dev> d_b = psalm::matmul(c.a_value, d_y, {.transpose_a = true});
                      c.b.accumulate(sum_to_shape(d_b, c.b.shape()));
                    }
                  }
                });
}

}  // namespace psalm::autograd
