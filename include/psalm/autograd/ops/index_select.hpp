// psalm/autograd/ops/index_select.hpp — differentiable torch.index_select: the entries of x
// at `index` along one axis, in index order (repeats allowed). The gradient scatter-adds
// d_out back to the selected positions atomically (kernels/index.hpp). Indices are checked
// against the axis before use. Backward accumulates.
// Depends on: autograd/tape, kernels/index, tensor/reduce.
// Test: tests/autograd/test_index_select.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/index.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::autograd {

// Letters: A outer extent (axes before `axis`), L the axis, K the number of indices,
// B inner extent (axes after `axis`).

/// Context of index_select / embedding: the indices and the (A, L, B) layout of the input.
template <Real T, Device Dev, class I>
struct IndexSelectContext {
  GradRef<T, Dev> x;
  Tensor<I, Dev> index;  // (K) contiguous
  std::int64_t outer, len, inner;
  std::int64_t skip;  // index whose rows get no gradient (embedding padding_idx), or -1
};

namespace detail {

/// Throws unless every index lies in [0, len).
template <class I, Device Dev>
void check_indices(const Tensor<I, Dev>& index, std::int64_t len, const char* op) {
  if (index.numel() == 0) return;
  const auto lo = static_cast<std::int64_t>(psalm::min(index).item());
  const auto hi = static_cast<std::int64_t>(psalm::max(index).item());
  PSALM_CHECK(lo >= 0 && hi < len, op, ": indices span [", lo, ", ", hi, "], outside [0, ", len,
              ")");
}

/// x viewed as (A, L, B) around `axis`, rows picked by the flat `index` (K), result viewed
/// with `out_extents`; `skip` as in IndexSelectContext.
template <Real T, Device Dev, class I>
Var<T, Dev> index_rows(const Var<T, Dev>& x, int axis, const Tensor<I, Dev>& index,
                       const std::vector<std::int64_t>& out_extents, std::int64_t skip) {
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < x.rank(); ++d) {
    if (d < axis) outer *= x.size(d);
    if (d > axis) inner *= x.size(d);
  }
  const std::int64_t len = x.size(axis), count = index.numel();
  const Tensor<T, Dev> src = x.value().contiguous();
  const Tensor<I, Dev> idx = index.contiguous().reshape({count});  // (K)
  Tensor<T, Dev> y(Shape{outer, count, inner});                    // (A, K, B)
  if (y.numel() > 0)
    Executor<Dev>::launch(y.numel(), psalm::kernels::IndexSelect<T, I>{
                                         src.data(), idx.data(), y.data(), len, count, inner});
  return record(y.view(out_extents), should_record(x),
                IndexSelectContext<T, Dev, I>{x.grad_ref(), idx, outer, len, inner, skip},
                [](IndexSelectContext<T, Dev, I>& c, const Tensor<T, Dev>& d_y) {
                  const Tensor<T, Dev> g = d_y.contiguous();  // (A, K, B)
                  Tensor<T, Dev> d_x = Tensor<T, Dev>::zeros(c.x.shape());
                  if (g.numel() > 0)
                    Executor<Dev>::launch(g.numel(), psalm::kernels::IndexAdd<T, I>{
                                                         g.data(), c.index.data(), d_x.data(),
                                                         c.len, c.index.numel(), c.inner, c.skip});
                  c.x.accumulate(std::move(d_x));
                });
}

}  // namespace detail

/// The entries of x at `index` (1-D, integer) along `axis`: shape of x with that axis
/// replaced by index.numel().
template <Real T, Device Dev, Scalar I>
requires std::is_integral_v<I> Var<T, Dev> index_select(const Var<T, Dev>& x, int axis,
                                                        const Tensor<I, Dev>& index) {
  PSALM_CHECK(x.rank() >= 1, "index_select: input must have at least one axis");
  PSALM_CHECK(index.rank() <= 1, "index_select: index must be 1-D, got ", index.shape());
  axis = x.shape().normalize_axis(axis);
  detail::check_indices(index, x.size(axis), "index_select");
  std::vector<std::int64_t> ext(x.shape().dims().v.begin(), x.shape().dims().v.begin() + x.rank());
  ext[axis] = index.numel();
  return detail::index_rows(x, axis, index, ext, -1);
}

}  // namespace psalm::autograd
