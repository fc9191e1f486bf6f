// psalm/autograd/reduce_broadcast.hpp — sum_to_shape: the gradient of a broadcast. An input of
// shape `target` broadcast to the shape of `g` receives g summed over the leading axes it
// lacked and over the axes where it had extent 1. One pass, one output element per body call,
// accumulating in double. Depends on: core, kernels/reduce, tensor.
// Test: tests/autograd/test_reduce_broadcast.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include "psalm/kernels/reduce.hpp"
#include "psalm/tensor/executor.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::autograd {

namespace detail {

/// out[o] = sum of in over every coordinate that broadcasts onto output element o.
/// requires: in has `extents` (rank r) and `strides`; `keep[d]` is 1 where the output keeps
/// axis d and 0 where it is summed; out is contiguous over the kept axes.
template <class T>
struct SumToShape {
  const T* in;
  T* out;
  Dims extents;
  Dims strides;
  Dims keep;
  std::int64_t reduced_count;  // product of the summed extents

  PSALM_HD void operator()(std::int64_t o) const {
    using Acc = psalm::kernels::sum_accumulator_t<compute_type_t<T>>;
    // Offset of the kept coordinates of output element o (row-major over kept axes).
    std::int64_t base = 0, rem = o;
    for (int d = extents.rank - 1; d >= 0; --d) {
      if (!keep[d]) continue;
      base += (rem % extents[d]) * strides[d];
      rem /= extents[d];
    }
    Acc acc = 0;
    for (std::int64_t k = 0; k < reduced_count; ++k) {
      std::int64_t off = base, r = k;
      for (int d = extents.rank - 1; d >= 0; --d) {
        if (keep[d]) continue;
        off += (r % extents[d]) * strides[d];
        r /= extents[d];
      }
      acc += static_cast<Acc>(convert<compute_type_t<T>>(in[off]));
    }
    out[o] = convert<T>(acc);
  }
};

}  // namespace detail

/// `g` summed back to `target`, which must broadcast to g's shape. Returns g itself (no copy)
/// when the shapes are equal, else a new contiguous tensor of shape `target`.
template <Scalar T, Device Dev>
Tensor<T, Dev> sum_to_shape(const Tensor<T, Dev>& g, const Shape& target) {
  if (g.shape() == target) return g;
  const int r = g.rank();
  PSALM_CHECK(target.rank() <= r, "sum_to_shape: shape ", target, " cannot broadcast to ",
              g.shape());
  Dims keep;
  keep.rank = r;
  std::int64_t reduced = 1;
  const int lead = r - target.rank();
  for (int d = 0; d < r; ++d) {
    const std::int64_t want = d < lead ? 1 : target[d - lead];
    PSALM_CHECK(want == g.shape()[d] || want == 1, "sum_to_shape: shape ", target,
                " cannot broadcast to ", g.shape());
    keep[d] = (d >= lead && want == g.shape()[d]) ? 1 : 0;
    if (!keep[d]) reduced *= g.shape()[d];
  }
  Tensor<T, Dev> out(target);
  if (out.numel() > 0)
    Executor<Dev>::launch(
        out.numel(),
        detail::SumToShape<T>{g.data(), out.data(), g.shape().dims(), g.strides(), keep, reduced},
        grain_for(reduced));
  return out;
}

}  // namespace psalm::autograd
