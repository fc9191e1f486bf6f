// psalm/autograd/ops/shape.hpp — differentiable views and joins: reshape, permute,
// transpose, slice, unsqueeze, squeeze, concat, stack, and contiguous (a dense copy). Views share
// the input's storage in the forward; their backward routes the gradient back to the base's layout
// (the inverse view, or a zero tensor with the gradient written into the viewed part). Backward
// accumulates. Depends on: autograd/tape, tensor. Test: tests/autograd/test_shape.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/tape.hpp"

namespace psalm::autograd {

/// Context of a view: the input slot plus the view's parameters.
template <Real T, Device Dev>
struct ViewContext {
  GradRef<T, Dev> x;
  std::vector<int> order{};  // permute: the forward order
  int axis = 0;              // slice
  std::int64_t start = 0, stop = 0, step = 1;
};

/// Context of concat / stack: every input's slot and where it sits along the axis.
template <Real T, Device Dev>
struct JoinContext {
  std::vector<GradRef<T, Dev>> inputs;
  std::vector<std::int64_t> offsets;  // concat: start of each input along axis
  int axis;
  bool stacked;
};

namespace detail {
inline std::vector<std::int64_t> extents_of(const Shape& s) {
  return std::vector<std::int64_t>(s.dims().v.begin(), s.dims().v.begin() + s.rank());
}
}  // namespace detail

/// The same elements with a new shape (one extent may be -1); a view when the layout allows.
template <Real T, Device Dev>
Var<T, Dev> reshape(const Var<T, Dev>& x, std::vector<std::int64_t> extents) {
  Tensor<T, Dev> y = x.value().reshape(std::move(extents));
  return record(std::move(y), should_record(x), ViewContext<T, Dev>{x.grad_ref()},
                [](ViewContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(d_y.reshape(detail::extents_of(c.x.shape())));
                });
}

/// The same elements laid out densely (row-major): x itself when it already is, else a copy
/// whose gradient passes back unchanged (the logical shape is the same).
template <Real T, Device Dev>
Var<T, Dev> contiguous(const Var<T, Dev>& x) {
  if (x.value().is_contiguous()) return x;
  return record(x.value().contiguous(), should_record(x), ViewContext<T, Dev>{x.grad_ref()},
                [](ViewContext<T, Dev>& c, const Tensor<T, Dev>& d_y) { c.x.accumulate(d_y); });
}

/// Axes reordered: result axis i is input axis order[i] (a view).
template <Real T, Device Dev>
Var<T, Dev> permute(const Var<T, Dev>& x, std::vector<int> order) {
  Tensor<T, Dev> y = x.value().permute(order);
  ViewContext<T, Dev> ctx{x.grad_ref()};
  for (int& a : order) a = x.shape().normalize_axis(a);
  ctx.order = std::move(order);
  return record(std::move(y), should_record(x), std::move(ctx),
                [](ViewContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  std::vector<int> inverse(c.order.size());
                  for (std::size_t i = 0; i < c.order.size(); ++i)
                    inverse[c.order[i]] = static_cast<int>(i);
                  c.x.accumulate(d_y.permute(inverse));
                });
}

/// Axes a and b swapped (a view).
template <Real T, Device Dev>
Var<T, Dev> transpose(const Var<T, Dev>& x, int a, int b) {
  std::vector<int> order(x.rank());
  for (int i = 0; i < x.rank(); ++i) order[i] = i;
  std::swap(order[x.shape().normalize_axis(a)], order[x.shape().normalize_axis(b)]);
  return permute(x, std::move(order));
}

/// Elements start, start + step, ... < stop along `axis`, Python slicing rules (a view).
template <Real T, Device Dev>
Var<T, Dev> slice(const Var<T, Dev>& x, int axis, std::int64_t start, std::int64_t stop,
                  std::int64_t step = 1) {
  Tensor<T, Dev> y = x.value().slice(axis, start, stop, step);
  ViewContext<T, Dev> ctx{x.grad_ref(), {}, axis, start, stop, step};
  return record(std::move(y), should_record(x), std::move(ctx),
                [](ViewContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  Tensor<T, Dev> d_x = Tensor<T, Dev>::zeros(c.x.shape());
                  d_x.slice(c.axis, c.start, c.stop, c.step).assign(d_y);
                  c.x.accumulate(std::move(d_x));
                });
}

/// An axis of extent 1 inserted before `axis` (a view).
template <Real T, Device Dev>
Var<T, Dev> unsqueeze(const Var<T, Dev>& x, int axis) {
  std::vector<std::int64_t> ext = detail::extents_of(x.shape());
  if (axis < 0) axis += x.rank() + 1;
  PSALM_CHECK(axis >= 0 && axis <= x.rank(), "unsqueeze: axis out of range for shape ", x.shape());
  ext.insert(ext.begin() + axis, 1);
  return reshape(x, std::move(ext));
}

/// `axis` (of extent 1) removed (a view).
template <Real T, Device Dev>
Var<T, Dev> squeeze(const Var<T, Dev>& x, int axis) {
  const int a = x.shape().normalize_axis(axis);
  PSALM_CHECK(x.shape()[a] == 1, "squeeze: axis ", axis, " of shape ", x.shape(), " is not 1");
  std::vector<std::int64_t> ext = detail::extents_of(x.shape());
  ext.erase(ext.begin() + a);
  return reshape(x, std::move(ext));
}

namespace detail {

template <Real T, Device Dev>
Var<T, Dev> join(const std::vector<Var<T, Dev>>& xs, int axis, bool stacked) {
  const char* name = stacked ? "stack" : "concat";
  PSALM_CHECK(!xs.empty(), name, ": needs at least one input");
  const Shape& first = xs[0].shape();
  const int rank = stacked ? first.rank() + 1 : first.rank();
  if (axis < 0) axis += rank;
  PSALM_CHECK(axis >= 0 && axis < rank, name, ": axis out of range for inputs of shape ", first);
  std::vector<std::int64_t> ext = extents_of(first);
  JoinContext<T, Dev> ctx{{}, {}, axis, stacked};
  std::int64_t total = 0;
  bool any_grad = false;
  for (const auto& x : xs) {
    bool same = x.rank() == first.rank();
    for (int d = 0; same && d < first.rank(); ++d)
      same = (!stacked && d == axis) || x.shape()[d] == first[d];
    PSALM_CHECK(same, name, ": input of shape ", x.shape(), " does not match ", first,
                " outside axis ", axis);
    ctx.inputs.push_back(x.grad_ref());
    ctx.offsets.push_back(total);
    total += stacked ? 1 : x.shape()[axis];
    any_grad = any_grad || x.requires_grad();
  }
  if (stacked)
    ext.insert(ext.begin() + axis, total);
  else
    ext[axis] = total;
  Tensor<T, Dev> y{Shape(std::span<const std::int64_t>(ext))};
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (stacked)
      y.select(axis, static_cast<std::int64_t>(i)).assign(xs[i].value());
    else if (xs[i].shape()[axis] > 0)
      y.narrow(axis, ctx.offsets[i], xs[i].shape()[axis]).assign(xs[i].value());
  }
  return record(std::move(y), GradMode::enabled() && any_grad, std::move(ctx),
                [](JoinContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
                    if (!c.inputs[i].needed()) continue;
                    const Tensor<T, Dev> part =
                        c.stacked ? d_y.select(c.axis, static_cast<std::int64_t>(i))
                                  : d_y.narrow(c.axis, c.offsets[i], c.inputs[i].shape()[c.axis]);
                    c.inputs[i].accumulate(part.clone());
                  }
                });
}

}  // namespace detail

/// Inputs joined along an existing axis (all other extents equal).
template <Real T, Device Dev>
Var<T, Dev> concat(const std::vector<Var<T, Dev>>& xs, int axis) {
  return detail::join(xs, axis, false);
}

/// Inputs of one shape stacked along a new axis.
template <Real T, Device Dev>
Var<T, Dev> stack(const std::vector<Var<T, Dev>>& xs, int axis) {
  return detail::join(xs, axis, true);
}

}  // namespace psalm::autograd
