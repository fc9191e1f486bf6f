// psalm/models/projector/tokens.hpp — a feature map as a token sequence: (B, C, H, W) ->
// (B, H W, C), row-major (token index = row * W + col), as upstream's
// `x.reshape(B, C, -1).permute(0, 2, 1)`; token sequences (B, L, C) pass through.
// Depends on: autograd/ops/shape. Test: tests/projector/test_projector.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/shape.hpp"

namespace psalm::models::projector {

/// x (B, C, H, W) -> (B, H W, C) (a differentiable view); x (B, L, C) is returned as it is.
template <autograd::Real T, Device Dev>
autograd::Var<T, Dev> map_to_tokens(const autograd::Var<T, Dev>& x, const char* who) {
  PSALM_CHECK(x.rank() == 3 || x.rank() == 4, who,
              ": input must be a map (B, C, H, W) or tokens (B, L, C), got ", x.shape());
  if (x.rank() == 3) return x;
  const std::int64_t b = x.size(0), c = x.size(1), l = x.size(2) * x.size(3);
  return autograd::permute(autograd::reshape(x, {b, c, l}), {0, 2, 1});  // (B, L, C)
}

}  // namespace psalm::models::projector
