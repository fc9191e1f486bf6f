// psalm/autograd/ops/conv2d.hpp — differentiable 2-D convolution (torch.nn.functional.conv2d):
// NCHW input, weight (O, C/groups, kh, kw), optional bias; stride, zero padding, dilation,
// groups. Lowered to GEMM: im2col (kernels/im2col.hpp) then one batched GEMM per group; a
// 1x1 stride-1 unpadded kernel is a plain GEMM on the input itself (no im2col). The columns
// are rebuilt in the backward rather than saved. Backward accumulates.
// Depends on: autograd/tape, kernels/im2col, tensor/matmul, tensor/reduce.
// Test: tests/autograd/test_conv2d.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/im2col.hpp"
#include "psalm/tensor/matmul.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::autograd {

// Letters: N batch, C input channels, H W input plane, O output channels, G groups,
// Cg = C / G, Og = O / G, K = Cg kh kw (column rows per group), L = Ho Wo (output pixels).

/// Options of conv2d, as the keyword arguments of torch.nn.functional.conv2d ({h, w} pairs).
struct Conv2dOptions {
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::int64_t groups = 1;
};

/// Context of conv2d: the input when the weight needs a gradient, the weight when the input
/// needs one, and the geometry.
template <Real T, Device Dev>
struct Conv2dContext {
  GradRef<T, Dev> x, weight, bias;
  Tensor<T, Dev> x_value;       // (N, C, H, W), any strides
  Tensor<T, Dev> weight_value;  // (O, Cg, kh, kw) contiguous
  kernels::ConvGeometry geom;
  std::int64_t groups;
};

namespace detail {

/// True when the convolution is a per-pixel channel mix: the columns are the input itself.
inline bool conv_is_pointwise(const kernels::ConvGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
         g.pad_w == 0;
}

/// Samples per im2col pass, so the column buffer stays under about 2^25 elements.
inline std::int64_t conv_chunk(std::int64_t batch, const kernels::ConvGeometry& g) {
  const std::int64_t per_sample = std::max<std::int64_t>(1, g.col_rows() * g.col_cols());
  return std::clamp<std::int64_t>((std::int64_t{1} << 25) / per_sample, 1,
                                  std::max<std::int64_t>(batch, 1));
}

/// The column matrix of samples [n0, n0 + nb) of x: (nb, C kh kw, L). For a pointwise
/// convolution, a view of x (a copy only when x's planes are not contiguous).
template <Real T, Device Dev>
Tensor<T, Dev> conv_columns(const Tensor<T, Dev>& x, const kernels::ConvGeometry& g,
                            std::int64_t n0, std::int64_t nb) {
  const Tensor<T, Dev> part = x.narrow(0, n0, nb);  // (nb, C, H, W)
  if (conv_is_pointwise(g)) return part.reshape({nb, g.channels, g.col_cols()});
  Tensor<T, Dev> cols(Shape{nb, g.col_rows(), g.col_cols()});  // (nb, C kh kw, L)
  const std::int64_t bodies = nb * g.col_rows() * g.out_h;
  if (bodies > 0)
    Executor<Dev>::launch(
        bodies,
        kernels::Im2Col<T>{part.data(), cols.data(), part.strides()[0], part.strides()[1],
                           part.strides()[2], part.strides()[3], g},
        grain_for(g.out_w));
  return cols;
}

}  // namespace detail

