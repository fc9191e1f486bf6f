// psalm/autograd/ops/linear.hpp — differentiable fully connected layer, y = x W^T + b with
// the weight stored [out, in] as torch.nn.Linear. Leading axes of x are flattened into rows
// (a view when x allows it), so forward and each gradient is one GEMM; the bias gradient is a
// column sum. Backward accumulates. linear_bf16_weight is the inference form for a weight kept
// in bf16 (nn::Linear::keep_weight_in_bf16): half the memory, bf16 GEMM kernels where the CPU
// has them, f32 accumulation. Depends on: autograd/tape, tensor/matmul, tensor/reduce.
// Test: tests/autograd/test_linear.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/tape.hpp"
#include "psalm/tensor/matmul.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::autograd {

/// Context of linear: x as rows (N, in) when W needs a gradient, W when x needs one.
template <Real T, Device Dev>
struct LinearContext {
  GradRef<T, Dev> x, weight, bias;
  Tensor<T, Dev> x_rows;        // (N, in)
  Tensor<T, Dev> weight_value;  // (out, in)
};

/// x (..., in), weight (out, in), bias (out) or an undefined Var for none -> (..., out).
template <Real T, Device Dev>
Var<T, Dev> linear(const Var<T, Dev>& x, const Var<T, Dev>& weight, const Var<T, Dev>& bias = {}) {
  PSALM_CHECK(weight.rank() == 2, "linear: weight must be (out, in), got ", weight.shape());
  PSALM_CHECK(x.rank() >= 1 && x.size(-1) == weight.size(1), "linear: input of shape ", x.shape(),
              " does not end in in_features = ", weight.size(1));
  const std::int64_t in = weight.size(1), out = weight.size(0);
  PSALM_CHECK(!bias.defined() || (bias.rank() == 1 && bias.size(0) == out),
              "linear: bias must be (", out, "), got ", bias.shape());
  const Tensor<T, Dev> x_rows = x.value().reshape({-1, in});                        // (N, in)
  Tensor<T, Dev> y = psalm::matmul(x_rows, weight.value(), {.transpose_b = true});  // (N, out)
  if (bias.defined()) y.assign(y + bias.value());
  std::vector<std::int64_t> extents(x.shape().dims().v.begin(),
                                    x.shape().dims().v.begin() + x.rank());
  extents.back() = out;
  y = y.view(extents);  // (..., out)
  LinearContext<T, Dev> ctx{x.grad_ref(),
                            weight.grad_ref(),
                            bias.grad_ref(),  // empty for an undefined bias
                            {},
                            {}};
  if (weight.requires_grad()) ctx.x_rows = x_rows;
  if (x.requires_grad()) ctx.weight_value = weight.value();
  const bool recording = bias.defined() ? should_record(x, weight, bias) : should_record(x, weight);
  return record(std::move(y), recording, std::move(ctx),
                [](LinearContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  const std::int64_t out_features = d_y.size(-1);
                  const Tensor<T, Dev> d_rows = d_y.reshape({-1, out_features});  // (N, out)
                  if (c.x.needed()) {
                    Tensor<T, Dev> d_x = psalm::matmul(d_rows, c.weight_value);  // (N, in)
                    std::vector<std::int64_t> ext(
                        c.x.shape().dims().v.begin(),
                        c.x.shape().dims().v.begin() + c.x.shape().rank());
                    c.x.accumulate(d_x.view(ext));
                  }
                  if (c.weight.needed())  // (N, out)^T @ (N, in) -> (out, in)
                    c.weight.accumulate(psalm::matmul(d_rows, c.x_rows, {.transpose_a = true}));
                  if (c.bias.needed()) c.bias.accumulate(psalm::sum(d_rows, 0));
                });
}

/// x (..., in) against a weight kept in bf16, (out, in), and an optional bias (out) -> (..., out)
/// in float. x is rounded to bf16 and the products accumulate in float (psalm::matmul's bf16
/// contract); the bias is added in float. Inference only: the weight has no gradient, so an x
/// that would need one (grad mode on and x.requires_grad()) is an error, as is a bias that
/// requires a gradient.
template <Device Dev>
Var<float, Dev> linear_bf16_weight(const Var<float, Dev>& x, const Tensor<bf16, Dev>& weight,
                                   const Var<float, Dev>& bias = {}) {
  PSALM_CHECK(weight.rank() == 2, "linear: weight must be (out, in), got ", weight.shape());
  PSALM_CHECK(x.rank() >= 1 && x.size(-1) == weight.size(1), "linear: input of shape ", x.shape(),
              " does not end in in_features = ", weight.size(1));
  const std::int64_t in = weight.size(1), out = weight.size(0);
  PSALM_CHECK(!bias.defined() || (bias.rank() == 1 && bias.size(0) == out),
              "linear: bias must be (", out, "), got ", bias.shape());
  PSALM_CHECK(!should_record(x) && !(bias.defined() && should_record(bias)),
              "linear: a layer whose weight is kept in bf16 runs inference only (it has no "
              "gradient); call it under autograd::NoGrad or with inputs that need none");
  const Tensor<bf16, Dev> x_rows = cast<bf16>(x.value().reshape({-1, in}));     // (N, in)
  Tensor<float, Dev> y = psalm::matmul(x_rows, weight, {.transpose_b = true});  // (N, out)
  if (bias.defined()) y.assign(y + bias.value());
  std::vector<std::int64_t> extents(x.shape().dims().v.begin(),
                                    x.shape().dims().v.begin() + x.rank());
  extents.back() = out;
  return Var<float, Dev>(y.view(extents));  // (..., out)
}

}  // namespace psalm::autograd
