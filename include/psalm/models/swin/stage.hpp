// psalm/models/swin/stage.hpp — SwinStage, one stage of the hierarchy (Mask2Former's
// BasicLayer): `depth` blocks alternating W-MSA and SW-MSA (shift = window / 2 on odd blocks),
// then an optional PatchMerging. The shifted-window regions are computed once per forward on
// the padded map, as upstream computes its attention mask once per layer. Names as
// `layers.{s}.{blocks.{b}, downsample}`. Depends on: models/swin/{block, patch_merging, window}.
// Test: tests/swin/test_backbone.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#include "psalm/models/swin/block.hpp"
#include "psalm/models/swin/patch_merging.hpp"
#include "psalm/models/swin/window.hpp"

namespace psalm::models::swin {

using autograd::Real;
using autograd::Var;

// Letters: B batch, H x W map of this stage, C its channels.

/// The stage's output map (before downsampling) and the next stage's input (after it).
template <Real T, Device Dev = cpu>
struct StageOutput {
  Var<T, Dev> out;   // (B, H, W, C)
  Var<T, Dev> next;  // (B, ceil(H/2), ceil(W/2), 2C), or `out` in the last stage
};

template <Real T, Device Dev = cpu>
class SwinStage : public nn::Module<T, Dev> {
 public:
  SwinStage() = default;
  /// Blocks from `block` (dim, heads, window, ...) with the given per-block drop path
  /// probabilities and seeds; PatchMerging when `downsample`.
  SwinStage(SwinBlockOptions block, const std::vector<double>& drop_path,
            const std::vector<std::uint64_t>& seeds, bool downsample, nn::InitRng& rng)
      : window_(block.window) {
    PSALM_CHECK(!drop_path.empty() && drop_path.size() == seeds.size(),
                "SwinStage: needs one drop path rate and seed per block");
    for (std::size_t b = 0; b < drop_path.size(); ++b) {
      block.shift = b % 2 == 0 ? 0 : block.window / 2;
      block.drop_path = drop_path[b];
      block.drop_path_seed = seeds[b];
      blocks.emplace_back(block, rng);
    }
    if (downsample) this->downsample.emplace(block.dim, block.eps, rng);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.children("blocks", blocks);
    if (downsample) v.child("downsample", *downsample);
  }

  /// x (B, H, W, C).
  StageOutput<T, Dev> operator()(const Var<T, Dev>& x) {
    const WindowGrid shifted(x.size(1), x.size(2), window_, window_ / 2);
    Tensor<std::uint8_t, Dev> regions;  // (nW, N)
    if (blocks.size() > 1) {
      if constexpr (std::is_same_v<Dev, cpu>) {
        regions = window_regions(shifted);
      } else {
        regions = window_regions(shifted).template to<Dev>();
      }
    }
    Var<T, Dev> h = x;
    for (auto& block : blocks) h = block(h, regions);  // (B, H, W, C)
    return {h, downsample ? (*downsample)(h) : h};
  }

  std::vector<SwinBlock<T, Dev>> blocks;
  std::optional<PatchMerging<T, Dev>> downsample;

 private:
  std::int64_t window_ = 7;
};

}  // namespace psalm::models::swin
