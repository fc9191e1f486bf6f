// psalm/tensor/host.hpp — copies and fills of CPU tensors made by a loop on the calling thread,
// without an executor: host code (io, data, psalm's image pre-processing) uses them, so it needs no
// backend, stays in its layer and compiles in any program, g++ or nvcc. Everything else uses
// contiguous() / clone() / to_vector() / full(), which run on the program's executor.
// Depends on: tensor/tensor. Test: tests/tensor/test_host.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "psalm/tensor/tensor.hpp"

namespace psalm {

/// A contiguous copy of `t` with its own storage (as t.clone()).
template <Scalar T>
Tensor<T, cpu> host_clone(const Tensor<T, cpu>& t) {
  Tensor<T, cpu> out(t.shape());
  const std::int64_t n = t.numel();
  if (n == 0) return out;
  if (t.is_contiguous()) {
    std::copy_n(t.data(), n, out.data());
    return out;
  }
  // Rows of the last axis: the offset of each row from its outer coordinates, then a strided
  // inner loop.
  const int rank = t.rank();
  const std::int64_t inner = t.size(rank - 1), step = t.stride(rank - 1);
  T* dst = out.data();
  for (std::int64_t row = 0; row < n / inner; ++row) {
    std::int64_t offset = 0, rest = row;
    for (int d = rank - 2; d >= 0; --d) {
      offset += (rest % t.size(d)) * t.stride(d);
      rest /= t.size(d);
    }
    const T* src = t.data() + offset;
    for (std::int64_t j = 0; j < inner; ++j) *dst++ = src[j * step];
  }
  return out;
}

/// `t` itself when contiguous (sharing storage), else host_clone(t) (as t.contiguous()).
template <Scalar T>
Tensor<T, cpu> host_contiguous(const Tensor<T, cpu>& t) {
  return t.is_contiguous() ? t : host_clone(t);
}

/// A new tensor of `shape` with every element `value` (as Tensor::full).
template <Scalar T>
Tensor<T, cpu> host_full(const Shape& shape, T value) {
  Tensor<T, cpu> out(shape);
  std::fill_n(out.data(), out.numel(), value);
  return out;
}

/// The elements in row-major order (as t.to_vector()).
template <Scalar T>
std::vector<T> host_to_vector(const Tensor<T, cpu>& t) {
  const Tensor<T, cpu> c = host_contiguous(t);
  return std::vector<T>(c.data(), c.data() + c.numel());
}

}  // namespace psalm
