// psalm/models/phi/rotary.hpp — NeoX-style partial rotary position embedding (PSALM_SPEC.md
// §1.5): the first `rotary_dim` features of every head are rotated in pairs (i, i + rotary_dim/2)
// by angle position * theta^(-2i / rotary_dim); the remaining features pass through. A
// differentiable op: the backward is the inverse rotation. Depends on: autograd/tape,
// models/phi/config. Test: tests/phi/test_rotary.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "psalm/autograd/tape.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/models/phi/config.hpp"

namespace psalm::models::phi {

using autograd::GradRef;
using autograd::Real;
using autograd::Var;

// Letters: B batch, L positions, H heads, Dh head size, R rotary size, F = R / 2 frequencies.

/// cos and sin of the rotary angles of positions [offset, offset + L), each (L, F).
template <Real T, Device Dev = cpu>
struct RotaryTables {
  Tensor<T, Dev> cos, sin;  // (L, F) each
  std::int64_t rotary_dim = 0;

  /// ref: transformers PhiRotaryEmbedding: inv_freq = 1 / theta^(2i / R) and the angle
  /// position * inv_freq are float32 there; we round them the same way so long positions agree.
  static RotaryTables make(const PhiConfig& c, std::int64_t offset, std::int64_t length) {
    const std::int64_t r = c.rotary_dim(), f = r / 2;
    std::vector<T> cos_v(static_cast<std::size_t>(length * f)), sin_v(cos_v.size());
    for (std::int64_t i = 0; i < f; ++i) {
      const float exponent = static_cast<float>(2 * i) / static_cast<float>(r);
      const float inv_freq = 1.0f / static_cast<float>(std::pow(c.rope_theta, exponent));
      for (std::int64_t l = 0; l < length; ++l) {
        const float angle = static_cast<float>(offset + l) * inv_freq;
        cos_v[static_cast<std::size_t>(l * f + i)] = static_cast<T>(std::cos(double{angle}));
        sin_v[static_cast<std::size_t>(l * f + i)] = static_cast<T>(std::sin(double{angle}));
      }
    }
    RotaryTables t;
    t.rotary_dim = r;
    t.cos = Tensor<T>::from_data(cos_v, Shape{length, f}).template to<Dev>();  // (L, F)
    t.sin = Tensor<T>::from_data(sin_v, Shape{length, f}).template to<Dev>();  // (L, F)
    return t;
  }
};

/// Kernel body: element i of (B, L, H, Dh), y = rot(x) with sin multiplied by `sign`
/// (+1 forward; -1 is the inverse rotation, the backward of the forward).
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
    // rotate_half(x) = cat(-x[half:R], x[0:half])
    y[i] = d < half ? x[i] * c - x[i + half] * s : x[i] * c + x[i - half] * s;
  }
};

namespace detail {

template <Real T, Device Dev>
Tensor<T, Dev> rotate(const Tensor<T, Dev>& x, const RotaryTables<T, Dev>& t, T sign) {
  const Tensor<T, Dev> xc = x.contiguous();
  Tensor<T, Dev> y(xc.shape());  // (B, L, H, Dh)
  if (xc.numel() > 0)
    Executor<Dev>::launch(xc.numel(),
                          RotaryBody<T>{xc.data(), y.data(), t.cos.data(), t.sin.data(), xc.size(1),
                                        xc.size(2), xc.size(3), t.rotary_dim, sign});
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
  return autograd::record(std::move(y), autograd::should_record(x),
                          detail::RotaryContext<T, Dev>{x.grad_ref(), tables},
                          [](detail::RotaryContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                            c.x.accumulate(detail::rotate(d_y, c.tables, T{-1}));
                          });
}

}  // namespace psalm::models::phi
