// psalm/nn/map_tokens.hpp — a feature map as a token sequence and back: (B, C, H, W) <->
// (B, H W, C), row-major (token index = row * W + col), as upstream's
// `x.flatten(2).transpose(1, 2)` / `x.transpose(1, 2).view(B, C, H, W)`. The one pair of
// helpers the deformable encoder, the pixel decoder, the mask decoder and the projectors use.
// Depends on: autograd/ops/shape. Test: tests/nn/test_feature_maps.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/shape.hpp"
#include "psalm/core/error.hpp"

namespace psalm::nn {

// Letters: B batch, C channels, H x W plane, L = H W tokens.

/// x (B, C, H, W) -> (B, L, C), a differentiable view (no copy).
template <autograd::Real T, Device Dev>
autograd::Var<T, Dev> map_to_tokens(const autograd::Var<T, Dev>& x) {
  PSALM_CHECK(x.rank() == 4, "map_to_tokens: expected a map (B, C, H, W), got ", x.shape());
  const std::int64_t b = x.size(0), c = x.size(1), l = x.size(2) * x.size(3);
  return autograd::transpose(autograd::reshape(x, {b, c, l}), 1, 2);  // (B, L, C)
}

/// The same for a constant tensor: x (B, C, H, W) -> a (B, L, C) view.
template <Scalar T, Device Dev>
Tensor<T, Dev> map_to_tokens(const Tensor<T, Dev>& x) {
  PSALM_CHECK(x.rank() == 4, "map_to_tokens: expected a map (B, C, H, W), got ", x.shape());
  const std::int64_t b = x.size(0), c = x.size(1), l = x.size(2) * x.size(3);
  return x.reshape({b, c, l}).transpose(1, 2);  // (B, L, C)
}

/// tokens (B, H W, C) -> the map (B, C, H, W).
template <autograd::Real T, Device Dev>
autograd::Var<T, Dev> tokens_to_map(const autograd::Var<T, Dev>& tokens, std::int64_t h,
                                    std::int64_t w) {
  PSALM_CHECK(tokens.rank() == 3 && h > 0 && w > 0 && tokens.size(1) == h * w,
              "tokens_to_map: expected tokens (B, ", h, " * ", w, ", C), got ", tokens.shape());
  const std::int64_t b = tokens.size(0), c = tokens.size(2);
  return autograd::reshape(autograd::transpose(tokens, 1, 2), {b, c, h, w});  // (B, C, H, W)
}

}  // namespace psalm::nn
