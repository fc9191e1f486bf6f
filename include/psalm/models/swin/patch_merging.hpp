// psalm/models/swin/patch_merging.hpp — PatchMerging, the 2x downsampling between Swin stages:
// the map padded to even size, each 2x2 neighbourhood gathered into 4C channels in upstream
// order (x0, x1, x2, x3) = offsets (0,0), (1,0), (0,1), (1,1) as (row, col), LayerNorm(4C),
// Linear(4C -> 2C, no bias). Names as Mask2Former's `downsample.{norm, reduction}`.
// Depends on: nn. Test: tests/swin/test_swin_parts.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/pad.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/nn/layer_norm.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::models::swin {

using autograd::Real;
using autograd::Var;

// Letters: B batch, H x W input map, H2 = ceil(H / 2), W2 = ceil(W / 2), C input channels.

template <Real T, Device Dev = cpu>
class PatchMerging : public nn::Module<T, Dev> {
 public:
  PatchMerging() = default;
  PatchMerging(std::int64_t dim, double eps, nn::InitRng& rng)
      : norm(4 * dim, eps), reduction(4 * dim, 2 * dim, rng, /*bias=*/false) {}

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("norm", norm);
    v.child("reduction", reduction);
  }

  /// x (B, H, W, C) -> (B, H2, W2, 2C).
  Var<T, Dev> operator()(const Var<T, Dev>& x) const {
    PSALM_CHECK(x.rank() == 4, "PatchMerging: input must be (B, H, W, C), got ", x.shape());
    const std::int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
    const Var<T, Dev> even = (h % 2) + (w % 2) > 0 ? autograd::pad(x, {0, 0, 0, w % 2, 0, h % 2})
                                                   : x;  // (B, 2H2, 2W2, C)
    const std::int64_t h2 = (h + 1) / 2, w2 = (w + 1) / 2;
    // (B, H2, row, W2, col, C) -> (B, H2, W2, col, row, C): channel block col * 2 + row, i.e.
    // x0 = (0,0), x1 = (1,0), x2 = (0,1), x3 = (1,1). ref: Mask2Former swin.py PatchMerging.
    const Var<T, Dev> blocks =
        autograd::reshape(even, {b, h2, 2, w2, 2, c});  // (B, H2, 2, W2, 2, C)
    const Var<T, Dev> gathered = autograd::reshape(autograd::permute(blocks, {0, 1, 3, 4, 2, 5}),
                                                   {b, h2, w2, 4 * c});  // (B, H2, W2, 4C)
    return reduction(norm(gathered));                                    // (B, H2, W2, 2C)
  }

  nn::LayerNorm<T, Dev> norm;    // (4C)
  nn::Linear<T, Dev> reduction;  // (2C, 4C), no bias
};

}  // namespace psalm::models::swin
