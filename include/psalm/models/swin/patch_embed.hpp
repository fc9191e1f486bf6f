// psalm/models/swin/patch_embed.hpp — PatchEmbed: the image padded (bottom / right, zeros) to a
// multiple of the patch size, a patch x patch stride-patch Conv2d to embed_dim channels, then
// LayerNorm over channels; returns the token map channels-last. Names as Mask2Former's
// `patch_embed.{proj, norm}`. Depends on: nn. Test: tests/swin/test_swin_parts.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/pad.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/nn/conv2d.hpp"
#include "psalm/nn/layer_norm.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::models::swin {

using autograd::Real;
using autograd::Var;

// Letters: B batch, Ci image channels, Hi x Wi image, H x W patch grid, C embed_dim.

template <Real T, Device Dev = cpu>
class PatchEmbed : public nn::Module<T, Dev> {
 public:
  PatchEmbed() = default;
  PatchEmbed(std::int64_t in_channels, std::int64_t embed_dim, std::int64_t patch, bool norm,
             double eps, nn::InitRng& rng)
      : proj(in_channels, embed_dim, {patch, patch}, rng, {.stride = {patch, patch}}),
        patch_(patch),
        has_norm_(norm) {
    if (norm) this->norm = nn::LayerNorm<T, Dev>(embed_dim, eps);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("proj", proj);
    if (has_norm_) v.child("norm", norm);
  }

  /// image (B, Ci, Hi, Wi) -> tokens (B, H, W, C) with H = ceil(Hi / patch), W = ceil(Wi / patch).
  Var<T, Dev> operator()(const Var<T, Dev>& image) const {
    PSALM_CHECK(image.rank() == 4 && image.size(1) == proj.weight.size(1),
                "PatchEmbed: the image must be (B, ", proj.weight.size(1), ", H, W), got ",
                image.shape());
    const std::int64_t pad_h = (patch_ - image.size(2) % patch_) % patch_;
    const std::int64_t pad_w = (patch_ - image.size(3) % patch_) % patch_;
    const Var<T, Dev> padded =
        pad_h + pad_w > 0 ? autograd::pad(image, {0, pad_w, 0, pad_h}) : image;  // (B, Ci, Hp, Wp)
    const Var<T, Dev> embedded = proj(padded);                                   // (B, C, H, W)
    const Var<T, Dev> tokens = autograd::permute(embedded, {0, 2, 3, 1});        // (B, H, W, C)
    return has_norm_ ? norm(tokens) : tokens;                                    // (B, H, W, C)
  }

  std::int64_t patch_size() const { return patch_; }

  nn::Conv2d<T, Dev> proj;     // (C, Ci, patch, patch) + bias (C)
  nn::LayerNorm<T, Dev> norm;  // (C), only with patch_norm

 private:
  std::int64_t patch_ = 4;
  bool has_norm_ = true;
};

}  // namespace psalm::models::swin
