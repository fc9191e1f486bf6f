// psalm/autograd/ops/layer_norm.hpp — differentiable layer normalisation over the last axis
// (torch.nn.functional.layer_norm with normalized_shape = (C,)), optional weight and bias.
// Rows run through kernels/layer_norm.hpp; the forward saves the per-row mean and 1/std as
// llm.c does, so the backward needs no second statistics pass; the weight / bias gradients
// are one fused pass over column blocks. Backward accumulates.
// Depends on: autograd/tape, kernels/layer_norm.
// Test: tests/autograd/test_layer_norm.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/layer_norm.hpp"

namespace psalm::autograd {

/// Context of layer_norm. Letters: R rows (all leading axes), C the normalised axis.
template <Real T, Device Dev>
struct LayerNormContext {
  using Stat = psalm::kernels::layer_norm_stat_t<T>;
  GradRef<T, Dev> x, weight, bias;
  Tensor<T, Dev> x_rows;         // (R, C) contiguous
  Tensor<T, Dev> weight_value;   // (C), undefined without weight
  Tensor<Stat, Dev> mean, rstd;  // (R, 1)
};

/// x (..., C); weight, bias (C) or undefined Vars for none.
template <Real T, Device Dev>
Var<T, Dev> layer_norm(const Var<T, Dev>& x, const Var<T, Dev>& weight = {},
                       const Var<T, Dev>& bias = {}, double eps = 1e-5) {
  using Stat = psalm::kernels::layer_norm_stat_t<T>;
  PSALM_CHECK(x.rank() >= 1, "layer_norm: needs at least one axis, got shape ", x.shape());
  const std::int64_t cols = x.size(-1);
  const std::int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  for (const Var<T, Dev>* p : {&weight, &bias})
    PSALM_CHECK(!p->defined() || (p->rank() == 1 && p->size(0) == cols),
                "layer_norm: weight and bias must be (", cols, "), got ", p->shape());
  const Tensor<T, Dev> x_rows = x.value().reshape({rows, cols});  // (R, C)
  const Tensor<T, Dev> src = x_rows.contiguous();
  const Tensor<T, Dev> w = weight.defined() ? weight.value().contiguous() : Tensor<T, Dev>();
  const Tensor<T, Dev> b = bias.defined() ? bias.value().contiguous() : Tensor<T, Dev>();
  Tensor<T, Dev> y(x.shape());
  Tensor<Stat, Dev> mean(Shape{rows, 1}), rstd(Shape{rows, 1});
  if (rows > 0)
    Executor<Dev>::launch(
        rows,
        psalm::kernels::LayerNormRows<T>{src.data(), w.defined() ? w.data() : nullptr,
                                         b.defined() ? b.data() : nullptr, y.data(), mean.data(),
                                         rstd.data(), cols, eps},
        grain_for(cols));
  const bool recording = should_record(x, weight, bias);
  LayerNormContext<T, Dev> ctx{x.grad_ref(), weight.grad_ref(), bias.grad_ref(), src, w, mean,
                               rstd};
  return record(
      std::move(y), recording, std::move(ctx),
      [](LayerNormContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
        const std::int64_t r = c.x_rows.size(0), n = c.x_rows.size(1);
        const Tensor<T, Dev> g = d_y.reshape({r, n}).contiguous();  // (R, C)
        if (c.x.needed()) {
          Tensor<T, Dev> d_x(c.x.shape());
          if (r > 0)
            Executor<Dev>::launch(
                r,
                psalm::kernels::LayerNormRowsBackward<T>{
                    c.x_rows.data(), c.weight_value.defined() ? c.weight_value.data() : nullptr,
                    g.data(), c.mean.data(), c.rstd.data(), d_x.data(), n},
                grain_for(n));
          c.x.accumulate(std::move(d_x));
        }
        if (c.weight.needed() || c.bias.needed()) {  // column sums of d_y * xhat and d_y
          Tensor<T, Dev> d_w = c.weight.needed() ? Tensor<T, Dev>(Shape{n}) : Tensor<T, Dev>();
          Tensor<T, Dev> d_b = c.bias.needed() ? Tensor<T, Dev>(Shape{n}) : Tensor<T, Dev>();
          // Column blocks: 64 wide on the CPU (short contiguous runs per row), 1 on a GPU.
          const std::int64_t block = std::is_same_v<Dev, cpu> ? 64 : 1;
          if (n > 0)
            Executor<Dev>::launch((n + block - 1) / block,
                                  psalm::kernels::LayerNormParamGrad<T>{
                                      c.x_rows.data(), g.data(), c.mean.data(), c.rstd.data(),
                                      d_w.defined() ? d_w.data() : nullptr,
                                      d_b.defined() ? d_b.data() : nullptr, r, n, block},
                                  1);
          if (c.weight.needed()) c.weight.accumulate(std::move(d_w));  // (C)
          if (c.bias.needed()) c.bias.accumulate(std::move(d_b));      // (C)
        }
      });
}

}  // namespace psalm::autograd
