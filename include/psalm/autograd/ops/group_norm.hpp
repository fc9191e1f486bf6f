// psalm/autograd/ops/group_norm.hpp — differentiable group normalisation
// (torch.nn.functional.group_norm): x (N, C, *) split into G groups of C/G channels, each
// (sample, group) normalised over its channels and positions, then a per-channel affine. Each
// (sample, group) is one row of kernels/layer_norm.hpp (no affine there); the forward saves
// the per-row mean and 1/std. Backward accumulates.
// Depends on: autograd/tape, kernels/layer_norm, tensor/reduce.
// Test: tests/autograd/test_group_norm.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include "psalm/autograd/ops/channel_affine.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/layer_norm.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::autograd {

// Letters: N batch, C channels, S positions (product of the trailing axes), G groups,
// R = N G rows, M = (C / G) S elements per row.

/// Context of group_norm: the input as rows, the weight, and the row statistics.
template <Real T, Device Dev>
struct GroupNormContext {
  using Stat = psalm::kernels::layer_norm_stat_t<T>;
  GradRef<T, Dev> x, weight, bias;
  Tensor<T, Dev> x_rows;         // (R, M) contiguous
  Tensor<T, Dev> weight_value;   // (C), only when x needs a gradient and there is a weight
  Tensor<Stat, Dev> mean, rstd;  // (R, 1)
  std::int64_t batch, channels, positions;
};

/// x (N, C, ...), weight and bias (C) or undefined Vars for none; C divisible by groups.
template <Real T, Device Dev>
Var<T, Dev> group_norm(const Var<T, Dev>& x, std::int64_t groups, const Var<T, Dev>& weight = {},
                       const Var<T, Dev>& bias = {}, double eps = 1e-5) {
  using Stat = psalm::kernels::layer_norm_stat_t<T>;
  PSALM_CHECK(x.rank() >= 2, "group_norm: input must be (N, C, ...), got ", x.shape());
  const std::int64_t n = x.size(0), c = x.size(1);
  PSALM_CHECK(groups >= 1 && c % groups == 0, "group_norm: ", groups, " groups do not divide the ",
              c, " channels of ", x.shape());
  for (const Var<T, Dev>* p : {&weight, &bias})
    PSALM_CHECK(!p->defined() || (p->rank() == 1 && p->size(0) == c),
                "group_norm: weight and bias must be (", c, "), got ", p->shape());
  const std::int64_t s = n * c == 0 ? 0 : x.numel() / (n * c);
  const std::int64_t rows = n * groups, cols = (c / groups) * s;
  const Tensor<T, Dev> x_rows = x.value().reshape({rows, cols}).contiguous();  // (R, M)
  Tensor<T, Dev> y(x.shape());
  Tensor<Stat, Dev> mean(Shape{rows, 1}), rstd(Shape{rows, 1});
  if (rows > 0 && cols > 0)
    Executor<Dev>::launch(
        rows,
        psalm::kernels::LayerNormRows<T>{x_rows.data(), nullptr, nullptr, y.data(), mean.data(),
                                         rstd.data(), cols, eps},
        grain_for(cols));
  Tensor<T, Dev> y3 = y.view({n, c, s});  // (N, C, S)
  detail::assign_channel_affine(y3, y3, weight, bias, c);
  const bool recording = should_record(x, weight, bias);
  GroupNormContext<T, Dev> ctx{
      x.grad_ref(),
      weight.grad_ref(),
      bias.grad_ref(),
      x_rows,
      weight.defined() && x.requires_grad() ? weight.value() : Tensor<T, Dev>(),
      mean,
      rstd,
      n,
      c,
      s};
  return record(std::move(y), recording, std::move(ctx),
                [](GroupNormContext<T, Dev>& k, const Tensor<T, Dev>& d_y) {
                  const std::int64_t r = k.x_rows.size(0), m = k.x_rows.size(1);
                  const Tensor<T, Dev> g = d_y.reshape({k.batch, k.channels, k.positions});
                  if (k.x.needed()) {
                    // d_xhat = d_y * weight (per channel), then the layer-norm row backward.
                    const Tensor<T, Dev> d_xhat =
                        k.weight_value.defined()
                            ? Tensor<T, Dev>(g * k.weight_value.view({k.channels, 1}))
                            : g.contiguous();
                    Tensor<T, Dev> d_x(k.x.shape());
                    if (r > 0 && m > 0)
                      Executor<Dev>::launch(r,
                                            psalm::kernels::LayerNormRowsBackward<T>{
                                                k.x_rows.data(), nullptr, d_xhat.data(),
                                                k.mean.data(), k.rstd.data(), d_x.data(), m},
                                            grain_for(m));
                    k.x.accumulate(std::move(d_x));
                  }
                  if (k.weight.needed()) {  // sum over N and S of d_y * xhat
                    const Tensor<T, Dev> xhat = (k.x_rows - k.mean) * k.rstd;  // (R, M)
                    const Tensor<T, Dev> prod =
                        g * xhat.view({k.batch, k.channels, k.positions});  // (N, C, S)
                    k.weight.accumulate(psalm::sum(psalm::sum(prod, 2), 0));
                  }
                  if (k.bias.needed()) k.bias.accumulate(psalm::sum(psalm::sum(g, 2), 0));
                });
}

}  // namespace psalm::autograd
