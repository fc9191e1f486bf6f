// psalm/autograd/ops/gather.hpp — differentiable torch.gather: out[c] = x[c with the `axis`
// coordinate replaced by index[c]] for every coordinate c of `index` (same rank as x, no
// larger than x on the other axes). The gradient is an atomic scatter-add
// (kernels/index.hpp). Backward accumulates.
// Depends on: autograd/ops/index_select (index checks), kernels/index.
// Test: tests/autograd/test_gather.cpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include "psalm/autograd/ops/index_select.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/index.hpp"

namespace psalm::autograd {

/// Context of gather: the indices (contiguous, the output's shape) and the axis.
template <Real T, Device Dev, class I>
struct GatherContext {
  GradRef<T, Dev> x;
  Tensor<I, Dev> index;
  int axis;
};

/// x (...), index (integers, same rank as x, index.size(d) <= x.size(d) for d != axis, values
/// in [0, x.size(axis))) -> index's shape.
template <Real T, Device Dev, Scalar I>
requires std::is_integral_v<I> Var<T, Dev> gather(const Var<T, Dev>& x, int axis,
                                                  const Tensor<I, Dev>& index) {
  axis = x.shape().normalize_axis(axis);
  PSALM_CHECK(index.rank() == x.rank(), "gather: index of shape ", index.shape(),
              " must have the rank of the input ", x.shape());
  for (int d = 0; d < x.rank(); ++d)
    PSALM_CHECK(d == axis || index.shape()[d] <= x.shape()[d], "gather: index of shape ",
                index.shape(), " is larger than the input ", x.shape(), " on axis ", d);
  detail::check_indices(index, x.size(axis), "gather");
  const Tensor<I, Dev> idx = index.contiguous();
  Tensor<T, Dev> y(index.shape());
  if (y.numel() > 0)
    Executor<Dev>::launch(
        y.numel(), psalm::kernels::GatherAxis<T, I>{x.value().data(), idx.data(), y.data(),
                                                    idx.shape().dims(), x.value().strides(), axis});
  return record(std::move(y), should_record(x), GatherContext<T, Dev, I>{x.grad_ref(), idx, axis},
                [](GatherContext<T, Dev, I>& c, const Tensor<T, Dev>& d_y) {
                  const Tensor<T, Dev> g = d_y.contiguous();
                  Tensor<T, Dev> d_x = Tensor<T, Dev>::zeros(c.x.shape());
                  if (g.numel() > 0)
                    Executor<Dev>::launch(
                        g.numel(), psalm::kernels::ScatterAddAxis<T, I>{
                                       g.data(), c.index.data(), d_x.data(), c.index.shape().dims(),
                                       d_x.strides(), c.axis});
                  c.x.accumulate(std::move(d_x));
                });
}

}  // namespace psalm::autograd
