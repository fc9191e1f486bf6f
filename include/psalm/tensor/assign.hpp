// psalm/tensor/assign.hpp — evaluating expressions into tensors, and the factories built on it.
// An expression is bound to the destination's shape (broadcasting every leaf), then run by
// Executor<Dev>: a flat loop when every operand is dense, otherwise a loop that computes
// coordinates once per row (CPU) or per element (CUDA). A source that overlaps the destination
// with another layout is first evaluated into a temporary.
// Depends on: core, kernels, tensor/tensor, tensor/expr, tensor/executor.
// Test: tests/tensor/test_expr.cpp, tests/tensor/test_tensor.cpp.
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/core/rng.hpp"
#include "psalm/tensor/executor.hpp"
#include "psalm/tensor/expr.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm {

namespace kernels {

/// dst[i] = e(i) for dense destination and operands.
template <class T, class E>
struct AssignDense {
  T* dst;
  E e;
  PSALM_HD void operator()(std::int64_t i) const { dst[i] = convert<T>(e.at(i)); }
};

/// dst[coords(i)] = e(coords(i)) for any layout: coordinates from the flat index.
template <class T, class E>
struct AssignStrided {
  T* dst;
  Dims dst_strides;
  Dims extents;
  E e;
  PSALM_HD void operator()(std::int64_t i) const {
    Dims c;
    c.rank = extents.rank;
    std::int64_t off = 0;
    for (int d = extents.rank - 1; d >= 0; --d) {
      c[d] = i % extents[d];
      i /= extents[d];
      off += c[d] * dst_strides[d];
    }
    dst[off] = convert<T>(e.at(c, c[extents.rank - 1]));
  }
};

/// Element i of the counter-based uniform or normal stream, scaled.
template <class T>
struct FillRandom {
  T* dst;
  CounterRng rng;
  double scale, shift;
  bool normal;
  PSALM_HD void operator()(std::int64_t i) const {
    const double v = normal ? rng.normal(static_cast<std::uint64_t>(i))
                            : static_cast<double>(rng.uniform(static_cast<std::uint64_t>(i)));
    dst[i] = convert<T>(v * scale + shift);
  }
};

/// start + i * step.
template <class T>
struct FillArange {
  T* dst;
  double start, step;
  PSALM_HD void operator()(std::int64_t i) const {
    dst[i] = convert<T>(start + static_cast<double>(i) * step);
  }
};

}  // namespace kernels

namespace detail {

/// Evaluates the bound expression `e` into dst (whose extents `ext` it already matches).
template <class T, class Dev, class E>
void run_assignment(T* dst, const Dims& dst_strides, const Dims& ext, bool dst_dense, E e,
                    std::int64_t n) {
  if (n == 0) return;
  if (dst_dense && e.dense()) {
    Executor<Dev>::launch(n, kernels::AssignDense<T, E>{dst, e});
    return;
  }
  if constexpr (std::is_same_v<Dev, cpu>) {
    // Row loop: coordinates of the outer axes once per row, the inner axis strided.
    const std::int64_t width = ext[ext.rank - 1];
    const std::int64_t rows = n / width;
    const std::int64_t dst_step = dst_strides[ext.rank - 1];
    Executor<Dev>::parallel_for(rows, grain_for(width, 1 << 15),
                                [&](std::int64_t begin, std::int64_t end) {
                                  for (std::int64_t r = begin; r < end; ++r) {
                                    Dims c;
                                    c.rank = ext.rank;
                                    std::int64_t rem = r, base = 0;
                                    for (int d = ext.rank - 2; d >= 0; --d) {
                                      c[d] = rem % ext[d];
                                      rem /= ext[d];
                                      base += c[d] * dst_strides[d];
                                    }
                                    T* row = dst + base;
                                    for (std::int64_t j = 0; j < width; ++j)
                                      row[j * dst_step] = convert<T>(e.at(c, j));
                                  }
                                });
  } else {
    Executor<Dev>::launch(n, kernels::AssignStrided<T, E>{dst, dst_strides, ext, e});
  }
}

/// Output extents for evaluation: a rank-0 result is evaluated as rank 1 of extent 1.
inline Dims eval_extents(const Shape& s) {
  if (s.rank() > 0) return s.dims();
  Dims d;
  d.rank = 1;
  d[0] = 1;
  return d;
}

}  // namespace detail

