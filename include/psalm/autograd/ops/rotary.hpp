// psalm/autograd/ops/rotary.hpp — NeoX-style partial rotary position embedding as a
// differentiable op: the first `rotary_dim` features of every head are rotated in pairs
// (i, i + rotary_dim / 2) by angle position * theta^(-2i / rotary_dim); the remaining features
// pass through (kernels/rotary.hpp). The backward is the inverse rotation.
// Depends on: autograd/tape, kernels/rotary. Test: tests/autograd/test_rotary.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/rotary.hpp"

namespace psalm::autograd {

// Letters: B batch, L positions, H heads, Dh head size, R rotary size, F = R / 2 frequencies.

/// cos and sin of the rotary angles of positions [offset, offset + L), each (L, F).
template <Real T, Device Dev = cpu>
struct RotaryTables {
  Tensor<T, Dev> cos, sin;  // (L, F) each
  std::int64_t rotary_dim = 0;

  /// ref: transformers PhiRotaryEmbedding: inv_freq = 1 / theta^(2i / R) and the angle
  /// position * inv_freq are float32 there; we round them the same way so long positions agree.
  static RotaryTables make(std::int64_t rotary_dim, double theta, std::int64_t offset,
                           std::int64_t length) {
    PSALM_CHECK(
        rotary_dim >= 0 && rotary_dim % 2 == 0 && length >= 0 && offset >= 0,
        "RotaryTables: needs an even rotary_dim and non-negative positions, got rotary_dim ",
        rotary_dim, ", offset ", offset, ", length ", length);
    const std::int64_t f = rotary_dim / 2;
    std::vector<T> cos_v(static_cast<std::size_t>(length * f)), sin_v(cos_v.size());
    for (std::int64_t i = 0; i < f; ++i) {
      const float exponent = static_cast<float>(2 * i) / static_cast<float>(rotary_dim);
      const float inv_freq = 1.0f / static_cast<float>(std::pow(theta, exponent));
      for (std::int64_t l = 0; l < length; ++l) {
        const float angle = static_cast<float>(offset + l) * inv_freq;
        cos_v[static_cast<std::size_t>(l * f + i)] = static_cast<T>(std::cos(double{angle}));
        sin_v[static_cast<std::size_t>(l * f + i)] = static_cast<T>(std::sin(double{angle}));
      }
    }
    RotaryTables t;
    t.rotary_dim = rotary_dim;
    t.cos = Tensor<T>::from_data(cos_v, Shape{length, f}).template to<Dev>();  // (L, F)
    t.sin = Tensor<T>::from_data(sin_v, Shape{length, f}).template to<Dev>();  // (L, F)
    return t;
  }
};

namespace detail {

template <Real T, Device Dev>
Tensor<T, Dev> rotate(const Tensor<T, Dev>& x, const RotaryTables<T, Dev>& t, T sign) {
  const Tensor<T, Dev> xc = x.contiguous();
  Tensor<T, Dev> y(xc.shape());  // (B, L, H, Dh)
  if (xc.numel() > 0)
    Executor<Dev>::launch(xc.numel(), psalm::kernels::RotaryBody<T>{
                                          xc.data(), y.data(), t.cos.data(), t.sin.data(),
                                          xc.size(1), xc.size(2), xc.size(3), t.rotary_dim, sign});
  return y;
}

template <Real T, Device Dev>
struct RotaryContext {
  GradRef<T, Dev> x;
  RotaryTables<T, Dev> tables;
};

}  // namespace detail

/// x (B, L, H, Dh) -> (B, L, H, Dh) with the first R features of each head rotated by the
/// angles of `tables` (built for these L positions).
template <Real T, Device Dev>
Var<T, Dev> apply_rotary(const Var<T, Dev>& x, const RotaryTables<T, Dev>& tables) {
  PSALM_CHECK(x.rank() == 4, "apply_rotary: x must be (B, L, H, Dh), got ", x.shape());
  PSALM_CHECK(tables.cos.rank() == 2 && tables.cos.size(0) == x.size(1) &&
                  tables.rotary_dim <= x.size(3) && tables.cos.size(1) * 2 == tables.rotary_dim,
              "apply_rotary: tables of shape ", tables.cos.shape(), " (rotary_dim ",
              tables.rotary_dim, ") do not fit x of shape ", x.shape());
  Tensor<T, Dev> y = detail::rotate(x.value(), tables, T{1});  // (B, L, H, Dh)
  return record(std::move(y), should_record(x), detail::RotaryContext<T, Dev>{x.grad_ref(), tables},
                [](detail::RotaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  c.x.accumulate(detail::rotate(d_y, c.tables, T{-1}));
                });
}

}  // namespace psalm::autograd
