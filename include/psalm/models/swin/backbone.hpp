// psalm/models/swin/backbone.hpp — SwinBackbone, PSALM's image encoder (Mask2Former's
// D2SwinTransformer): PatchEmbed, the stages with PatchMerging between them, and a LayerNorm
// `norm{s}` per returned stage; returns res2..res5 channels-first (B, C_s, H_s, W_s) as
// nn::FeatureMaps. Parameter names are Mask2Former's Swin keys (nn::load_state_dict with a
// prefix such as "backbone." or "model.vision_tower."); relative_position_index is recomputable.
// Depends on: nn, models/swin/{config, patch_embed, stage}. Test: tests/swin/test_backbone.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "psalm/models/swin/config.hpp"
#include "psalm/models/swin/patch_embed.hpp"
#include "psalm/models/swin/stage.hpp"
#include "psalm/nn/feature_maps.hpp"

namespace psalm::models::swin {

using autograd::Real;
using autograd::Var;

// Letters: B batch, Hi x Wi image, C_s = embed_dim * 2^s channels and H_s x W_s map of stage s
// (H_0 = ceil(Hi / patch), H_{s+1} = ceil(H_s / 2)).

namespace detail {

/// splitmix64: decorrelated drop path keys for the blocks of one seed.
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t block) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (block + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace detail

template <Real T, Device Dev = cpu>
class SwinBackbone : public nn::Module<T, Dev> {
 public:
  /// Builds the layers with PyTorch's default initialisation (the bias tables truncated normal,
  /// std 0.02), drawn from `rng`. Drop path rates rise linearly from 0 to drop_path_rate over
  /// all blocks; block g draws its masks under key mix(drop_path_seed, g).
  SwinBackbone(const SwinConfig& config, nn::InitRng& rng, std::uint64_t drop_path_seed = 0)
      : config_(config) {
    config.validate();
    patch_embed = PatchEmbed<T, Dev>(config.num_channels, config.embed_dim, config.patch_size,
                                     config.patch_norm, config.layer_norm_eps, rng);
    const std::int64_t total = config.total_blocks();
    std::int64_t g = 0;  // global block index
    for (std::int64_t s = 0; s < config.num_stages(); ++s) {
      std::vector<double> rates;
      std::vector<std::uint64_t> seeds;
      for (std::int64_t b = 0; b < config.depths[s]; ++b, ++g) {
        // ref: torch.linspace(0, drop_path_rate, sum(depths)) in Mask2Former swin.py
        rates.push_back(total > 1 ? config.drop_path_rate * static_cast<double>(g) /
                                        static_cast<double>(total - 1)
                                  : 0.0);
        seeds.push_back(detail::mix_seed(drop_path_seed, static_cast<std::uint64_t>(g)));
      }
      const SwinBlockOptions block{.dim = config.stage_dim(s),
                                   .heads = config.num_heads[s],
                                   .window = config.window_size,
                                   .mlp_ratio = config.mlp_ratio,
                                   .qkv_bias = config.qkv_bias,
                                   .eps = config.layer_norm_eps};
      layers.emplace_back(block, rates, seeds, s + 1 < config.num_stages(), rng);
      norms.emplace_back(config.stage_dim(s), config.layer_norm_eps);
    }
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("patch_embed", patch_embed);
    v.children("layers", layers);
    for (std::int64_t s = 0; s < config_.num_stages(); ++s)
      if (config_.stage_is_output(s)) v.child("norm" + std::to_string(s), norms[s]);
  }

  /// image (B, Ci, Hi, Wi) -> the normalised stage maps (B, C_s, H_s, W_s): stage s as res{s+2}
  /// for the stages in out_indices (Mask2Former's "res2" .. "res5").
  nn::FeatureMaps<T, Dev> operator()(const Var<T, Dev>& image) {
    nn::FeatureMaps<T, Dev> out;
    Var<T, Dev> x = patch_embed(image);  // (B, H_0, W_0, C_0)
    for (std::int64_t s = 0; s < config_.num_stages(); ++s) {
      StageOutput<T, Dev> stage = layers[s](x);  // out (B, H_s, W_s, C_s)
      if (config_.stage_is_output(s)) {
        const Var<T, Dev> normed = norms[s](stage.out);  // (B, H_s, W_s, C_s)
        const Var<T, Dev> map =
            autograd::contiguous(autograd::permute(normed, {0, 3, 1, 2}));  // (B, C_s, H_s, W_s)
        out.set(static_cast<int>(s) + 2, map);
      }
      if (s + 1 < config_.num_stages()) x = stage.next;  // (B, H_{s+1}, W_{s+1}, C_{s+1})
    }
    return out;
  }

  const SwinConfig& config() const { return config_; }

  PatchEmbed<T, Dev> patch_embed;
  std::vector<SwinStage<T, Dev>> layers;
  std::vector<nn::LayerNorm<T, Dev>> norms;  // norms[s] is `norm{s}` (listed for out stages)

 private:
  SwinConfig config_;
};

}  // namespace psalm::models::swin
