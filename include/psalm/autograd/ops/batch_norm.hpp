// psalm/autograd/ops/batch_norm.hpp — differentiable batch normalisation of NCHW maps
// (torch.nn.functional.batch_norm on (N, C, H, W)). Training mode normalises with the batch
// statistics of each channel (one row of kernels/layer_norm.hpp per channel) and updates the
// running statistics in place as PyTorch does (momentum, unbiased variance); eval mode
// normalises with the running statistics. Backward accumulates.
// Depends on: autograd/tape, kernels/layer_norm, tensor/reduce.
// Test: tests/autograd/test_batch_norm.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/channel_affine.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/layer_norm.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::autograd {

// Letters: N batch, C channels, S = H W positions, M = N S elements per channel.

/// Options of batch_norm2d, as torch.nn.BatchNorm2d.
struct BatchNormOptions {
  bool training = true;   ///< batch statistics (true) or running statistics (false)
  double momentum = 0.1;  ///< running = (1 - momentum) running + momentum batch
  double eps = 1e-5;
};

/// Context of batch_norm2d: the input as channel rows and the statistics it was normalised
/// with (the batch's in training, the running ones in eval).
template <Real T, Device Dev>
struct BatchNormContext {
  GradRef<T, Dev> x, weight, bias;
  Tensor<T, Dev> x_rows;        // (C, M) contiguous
  Tensor<T, Dev> weight_value;  // (C), only when x needs a gradient and there is a weight
  Tensor<T, Dev> mean, rstd;    // (C, 1)
  std::int64_t batch, positions;
  bool training;
};

/// x (N, C, H, W); weight, bias (C) or undefined Vars for none; running_mean, running_var (C)
/// buffers, updated in place in training mode (either may be undefined there: no tracking)
/// and required in eval mode.
template <Real T, Device Dev>
Var<T, Dev> batch_norm2d(const Var<T, Dev>& x, const Var<T, Dev>& weight, const Var<T, Dev>& bias,
                         Tensor<T, Dev> running_mean, Tensor<T, Dev> running_var,
                         const BatchNormOptions& opt = {}) {
  static_assert(std::is_same_v<psalm::kernels::layer_norm_stat_t<T>, T>);
  PSALM_CHECK(x.rank() == 4, "batch_norm2d: input must be (N, C, H, W), got ", x.shape());
  const std::int64_t n = x.size(0), c = x.size(1), s = x.size(2) * x.size(3), m = n * s;
  for (const Var<T, Dev>* p : {&weight, &bias})
    PSALM_CHECK(!p->defined() || (p->rank() == 1 && p->size(0) == c),
                "batch_norm2d: weight and bias must be (", c, "), got ", p->shape());
  for (const Tensor<T, Dev>* p : {&running_mean, &running_var})
    PSALM_CHECK(!p->defined() || (p->rank() == 1 && p->size(0) == c),
                "batch_norm2d: running statistics must be (", c, "), got ", p->shape());
  PSALM_CHECK(opt.training || (running_mean.defined() && running_var.defined()),
              "batch_norm2d: eval mode needs running_mean and running_var");
  PSALM_CHECK(!opt.training || m > 1, "batch_norm2d: training needs more than one value per ",
              "channel, got input ", x.shape());
  const Tensor<T, Dev> x_rows =  // (C, M)
      x.value().reshape({n, c, s}).permute({1, 0, 2}).contiguous().view({c, m});
  Tensor<T, Dev> mean(Shape{c, 1}), rstd(Shape{c, 1});  // (C, 1)
  Tensor<T, Dev> xhat(Shape{c, m});                     // (C, M)
  if (opt.training) {
    if (c > 0)
      Executor<Dev>::launch(
          c,
          psalm::kernels::LayerNormRows<T>{x_rows.data(), nullptr, nullptr, xhat.data(),
                                           mean.data(), rstd.data(), m, opt.eps},
          grain_for(m));
    const T mom = static_cast<T>(opt.momentum);
    if (running_mean.defined())
      running_mean.assign(running_mean * (T(1) - mom) + mean.view({c}) * mom);
    if (running_var.defined()) {  // unbiased batch variance, as PyTorch
      const Tensor<T, Dev> dev = x_rows - mean;
      const Tensor<T, Dev> var = psalm::sum(Tensor<T, Dev>(dev * dev), 1);  // (C)
      running_var.assign(running_var * (T(1) - mom) + var * (mom / static_cast<T>(m - 1)));
    }
  } else {
    mean.view({c}).assign(running_mean);
    rstd.view({c}).assign(psalm::rsqrt(running_var + static_cast<T>(opt.eps)));
    xhat.assign((x_rows - mean) * rstd);
  }
  Tensor<T, Dev> y(x.shape());
  Tensor<T, Dev> y3 = y.view({n, c, s});                                 // (N, C, S)
  const Tensor<T, Dev> xhat3 = xhat.view({c, n, s}).permute({1, 0, 2});  // (N, C, S)
  detail::assign_channel_affine(y3, xhat3, weight, bias, c);
  const bool recording = should_record(x, weight, bias);
  BatchNormContext<T, Dev> ctx{
      x.grad_ref(),
      weight.grad_ref(),
      bias.grad_ref(),
      x_rows,
      weight.defined() && x.requires_grad() ? weight.value() : Tensor<T, Dev>(),
      mean,
      rstd,
      n,
      s,
      opt.training};
  return record(
      std::move(y), recording, std::move(ctx),
      [](BatchNormContext<T, Dev>& k, const Tensor<T, Dev>& d_y) {
        const std::int64_t c = k.x_rows.size(0), m = k.x_rows.size(1);
        const Tensor<T, Dev> g =  // (C, M)
            d_y.reshape({k.batch, c, k.positions}).permute({1, 0, 2}).contiguous().view({c, m});
        if (k.x.needed()) {
          const Tensor<T, Dev> d_xhat =  // (C, M)
              k.weight_value.defined() ? Tensor<T, Dev>(g * k.weight_value.view({c, 1})) : g;
          Tensor<T, Dev> d_rows(Shape{c, m});
          if (!k.training)
            d_rows.assign(d_xhat * k.rstd);
          else if (c > 0)
            Executor<Dev>::launch(c,
                                  psalm::kernels::LayerNormRowsBackward<T>{
                                      k.x_rows.data(), nullptr, d_xhat.data(), k.mean.data(),
                                      k.rstd.data(), d_rows.data(), m},
                                  grain_for(m));
          const Shape& xs = k.x.shape();
          k.x.accumulate(d_rows.view({c, k.batch, k.positions})
                             .permute({1, 0, 2})
                             .contiguous()
                             .view({xs[0], xs[1], xs[2], xs[3]}));
        }
        if (k.weight.needed())  // sum over M of d_y * xhat
          k.weight.accumulate(psalm::sum(Tensor<T, Dev>(g * ((k.x_rows - k.mean) * k.rstd)), 1));
        if (k.bias.needed()) k.bias.accumulate(psalm::sum(g, 1));
      });
}

}  // namespace psalm::autograd
