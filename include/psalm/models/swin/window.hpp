// psalm/models/swin/window.hpp — Swin's window geometry as the model uses it: the window ops
// and shifted-window regions of autograd/ops/window.hpp under the model's namespace, and the
// relative position index that gathers the bias table of window attention.
// Depends on: autograd/ops/window, tensor. Test: tests/swin/test_swin_parts.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/window.hpp"

namespace psalm::models::swin {

using autograd::Real;
using autograd::shifted_window_mask;
using autograd::Var;
using autograd::window_partition;
using autograd::window_regions;
using autograd::window_reverse;
using autograd::WindowGrid;

// Letters: w window, N = w * w tokens per window.

/// Relative position index (N, N) of a w x w window: for tokens i = (yi, xi), j = (yj, xj),
/// (yi - yj + w - 1) * (2w - 1) + (xi - xj + w - 1), a row of the (2w - 1)^2 bias table.
template <Scalar I = std::int64_t>
Tensor<I> relative_position_index(std::int64_t window) {
  const std::int64_t n = window * window, span = 2 * window - 1;
  Tensor<I> index(Shape{n, n});  // (N, N)
  I* out = index.data();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t dy = i / window - j / window + window - 1;
      const std::int64_t dx = i % window - j % window + window - 1;
      out[i * n + j] = static_cast<I>(dy * span + dx);
    }
  return index;
}

}  // namespace psalm::models::swin
