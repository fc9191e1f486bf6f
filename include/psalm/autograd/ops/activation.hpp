// psalm/autograd/ops/activation.hpp — differentiable activations: relu, gelu (erf form,
// torch.nn.GELU()), gelu_tanh ("gelu_new", Phi-1.5), sigmoid, tanh, softplus (threshold 20,
// beta 1). Derivatives come from the functors in kernels/elementwise.hpp, evaluated in one
// expression pass. Backward accumulates. Depends on: autograd/ops/unary, kernels/elementwise.
// Test: tests/autograd/test_activation.cpp.
#pragma once

#include "psalm/autograd/ops/unary.hpp"
#include "psalm/kernels/elementwise.hpp"

namespace psalm::autograd {

/// max(x, 0); saves y: d_x = d_y where y > 0 (0 at x == 0, as torch).
template <Real T, Device Dev>
Var<T, Dev> relu(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::relu(x.value());
  return record(y, should_record(x), UnaryContext<T, Dev>{x.grad_ref(), y},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(psalm::where(c.saved > T(0), d_y, T(0))));
                });
}

/// x * Phi(x) (exact erf form); saves x: d_x = d_y * (Phi(x) + x phi(x)).
template <Real T, Device Dev>
Var<T, Dev> gelu(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::gelu(x.value());
  return record(std::move(y), should_record(x), UnaryContext<T, Dev>{x.grad_ref(), x.value()},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(
                      d_y * psalm::detail::make_unary<kernels::GeluErfGrad>(c.saved)));
                });
}

/// GELU, tanh approximation ("gelu_new"); saves x.
template <Real T, Device Dev>
Var<T, Dev> gelu_tanh(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::gelu_tanh(x.value());
  return record(std::move(y), should_record(x), UnaryContext<T, Dev>{x.grad_ref(), x.value()},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(
                      d_y * psalm::detail::make_unary<kernels::GeluTanhGrad>(c.saved)));
                });
}

/// 1 / (1 + exp(-x)); saves y: d_x = d_y * y * (1 - y).
template <Real T, Device Dev>
Var<T, Dev> sigmoid(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::sigmoid(x.value());
  return record(y, should_record(x), UnaryContext<T, Dev>{x.grad_ref(), y},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(d_y * c.saved * (T(1) - c.saved)));
                });
}

/// tanh(x); saves y: d_x = d_y * (1 - y^2).
template <Real T, Device Dev>
Var<T, Dev> tanh(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::tanh(x.value());
  return record(y, should_record(x), UnaryContext<T, Dev>{x.grad_ref(), y},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(d_y * (T(1) - c.saved * c.saved)));
                });
}

/// log(1 + exp(x)), linear above 20; saves x: d_x = d_y * sigmoid(x) (d_y above 20).
template <Real T, Device Dev>
Var<T, Dev> softplus(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::softplus(x.value());
  return record(std::move(y), should_record(x), UnaryContext<T, Dev>{x.grad_ref(), x.value()},
                [](UnaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(Tensor<T, Dev>(
                      psalm::where(c.saved > T(20), d_y, d_y * psalm::sigmoid(c.saved))));
                });
}

}  // namespace psalm::autograd
