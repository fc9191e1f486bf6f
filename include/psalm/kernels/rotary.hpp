// psalm/kernels/rotary.hpp — the body of NeoX-style partial rotary position embedding: the
// first `rotary_dim` features of every head are rotated in pairs (d, d + rotary_dim / 2) by the
// angle of their position, the other features pass through; with the sine negated it is the
// inverse rotation (the backward). Depends on: core. Test: tests/kernels/test_rotary.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/macros.hpp"

namespace psalm::kernels {

// Letters: B batch, L positions, H heads, Dh head size, R rotary size, F = R / 2 frequencies.

/// Element i of (B, L, H, Dh): y = rot(x) with sin multiplied by `sign` (+1 forward; -1 is the
/// inverse rotation, the backward of the forward). rotate_half(x) = cat(-x[F:R], x[0:F]).
/// requires: x, y (B, L, H, Dh) contiguous (not aliased); cos, sin (L, F) contiguous.
template <class T>
struct RotaryBody {
  const T* x;
  T* y;
  const T* cos;  // (L, F)
  const T* sin;  // (L, F)
  std::int64_t length, heads, head_dim, rotary_dim;
  T sign;

  PSALM_HD void operator()(std::int64_t i) const {
    const std::int64_t d = i % head_dim;
    if (d >= rotary_dim) {
      y[i] = x[i];
      return;
    }
    const std::int64_t half = rotary_dim / 2;
    const std::int64_t l = (i / (head_dim * heads)) % length;
    const std::int64_t f = d < half ? d : d - half;
    const T c = cos[l * half + f], s = sign * sin[l * half + f];
    y[i] = d < half ? x[i] * c - x[i + half] * s : x[i] * c + x[i - half] * s;
  }
};

}  // namespace psalm::kernels
