// psalm/autograd/ops/unary.hpp — differentiable elementwise maths: exp, log, sqrt, rsqrt,
// pow with a scalar exponent, abs, clamp. Forward and backward are single expression passes;
// each op saves one tensor (its input or its output, whichever the derivative is cheaper
// from). Backward accumulates. Depends on: autograd/tape, tensor/expr.
// Test: tests/autograd/test_unary.cpp.
#pragma once

#include "psalm/autograd/tape.hpp"

namespace psalm::autograd {

/// Context of an elementwise op with one input: the input's slot and one saved tensor (the
/// input x or the output y; each op says which), plus up to two scalar parameters.
template <Real T, Device Dev>
struct UnaryContext {
  GradRef<T, Dev> x;
  Tensor<T, Dev> saved;
  T p0 = T(0), p1 = T(0);
};

/// exp(x); saves y: d_x = d_y * y.
template <Real T, Device Dev>
Var<T, Dev> exp(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::exp(x.value());
  return record(y, should_record(x), UnaryContext<T, Dev>{x.grad_ref(), y},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(d_y * c.saved));
                });
}

/// log(x); saves x: d_x = d_y / x.
template <Real T, Device Dev>
Var<T, Dev> log(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::log(x.value());
  return record(std::move(y), should_record(x), UnaryContext<T, Dev>{x.grad_ref(), x.value()},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(d_y / c.saved));
                });
}

/// sqrt(x); saves y: d_x = d_y * 0.5 / y.
template <Real T, Device Dev>
Var<T, Dev> sqrt(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::sqrt(x.value());
  return record(y, should_record(x), UnaryContext<T, Dev>{x.grad_ref(), y},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(d_y * T(0.5) / c.saved));
                });
}

/// 1 / sqrt(x); saves y: d_x = -0.5 * d_y * y^3.
template <Real T, Device Dev>
Var<T, Dev> rsqrt(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::rsqrt(x.value());
  return record(y, should_record(x), UnaryContext<T, Dev>{x.grad_ref(), y},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(d_y * T(-0.5) * c.saved * c.saved * c.saved));
                });
}

/// x^p for a scalar exponent p; saves x: d_x = d_y * p * x^(p-1) (0 where p == 0, as torch).
template <Real T, Device Dev>
Var<T, Dev> pow(const Var<T, Dev>& x, double p) {
  const T e = static_cast<T>(p);
  Tensor<T, Dev> y = psalm::pow(x.value(), e);
  return record(std::move(y), should_record(x),
                UnaryContext<T, Dev>{x.grad_ref(), x.value(), e, T(0)},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  if (c.p0 == T(0)) {
                    c.x.accumulate(Tensor<T, Dev>::zeros(c.x.shape()));
                    return;
                  }
                  c.x.accumulate(Tensor<T, Dev>(d_y * c.p0 * psalm::pow(c.saved, c.p0 - T(1))));
                });
}

/// |x|; saves x: d_x = d_y * sign(x) (0 at x == 0, as torch).
template <Real T, Device Dev>
Var<T, Dev> abs(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::abs(x.value());
  return record(std::move(y), should_record(x), UnaryContext<T, Dev>{x.grad_ref(), x.value()},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(
                      psalm::where(c.saved > T(0), d_y, psalm::where(c.saved < T(0), -d_y, T(0)))));
                });
}

/// x clamped into [lo, hi]; saves x: d_x = d_y where lo <= x <= hi, else 0 (as torch.clamp).
template <Real T, Device Dev>
Var<T, Dev> clamp(const Var<T, Dev>& x, double lo, double hi) {
  PSALM_CHECK(lo <= hi, "clamp: lo ", lo, " is greater than hi ", hi);
  Tensor<T, Dev> y = psalm::clamp(x.value(), lo, hi);
  return record(
      std::move(y), should_record(x),
      UnaryContext<T, Dev>{x.grad_ref(), x.value(), static_cast<T>(lo), static_cast<T>(hi)},
      [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
        c.x.accumulate(Tensor<T, Dev>(
            psalm::where(c.saved < c.p0, T(0), psalm::where(c.saved > c.p1, T(0), d_y))));
      });
}

}  // namespace psalm::autograd
