// psalm/autograd/ops/arithmetic.hpp — differentiable +, -, *, / with NumPy broadcasting
// (gradients summed back over broadcast axes by sum_to_shape), with a scalar on either side,
// and negation. Backward accumulates into the inputs' gradients.
// Depends on: autograd/tape, autograd/reduce_broadcast. Test: tests/autograd/test_arithmetic.cpp.
#pragma once

#include <type_traits>

#include "psalm/autograd/reduce_broadcast.hpp"
#include "psalm/autograd/tape.hpp"

namespace psalm::autograd {

template <class S>
concept Number = std::is_arithmetic_v<S>;

/// Context of add / sub: the input shapes (in the slots) are all the backward needs.
template <Real T, Device Dev>
struct AddContext {
  GradRef<T, Dev> a, b;
  T sign_b;  // +1 for add, -1 for sub
};

/// Context of mul / div: each input's value is saved only when the other needs a gradient.
template <Real T, Device Dev>
struct MulContext {
  GradRef<T, Dev> a, b;
  Tensor<T, Dev> a_value;  // saved when b needs a gradient
  Tensor<T, Dev> b_value;  // saved when a needs a gradient (always for div)
};

/// Context of the ops with one tensor input and a scalar: the scalar.
template <Real T, Device Dev>
struct ScaleContext {
  GradRef<T, Dev> x;
  T scale;
};

namespace detail {

template <Real T, Device Dev>
Var<T, Dev> add_sub(const Var<T, Dev>& a, const Var<T, Dev>& b, T sign_b) {
  Tensor<T, Dev> y = sign_b > 0 ? Tensor<T, Dev>(a.value() + b.value())
                                : Tensor<T, Dev>(a.value() - b.value());  // broadcast shape
  return record(std::move(y), should_record(a, b),
                AddContext<T, Dev>{a.grad_ref(), b.grad_ref(), sign_b},
                [](AddContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  if (c.a.needed()) c.a.accumulate(sum_to_shape(d_y, c.a.shape()));
                  if (c.b.needed()) {
                    Tensor<T, Dev> d_b = sum_to_shape(d_y, c.b.shape());
                    c.b.accumulate(c.sign_b > 0 ? d_b : Tensor<T, Dev>(-d_b));
                  }
                });
}

// y = scale * x + shift (x + s, x - s, s - x, x * s, x / s all reduce to this).
template <Real T, Device Dev>
Var<T, Dev> affine(const Var<T, Dev>& x, T scale, T shift) {
  Tensor<T, Dev> y = x.value() * scale + shift;
  return record(std::move(y), should_record(x), ScaleContext<T, Dev>{x.grad_ref(), scale},
                [](ScaleContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(c.scale == T(1) ? d_y : Tensor<T, Dev>(d_y * c.scale));
                });
}

}  // namespace detail

/// a + b (broadcasting).
template <Real T, Device Dev>
Var<T, Dev> add(const Var<T, Dev>& a, const Var<T, Dev>& b) {
  return detail::add_sub(a, b, T(1));
}
/// a - b (broadcasting).
template <Real T, Device Dev>
Var<T, Dev> sub(const Var<T, Dev>& a, const Var<T, Dev>& b) {
  return detail::add_sub(a, b, T(-1));
}

/// a * b (broadcasting): d_a = d_y * b, d_b = d_y * a, each summed to its input's shape.
template <Real T, Device Dev>
Var<T, Dev> mul(const Var<T, Dev>& a, const Var<T, Dev>& b) {
  Tensor<T, Dev> y = a.value() * b.value();
  MulContext<T, Dev> ctx{a.grad_ref(), b.grad_ref(), {}, {}};
  if (b.requires_grad()) ctx.a_value = a.value();
  if (a.requires_grad()) ctx.b_value = b.value();
  return record(std::move(y), should_record(a, b), std::move(ctx),
                [](MulContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  if (c.a.needed())
                    c.a.accumulate(sum_to_shape(Tensor<T, Dev>(d_y * c.b_value), c.a.shape()));
                  if (c.b.needed())
                    c.b.accumulate(sum_to_shape(Tensor<T, Dev>(d_y * c.a_value), c.b.shape()));
                });
}

/// a / b (broadcasting): d_a = d_y / b, d_b = -d_y * a / b^2.
template <Real T, Device Dev>
Var<T, Dev> div(const Var<T, Dev>& a, const Var<T, Dev>& b) {
  Tensor<T, Dev> y = a.value() / b.value();
  MulContext<T, Dev> ctx{a.grad_ref(), b.grad_ref(), {}, b.value()};
  if (b.requires_grad()) ctx.a_value = a.value();
  return record(std::move(y), should_record(a, b), std::move(ctx),
                [](MulContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  if (c.a.needed())
                    c.a.accumulate(sum_to_shape(Tensor<T, Dev>(d_y / c.b_value), c.a.shape()));
                  if (c.b.needed())
                    c.b.accumulate(sum_to_shape(
                        Tensor<T, Dev>(-d_y * c.a_value / (c.b_value * c.b_value)), c.b.shape()));
                });
}

/// -x.
template <Real T, Device Dev>
Var<T, Dev> neg(const Var<T, Dev>& x) {
  return detail::affine(x, T(-1), T(0));
}

/// x * s, x / s, x + s, x - s, s - x (scalars take the Var's element type).
template <Real T, Device Dev>
Var<T, Dev> scale(const Var<T, Dev>& x, double s) {
  return detail::affine(x, static_cast<T>(s), T(0));
}
template <Real T, Device Dev>
Var<T, Dev> add_scalar(const Var<T, Dev>& x, double s) {
  return detail::affine(x, T(1), static_cast<T>(s));
}

/// s / x: d_x = -d_y * s / x^2.
template <Real T, Device Dev>
Var<T, Dev> reciprocal_scaled(const Var<T, Dev>& x, double s) {
  Tensor<T, Dev> y = static_cast<T>(s) / x.value();
  MulContext<T, Dev> ctx{x.grad_ref(), {}, {}, x.value()};
  return record(
      std::move(y), should_record(x), std::move(ctx),
      [s](MulContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
        c.a.accumulate(Tensor<T, Dev>(-d_y * static_cast<T>(s) / (c.b_value * c.b_value)));
      });
}

template <Real T, Device Dev>
Var<T, Dev> operator+(const Var<T, Dev>& a, const Var<T, Dev>& b) {
  return add(a, b);
}
template <Real T, Device Dev>
Var<T, Dev> operator-(const Var<T, Dev>& a, const Var<T, Dev>& b) {
  return sub(a, b);
}
template <Real T, Device Dev>
Var<T, Dev> operator*(const Var<T, Dev>& a, const Var<T, Dev>& b) {
  return mul(a, b);
}
template <Real T, Device Dev>
Var<T, Dev> operator/(const Var<T, Dev>& a, const Var<T, Dev>& b) {
  return div(a, b);
}
template <Real T, Device Dev>
Var<T, Dev> operator-(const Var<T, Dev>& x) {
  return neg(x);
}

template <Real T, Device Dev, Number S>
Var<T, Dev> operator+(const Var<T, Dev>& x, S s) {
  return add_scalar(x, static_cast<double>(s));
}
template <Real T, Device Dev, Number S>
Var<T, Dev> operator+(S s, const Var<T, Dev>& x) {
  return add_scalar(x, static_cast<double>(s));
}
template <Real T, Device Dev, Number S>
Var<T, Dev> operator-(const Var<T, Dev>& x, S s) {
  return add_scalar(x, -static_cast<double>(s));
}
template <Real T, Device Dev, Number S>
Var<T, Dev> operator-(S s, const Var<T, Dev>& x) {
  return detail::affine(x, T(-1), static_cast<T>(s));
}
template <Real T, Device Dev, Number S>
Var<T, Dev> operator*(const Var<T, Dev>& x, S s) {
  return scale(x, static_cast<double>(s));
}
template <Real T, Device Dev, Number S>
Var<T, Dev> operator*(S s, const Var<T, Dev>& x) {
  return scale(x, static_cast<double>(s));
}
template <Real T, Device Dev, Number S>
Var<T, Dev> operator/(const Var<T, Dev>& x, S s) {
  return scale(x, 1.0 / static_cast<double>(s));
}
template <Real T, Device Dev, Number S>
Var<T, Dev> operator/(S s, const Var<T, Dev>& x) {
  return reciprocal_scaled(x, static_cast<double>(s));
}

}  // namespace psalm::autograd
