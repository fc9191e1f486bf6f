// psalm/tensor/reduce.hpp — reductions along one axis or over all elements: sum, mean, max,
// min, argmax, argmin, with keepdim. Non-contiguous inputs are made contiguous first; total
// reductions run in two passes (chunks, then the chunk results) so they parallelise.
// Depends on: kernels/reduce, tensor/tensor, tensor/assign. Test: tests/tensor/test_reduce.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/kernels/reduce.hpp"
#include "psalm/tensor/assign.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm {

/// Element type of sum(): integers widen to int64 (as PyTorch), floating types keep theirs.
template <class T>
using sum_result_t = std::conditional_t<std::is_integral_v<T>, std::int64_t, T>;

namespace detail {

template <kernels::ReduceOp Op, class Out, Scalar T, Device Dev>
Tensor<Out, Dev> reduce_axis(const Tensor<T, Dev>& x, int axis, bool keepdim, const char* name) {
  PSALM_CHECK(x.defined(), name, ": input tensor is undefined");
  const int a = x.shape().normalize_axis(axis);
  const std::int64_t len = x.shape()[a];
  PSALM_CHECK(len > 0 || Op == kernels::ReduceOp::sum || Op == kernels::ReduceOp::mean, name,
              ": cannot reduce an empty axis ", axis, " of shape ", x.shape());
  std::int64_t outer = 1, inner = 1;
  std::vector<std::int64_t> out_extents;
  for (int d = 0; d < x.rank(); ++d) {
    if (d < a) outer *= x.shape()[d];
    if (d > a) inner *= x.shape()[d];
    if (d != a)
      out_extents.push_back(x.shape()[d]);
    else if (keepdim)
      out_extents.push_back(1);
  }
  const Tensor<T, Dev> src = x.contiguous();
  Tensor<Out, Dev> out{Shape(out_extents)};
  if (out.numel() > 0)
    Executor<Dev>::launch(out.numel(),
                          kernels::ReduceAxis<T, Out, Op>{src.data(), out.data(), len, inner},
                          grain_for(len));
  return out;
}

template <kernels::ReduceOp Op, class Out, Scalar T, Device Dev>
Tensor<Out, Dev> reduce_all(const Tensor<T, Dev>& x, const char* name) {
  const std::int64_t n = x.numel();
  const Tensor<T, Dev> flat = x.contiguous().reshape({n});
  constexpr bool is_sum = Op == kernels::ReduceOp::sum || Op == kernels::ReduceOp::mean;
  if (n < (1 << 16) || !is_sum) {
    return reduce_axis<Op, Out>(flat, 0, false, name);
  }
  // Two passes: sums of equal chunks (in double), then the sum of those (exact split).
  const std::int64_t chunks = 256, chunk = (n + chunks - 1) / chunks, padded = chunk * chunks;
  Tensor<T, Dev> src = flat;
  if (padded != n) {
    src = Tensor<T, Dev>::zeros({padded});
    src.narrow(0, 0, n).assign(flat);
  }
  using Acc = std::conditional_t<std::is_integral_v<T>, std::int64_t, double>;
  const Tensor<Acc, Dev> partial =
      reduce_axis<kernels::ReduceOp::sum, Acc>(src.reshape({chunks, chunk}), 1, false, name);
  const Tensor<Acc, Dev> total = reduce_axis<kernels::ReduceOp::sum, Acc>(partial, 0, false, name);
  if constexpr (Op == kernels::ReduceOp::mean) {
    return Tensor<Out, Dev>(cast<Out>(total / static_cast<Acc>(n)));
  } else {
    return Tensor<Out, Dev>(cast<Out>(total));
  }
}

}  // namespace detail

/// Sum along `axis` (negative counts from the end).
template <Scalar T, Device Dev>
Tensor<sum_result_t<T>, Dev> sum(const Tensor<T, Dev>& x, int axis, bool keepdim = false) {
  return detail::reduce_axis<kernels::ReduceOp::sum, sum_result_t<T>>(x, axis, keepdim, "sum");
}
/// Sum of all elements, as a rank-0 tensor.
template <Scalar T, Device Dev>
Tensor<sum_result_t<T>, Dev> sum(const Tensor<T, Dev>& x) {
  return detail::reduce_all<kernels::ReduceOp::sum, sum_result_t<T>>(x, "sum");
}
/// Mean along `axis`; floating types only.
template <Scalar T, Device Dev>
requires(!std::is_integral_v<T>) Tensor<T, Dev> mean(const Tensor<T, Dev>& x, int axis,
                                                     bool keepdim = false) {
  return detail::reduce_axis<kernels::ReduceOp::mean, T>(x, axis, keepdim, "mean");
}
template <Scalar T, Device Dev>
requires(!std::is_integral_v<T>) Tensor<T, Dev> mean(const Tensor<T, Dev>& x) {
  PSALM_CHECK(x.numel() > 0, "mean: empty tensor");
  return detail::reduce_all<kernels::ReduceOp::mean, T>(x, "mean");
}
/// Maximum along `axis` (NaN propagates).
template <Scalar T, Device Dev>
Tensor<T, Dev> max(const Tensor<T, Dev>& x, int axis, bool keepdim = false) {
  return detail::reduce_axis<kernels::ReduceOp::max, T>(x, axis, keepdim, "max");
}
template <Scalar T, Device Dev>
Tensor<T, Dev> max(const Tensor<T, Dev>& x) {
  PSALM_CHECK(x.numel() > 0, "max: empty tensor");
  return detail::reduce_all<kernels::ReduceOp::max, T>(x, "max");
}
/// Minimum along `axis` (NaN propagates).
template <Scalar T, Device Dev>
Tensor<T, Dev> min(const Tensor<T, Dev>& x, int axis, bool keepdim = false) {
  return detail::reduce_axis<kernels::ReduceOp::min, T>(x, axis, keepdim, "min");
}
template <Scalar T, Device Dev>
Tensor<T, Dev> min(const Tensor<T, Dev>& x) {
  PSALM_CHECK(x.numel() > 0, "min: empty tensor");
  return detail::reduce_all<kernels::ReduceOp::min, T>(x, "min");
}
/// Index of the first maximum along `axis`.
template <Scalar T, Device Dev>
Tensor<std::int64_t, Dev> argmax(const Tensor<T, Dev>& x, int axis, bool keepdim = false) {
  return detail::reduce_axis<kernels::ReduceOp::argmax, std::int64_t>(x, axis, keepdim, "argmax");
}
/// Index of the first minimum along `axis`.
template <Scalar T, Device Dev>
Tensor<std::int64_t, Dev> argmin(const Tensor<T, Dev>& x, int axis, bool keepdim = false) {
  return detail::reduce_axis<kernels::ReduceOp::argmin, std::int64_t>(x, axis, keepdim, "argmin");
}

}  // namespace psalm
