// psalm/autograd/ops/reduce.hpp — differentiable sum, mean and max, along one axis (with
// keepdim) or over all elements. Sum and mean save nothing but the input shape; max along an
// axis saves the arg-max indices (the gradient goes to the first maximum, as torch.max(dim));
// the total max saves input and output and splits the gradient evenly among ties (as
// torch.max()). Backward accumulates. Depends on: autograd/tape, tensor/reduce.
// Test: tests/autograd/test_reduce.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/tape.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::autograd {

/// Context of sum / mean: the axis (-1 for all), keepdim and the scale (1 or 1/len).
template <Real T, Device Dev>
struct SumContext {
  GradRef<T, Dev> x;
  int axis;
  bool keepdim;
  T scale;
};

/// Context of max along an axis: the arg-max indices (outer, inner) and the axis layout.
template <Real T, Device Dev>
struct MaxAxisContext {
  GradRef<T, Dev> x;
  Tensor<std::int64_t, Dev> index;
  std::int64_t len, inner;
};

/// Context of the total max: input and output, to find every tie.
template <Real T, Device Dev>
struct MaxAllContext {
  GradRef<T, Dev> x;
  Tensor<T, Dev> x_value, y;
};

namespace detail {

/// The `axis` value that means "all elements" in sum_like.
inline constexpr int kAllAxes = -1000;

/// d_x[(o * len + index[o, i]) * inner + i] = d_y[o, i]; d_x zero elsewhere (set by caller).
template <class T>
struct ScatterArgmax {
  const T* d_y;
  const std::int64_t* index;
  T* d_x;
  std::int64_t len, inner;
  PSALM_HD void operator()(std::int64_t idx) const {
    const std::int64_t o = idx / inner, i = idx % inner;
    d_x[(o * len + index[idx]) * inner + i] = d_y[idx];
  }
};

template <Real T, Device Dev>
Var<T, Dev> sum_like(const Var<T, Dev>& x, int axis, bool keepdim, bool is_mean) {
  Tensor<T, Dev> y;
  T scale = T(1);
  if (axis == kAllAxes) {
    y = is_mean ? psalm::mean(x.value()) : psalm::sum(x.value());
    if (is_mean) scale = T(1) / static_cast<T>(x.numel());
  } else {
    axis = x.shape().normalize_axis(axis);
    y = is_mean ? psalm::mean(x.value(), axis, keepdim) : psalm::sum(x.value(), axis, keepdim);
    if (is_mean) scale = T(1) / static_cast<T>(x.shape()[axis]);
  }
  return record(
      std::move(y), should_record(x), SumContext<T, Dev>{x.grad_ref(), axis, keepdim, scale},
      [](SumContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
        const Tensor<T, Dev> g = (c.axis == kAllAxes || c.keepdim) ? d_y : d_y.unsqueeze(c.axis);
        Tensor<T, Dev> d_x(c.x.shape());
        if (c.scale == T(1))
          d_x.assign(g);
        else
          d_x.assign(g * c.scale);
        c.x.accumulate(std::move(d_x));
      });
}
}  // namespace detail

/// Sum of all elements, shape ().
template <Real T, Device Dev>
Var<T, Dev> sum(const Var<T, Dev>& x) {
  return detail::sum_like(x, detail::kAllAxes, false, false);
}
/// Sum along `axis` (negative counts from the end).
template <Real T, Device Dev>
Var<T, Dev> sum(const Var<T, Dev>& x, int axis, bool keepdim = false) {
  return detail::sum_like(x, axis, keepdim, false);
}
/// Mean of all elements, shape ().
template <Real T, Device Dev>
Var<T, Dev> mean(const Var<T, Dev>& x) {
  return detail::sum_like(x, detail::kAllAxes, false, true);
}
/// Mean along `axis`.
template <Real T, Device Dev>
Var<T, Dev> mean(const Var<T, Dev>& x, int axis, bool keepdim = false) {
  return detail::sum_like(x, axis, keepdim, true);
}

/// Maximum along `axis`; the gradient goes to the first maximal element of each slice.
template <Real T, Device Dev>
Var<T, Dev> max(const Var<T, Dev>& x, int axis, bool keepdim = false) {
  const int a = x.shape().normalize_axis(axis);
  Tensor<T, Dev> y = psalm::max(x.value(), a, keepdim);
  MaxAxisContext<T, Dev> ctx{x.grad_ref(), {}, x.shape()[a], 1};
  for (int d = a + 1; d < x.rank(); ++d) ctx.inner *= x.shape()[d];
  if (x.requires_grad()) ctx.index = psalm::argmax(x.value(), a, false);
  return record(std::move(y), should_record(x), std::move(ctx),
                [](MaxAxisContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  const Tensor<T, Dev> g = d_y.contiguous();
                  Tensor<T, Dev> d_x = Tensor<T, Dev>::zeros(c.x.shape());
                  if (g.numel() > 0)
                    Executor<Dev>::launch(
                        g.numel(), detail::ScatterArgmax<T>{g.data(), c.index.data(), d_x.data(),
                                                            c.len, c.inner});
                  c.x.accumulate(std::move(d_x));
                });
}

/// Maximum of all elements, shape (); ties share the gradient evenly.
template <Real T, Device Dev>
Var<T, Dev> max(const Var<T, Dev>& x) {
  Tensor<T, Dev> y = psalm::max(x.value());
  return record(y, should_record(x), MaxAllContext<T, Dev>{x.grad_ref(), x.value(), y},
                [](MaxAllContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  const Tensor<T, Dev> is_max = cast<T>(c.x_value == c.y);
                  const Tensor<T, Dev> count = psalm::sum(is_max);
                  c.x.accumulate(Tensor<T, Dev>(is_max * (d_y / count)));
                });
}

}  // namespace psalm::autograd