template <Scalar T, Device Dev>
template <class Source>
Tensor<T, Dev>& Tensor<T, Dev>::assign(const Source& source) {
  PSALM_CHECK(defined(), "assign: the destination tensor is undefined");
  if constexpr (ArithmeticScalar<Source>) {
    return fill(convert<T>(source));
  } else {
    auto e = as_expr(source);
    using E = decltype(e);
    static_assert(std::is_same_v<typename E::device_type, Dev> ||
                      std::is_same_v<typename E::device_type, AnyDevice>,
                  "psalm: assigning an expression on one device to a tensor on another; "
                  "move it with .to<Dev>() first");
    const Shape src_shape = e.shape();
    bool fits = src_shape.rank() <= rank();
    for (int d = 1; fits && d <= src_shape.rank(); ++d) {
      const std::int64_t have = src_shape[src_shape.rank() - d], want = shape_[rank() - d];
      fits = have == want || have == 1;
    }
    PSALM_CHECK(fits, "assign: source of shape ", src_shape,
                " does not broadcast to the destination shape ", shape_);
    const Dims ext = detail::eval_extents(shape_);
    Dims dst_strides = strides_;
    if (rank() == 0) {
      dst_strides.rank = 1;
      dst_strides[0] = 1;
    }
    if (numel() > 0) {
      const void* lo = data_;
      const void* hi = data_;
      {
        std::int64_t max_off = 0, min_off = 0;
        for (int d = 0; d < ext.rank; ++d) {
          const std::int64_t span = (ext[d] - 1) * dst_strides[d];
          (span < 0 ? min_off : max_off) += span;
        }
        lo = data_ + min_off;
        hi = data_ + max_off + 1;
      }
      e.bind(ext);
      if (e.conflicts(lo, hi, data_, dst_strides)) {
        // The source reads memory this assignment writes in another order: go through a copy.
        Tensor<compute_type_t<T>, Dev> tmp(shape_);
        tmp.assign(source);
        return assign(tmp);
      }
      detail::run_assignment<T, Dev>(data_, dst_strides, ext, is_contiguous(), e, numel());
    }
    return *this;
  }
}

template <Scalar T, Device Dev>
template <class E>
requires requires { typename E::is_psalm_expression; }
Tensor<T, Dev>::Tensor(const E& expression) : Tensor(expression.shape()) {
  static_assert(!std::is_same_v<typename E::device_type, AnyDevice>,
                "psalm: an expression of constants alone has no shape; use Tensor::full");
  assign(expression);
}

template <Scalar T, Device Dev>
Tensor<T, Dev>& Tensor<T, Dev>::fill(T value) {
  return assign(ExprConstant<compute_type_t<T>>{convert<compute_type_t<T>>(value)});
}

template <Scalar T, Device Dev>
Tensor<T, Dev> Tensor<T, Dev>::full(const Shape& shape, T value) {
  Tensor out(shape);
  out.fill(value);
  return out;
}

template <Scalar T, Device Dev>
Tensor<T, Dev> Tensor<T, Dev>::clone() const {
  Tensor out(shape_);
  out.assign(*this);
  return out;
}

template <Scalar T, Device Dev>
Tensor<T, Dev> Tensor<T, Dev>::arange(double start, double stop, double step) {
  PSALM_CHECK(step != 0.0 && std::isfinite(start) && std::isfinite(stop) && std::isfinite(step),
              "arange: invalid range start=", start, " stop=", stop, " step=", step);
  const double count = std::ceil((stop - start) / step);
  Tensor out(Shape{count > 0 ? static_cast<std::int64_t>(count) : 0});
  if (out.numel())
    Executor<Dev>::launch(out.numel(), kernels::FillArange<T>{out.data(), start, step});
  return out;
}

template <Scalar T, Device Dev>
Tensor<T, Dev> Tensor<T, Dev>::rand(const Shape& shape, std::uint64_t seed, std::uint64_t stream) {
  Tensor out(shape);
  if (out.numel())
    Executor<Dev>::launch(out.numel(),
                          kernels::FillRandom<T>{out.data(), {seed, stream}, 1.0, 0.0, false});
  return out;
}

template <Scalar T, Device Dev>
Tensor<T, Dev> Tensor<T, Dev>::randn(const Shape& shape, std::uint64_t seed, double mean,
                                     double std, std::uint64_t stream) {
  Tensor out(shape);
  if (out.numel())
    Executor<Dev>::launch(out.numel(),
                          kernels::FillRandom<T>{out.data(), {seed, stream}, std, mean, true});
  return out;
}

}  // namespace psalm
