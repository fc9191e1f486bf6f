// psalm/models/phi/rotary.hpp — Phi's partial rotary position embedding (PSALM_SPEC.md §1.5):
// the op autograd/ops/rotary.hpp with tables built from a PhiConfig (rotary_dim() features of
// each head, rope_theta). Depends on: autograd/ops/rotary, models/phi/config.
// Test: tests/phi/test_gradients.cpp, tests/autograd/test_rotary.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/rotary.hpp"
#include "psalm/models/phi/config.hpp"

namespace psalm::models::phi {

using autograd::apply_rotary;
using autograd::GradRef;
using autograd::Real;
using autograd::Var;

/// cos and sin, each (L, F), of the rotary angles of positions [offset, offset + L) for `c`.
template <Real T, Device Dev = cpu>
struct RotaryTables : autograd::RotaryTables<T, Dev> {
  static RotaryTables make(const PhiConfig& c, std::int64_t offset, std::int64_t length) {
    return {autograd::RotaryTables<T, Dev>::make(c.rotary_dim(), c.rope_theta, offset, length)};
  }
};

}  // namespace psalm::models::phi
