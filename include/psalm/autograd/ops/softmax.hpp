// psalm/autograd/ops/softmax.hpp — differentiable softmax and log_softmax over the last axis,
// with an optional additive mask (a constant tensor broadcast to the input, e.g. -inf on
// disallowed attention positions). Rows run through kernels/softmax.hpp forward and backward;
// the context saves the output only. Backward accumulates.
// Depends on: autograd/tape, kernels/softmax. Test: tests/autograd/test_softmax.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/softmax.hpp"

namespace psalm::autograd {

/// Context of softmax / log_softmax: the output y, contiguous (rows, cols).
template <Real T, Device Dev>
struct SoftmaxContext {
  GradRef<T, Dev> x;
  Tensor<T, Dev> y;
  bool log;
};

namespace detail {

template <Real T, Device Dev>
Var<T, Dev> softmax_impl(const Var<T, Dev>& x, const Tensor<T, Dev>& mask, bool log) {
  PSALM_CHECK(x.rank() >= 1, "softmax: needs at least one axis, got shape ", x.shape());
  const std::int64_t cols = x.size(-1);
  const std::int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  Tensor<T, Dev> src = x.value().contiguous();  // (rows, cols)
  Tensor<T, Dev> mask_rows;                     // (period, cols) when the fast path applies
  std::int64_t period = 1;
  if (mask.defined()) {
    PSALM_CHECK(broadcast_shapes(x.shape(), mask.shape()) == x.shape(), "softmax: mask of shape ",
                mask.shape(), " does not broadcast to the input shape ", x.shape());
    // Fast path: the mask equals the trailing axes of x, so row r uses mask row r % period.
    bool trailing = mask.rank() >= 1;
    for (int d = 1; trailing && d <= mask.rank(); ++d)
      trailing = mask.shape()[mask.rank() - d] == x.shape()[x.rank() - d];
    if (trailing) {
      mask_rows = mask.contiguous();
      period = cols == 0 ? 1 : mask.numel() / cols;
    } else {
      src = Tensor<T, Dev>(x.value() + mask);  // (rows, cols), mask broadcast
    }
  }
  Tensor<T, Dev> y(x.shape());
  if (rows > 0)
    Executor<Dev>::launch(rows,
                          psalm::kernels::SoftmaxRows<T>{
                              src.data(), y.data(),
                              mask_rows.defined() ? mask_rows.data() : nullptr, cols, period, log},
                          grain_for(cols));
  return record(y, should_record(x), SoftmaxContext<T, Dev>{x.grad_ref(), y, log},
                [](SoftmaxContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  const std::int64_t n = c.y.numel(), w = c.y.shape().rank() ? c.y.size(-1) : 1;
                  const Tensor<T, Dev> g = d_y.contiguous();
                  Tensor<T, Dev> d_x(c.y.shape());
                  if (n > 0)
                    Executor<Dev>::launch(n / w,
                                          psalm::kernels::SoftmaxRowsBackward<T>{
                                              c.y.data(), g.data(), d_x.data(), w, c.log},
                                          grain_for(w));
                  c.x.accumulate(std::move(d_x));
                });
}

}  // namespace detail

/// softmax(x + mask) over the last axis. `mask` (optional) is a constant additive mask that
/// broadcasts to x's shape; rows masked everywhere give zeros.
template <Real T, Device Dev>
Var<T, Dev> softmax(const Var<T, Dev>& x, const Tensor<T, Dev>& mask = {}) {
  return detail::softmax_impl(x, mask, false);
}

/// log_softmax(x + mask) over the last axis.
template <Real T, Device Dev>
Var<T, Dev> log_softmax(const Var<T, Dev>& x, const Tensor<T, Dev>& mask = {}) {
  return detail::softmax_impl(x, mask, true);
}

}  // namespace psalm::autograd