/// x (N, C, H, W), weight (O, C / groups, kh, kw), bias (O) or an undefined Var for none
/// -> (N, O, Ho, Wo).
template <Real T, Device Dev>
Var<T, Dev> conv2d(const Var<T, Dev>& x, const Var<T, Dev>& weight, const Var<T, Dev>& bias = {},
                   const Conv2dOptions& opt = {}) {
  PSALM_CHECK(x.rank() == 4, "conv2d: input must be (N, C, H, W), got ", x.shape());
  PSALM_CHECK(weight.rank() == 4, "conv2d: weight must be (O, C/groups, kh, kw), got ",
              weight.shape());
  const std::int64_t groups = opt.groups;
  const std::int64_t n = x.size(0), c = x.size(1), o = weight.size(0);
  PSALM_CHECK(groups >= 1 && c % groups == 0 && o % groups == 0, "conv2d: groups = ", groups,
              " must divide the input channels ", c, " and the output channels ", o);
  PSALM_CHECK(weight.size(1) * groups == c, "conv2d: weight ", weight.shape(), " expects ",
              weight.size(1) * groups, " input channels, the input ", x.shape(), " has ", c);
  PSALM_CHECK(!bias.defined() || (bias.rank() == 1 && bias.size(0) == o), "conv2d: bias must be (",
              o, "), got ", bias.shape());
  for (int a = 0; a < 2; ++a)
    PSALM_CHECK(opt.stride[a] >= 1 && opt.dilation[a] >= 1 && opt.padding[a] >= 0,
                "conv2d: stride and dilation must be >= 1 and padding >= 0, got stride ",
                opt.stride[a], ", dilation ", opt.dilation[a], ", padding ", opt.padding[a]);
  kernels::ConvGeometry g{c,
                          x.size(2),
                          x.size(3),
                          weight.size(2),
                          weight.size(3),
                          opt.stride[0],
                          opt.stride[1],
                          opt.padding[0],
                          opt.padding[1],
                          opt.dilation[0],
                          opt.dilation[1]};
  g.compute_output();
  PSALM_CHECK(g.out_h >= 1 && g.out_w >= 1, "conv2d: input ", x.shape(), " is smaller than the ",
              "dilated kernel ", weight.shape(), " with padding ", opt.padding[0], ", ",
              opt.padding[1]);
  const std::int64_t og = o / groups, cg = c / groups;
  const std::int64_t k = cg * g.kernel_h * g.kernel_w, l = g.col_cols();
  const Tensor<T, Dev> w = weight.value().contiguous().view({groups, og, k});  // (G, Og, K)
  Tensor<T, Dev> y(Shape{n, o, g.out_h, g.out_w});
  const Tensor<T, Dev> y_groups = y.view({n, groups, og, l});  // (N, G, Og, L)
  const std::int64_t chunk = detail::conv_chunk(n, g);
  for (std::int64_t n0 = 0; n0 < n; n0 += chunk) {
    const std::int64_t nb = std::min(chunk, n - n0);
    const Tensor<T, Dev> cols =
        detail::conv_columns(x.value(), g, n0, nb).view({nb, groups, k, l});  // (nb, G, K, L)
    for (std::int64_t gi = 0; gi < groups; ++gi) {
      Tensor<T, Dev> y_g = y_groups.narrow(0, n0, nb).select(1, gi);  // (nb, Og, L)
      psalm::matmul_into(y_g, w.select(0, gi), cols.select(1, gi));
    }
  }
  if (bias.defined()) y.assign(y + bias.value().view({o, 1, 1}));
  Conv2dContext<T, Dev> ctx{x.grad_ref(),
                            weight.grad_ref(),
                            bias.grad_ref(),  // empty for an undefined bias
                            {},
                            {},
                            g,
                            groups};
  if (weight.requires_grad()) ctx.x_value = x.value();
  if (x.requires_grad()) ctx.weight_value = w;
  const bool recording = bias.defined() ? should_record(x, weight, bias) : should_record(x, weight);
  return record(
      std::move(y), recording, std::move(ctx),
      [](Conv2dContext<T, Dev>& ctx, const Tensor<T, Dev>& d_y_in) {
        const kernels::ConvGeometry& g = ctx.geom;
        const std::int64_t groups = ctx.groups;
        const std::int64_t n = d_y_in.size(0), o = d_y_in.size(1), og = o / groups;
        const std::int64_t k = (g.channels / groups) * g.kernel_h * g.kernel_w, l = g.col_cols();
        const Tensor<T, Dev> d_y = d_y_in.contiguous().view({n, groups, og, l});  // (N, G, Og, L)
        if (ctx.bias.needed())  // sum over N and L
          ctx.bias.accumulate(psalm::sum(psalm::sum(d_y.view({n, o, l}), 2), 0));
        const std::int64_t chunk = detail::conv_chunk(n, g);
        if (ctx.weight.needed()) {
          Tensor<T, Dev> d_w(Shape{groups, og, k});  // (G, Og, K)
          for (std::int64_t n0 = 0; n0 < n; n0 += chunk) {
            const std::int64_t nb = std::min(chunk, n - n0);
            const Tensor<T, Dev> cols =
                detail::conv_columns(ctx.x_value, g, n0, nb).view({nb, groups, k, l});
            for (std::int64_t gi = 0; gi < groups; ++gi) {
              Tensor<T, Dev> d_w_g = d_w.select(0, gi);  // (Og, K)
              for (std::int64_t s = 0; s < nb; ++s)      // d_y[s, g] (Og, L) @ cols[s, g]^T (L, K)
                psalm::matmul_into(d_w_g, d_y.select(0, n0 + s).select(0, gi),
                                   cols.select(0, s).select(0, gi),
                                   {.transpose_b = true, .beta = (n0 + s == 0) ? 0.0 : 1.0});
            }
          }
          if (n == 0) d_w.fill(T(0));
          ctx.weight.accumulate(d_w.view({o, g.channels / groups, g.kernel_h, g.kernel_w}));
        }
        if (ctx.x.needed()) {
          const Tensor<T, Dev>& w = ctx.weight_value;  // (G, Og, K)
          Tensor<T, Dev> d_x(Shape{n, g.channels, g.height, g.width});
          const bool pointwise = detail::conv_is_pointwise(g);
          for (std::int64_t n0 = 0; n0 < n; n0 += chunk) {
            const std::int64_t nb = std::min(chunk, n - n0);
            // Column gradient: straight into d_x when the columns are the input itself.
            Tensor<T, Dev> d_cols = pointwise ? d_x.narrow(0, n0, nb).view({nb, g.channels, l})
                                              : Tensor<T, Dev>(Shape{nb, g.col_rows(), l});
            const Tensor<T, Dev> d_cols_groups = d_cols.view({nb, groups, k, l});
            for (std::int64_t gi = 0; gi < groups; ++gi) {  // W_g^T (K, Og) @ d_y (nb, Og, L)
              Tensor<T, Dev> d_cols_g = d_cols_groups.select(1, gi);
              psalm::matmul_into(d_cols_g, w.select(0, gi), d_y.narrow(0, n0, nb).select(1, gi),
                                 {.transpose_a = true});
            }
            if (!pointwise && nb * g.channels * g.height > 0)
              Executor<Dev>::launch(
                  nb * g.channels * g.height,
                  kernels::Col2Im<T>{d_cols.data(), d_x.narrow(0, n0, nb).data(), g},
                  grain_for(g.width, 1 << 12));
          }
          ctx.x.accumulate(std::move(d_x));
        }
      });
}

}  // namespace psalm::autograd
