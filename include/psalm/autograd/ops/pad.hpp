// psalm/autograd/ops/pad.hpp — differentiable constant padding (torch.nn.functional.pad with
// mode='constant'): `pads` lists (before, after) amounts for the last axis first, then the
// one before it, and so on. The forward writes x into a view of a filled tensor; the gradient
// is the matching view of d_out. Backward accumulates. Depends on: autograd/tape, tensor.
// Test: tests/autograd/test_pad.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/tape.hpp"

namespace psalm::autograd {

/// Context of pad: the padding amounts, to cut the gradient back out.
template <Real T, Device Dev>
struct PadContext {
  GradRef<T, Dev> x;
  std::vector<std::int64_t> pads;
};

namespace detail {
/// The view of a padded tensor that holds the original elements.
template <Scalar T, Device Dev>
Tensor<T, Dev> unpadded_view(const Tensor<T, Dev>& padded, const Shape& original,
                             const std::vector<std::int64_t>& pads) {
  Tensor<T, Dev> v = padded;
  for (std::size_t p = 0; p < pads.size() / 2; ++p) {
    const int axis = original.rank() - 1 - static_cast<int>(p);
    v = v.narrow(axis, pads[2 * p], original[axis]);
  }
  return v;
}
}  // namespace detail

/// x padded with `value`: pads = {last_before, last_after, second_last_before, ...}, an even
/// number of non-negative amounts covering at most rank(x) axes.
template <Real T, Device Dev>
Var<T, Dev> pad(const Var<T, Dev>& x, const std::vector<std::int64_t>& pads, double value = 0.0) {
  PSALM_CHECK(pads.size() % 2 == 0 && static_cast<int>(pads.size() / 2) <= x.rank(),
              "pad: needs (before, after) pairs for at most ", x.rank(), " axes, got ", pads.size(),
              " amounts for shape ", x.shape());
  std::vector<std::int64_t> ext(x.shape().dims().v.begin(), x.shape().dims().v.begin() + x.rank());
  for (std::size_t p = 0; p < pads.size() / 2; ++p) {
    PSALM_CHECK(pads[2 * p] >= 0 && pads[2 * p + 1] >= 0, "pad: amounts must be non-negative, got ",
                pads[2 * p], " and ", pads[2 * p + 1]);
    ext[x.rank() - 1 - p] += pads[2 * p] + pads[2 * p + 1];
  }
  Tensor<T, Dev> y =
      Tensor<T, Dev>::full(Shape(std::span<const std::int64_t>(ext)), static_cast<T>(value));
  if (x.numel() > 0) detail::unpadded_view(y, x.shape(), pads).assign(x.value());
  return record(std::move(y), should_record(x), PadContext<T, Dev>{x.grad_ref(), pads},
                [](PadContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(detail::unpadded_view(d_y, c.x.shape(), c.pads).clone());
                });
}

}  // namespace psalm::autograd
