// tools/components/swin.hpp — `psalm forward --component swin`: the Swin backbone (PSALM's
// image encoder) in eval mode (no drop path) on pixel_values, returning res2..res5 after the
// per-stage norms. The config is a Hugging Face SwinConfig JSON; the weights use Mask2Former's
// Swin key names, loaded strictly under --prefix (backbone. for a Mask2Former checkpoint,
// model.vision_tower. for PSALM's). Test: tests/swin/test_component.cpp.
#pragma once

#include <string>

#include "components/component.hpp"
#include "psalm/autograd/no_grad.hpp"
#include "psalm/models/swin.hpp"

namespace psalm::cli {

inline Component swin_component() {
  return {"swin",
          "Swin Transformer backbone (Mask2Former's D2SwinTransformer; PSALM's Swin-B encoder)",
          "pixel_values (B, num_channels, H, W) float32",
          "res2..res5 (B, embed_dim * 2^s, ceil(H / patch_size / 2^s), ...) for the stages in "
          "out_indices",
          [](const ComponentRequest& req) {
            const models::swin::SwinConfig config =
                models::swin::swin_config_from(req.require_config());
            nn::InitRng rng{0};  // every value is overwritten by the strict load below
            models::swin::SwinBackbone<float> backbone(config, rng);
            backbone.load(req.require_weights(), req.weights_prefix);
            backbone.eval();
            const autograd::NoGrad no_grad;
            const Tensor<float> pixels = req.input<float>("pixel_values");  // (B, Ci, Hi, Wi)
            PSALM_CHECK(pixels.rank() == 4 && pixels.size(1) == config.num_channels, req.component,
                        ": pixel_values must be (B, ", config.num_channels, ", H, W), got ",
                        pixels.shape());
            const models::swin::SwinFeatures<float> features = backbone(nn::Var<float>(pixels));
            ComponentOutputs out;
            for (std::size_t s = 0; s < features.stages.size(); ++s)
              if (features.stages[s].defined())
                out.insert("res" + std::to_string(s + 2),
                           features.stages[s].value().contiguous());  // (B, C_s, H_s, W_s)
            return out;
          }};
}

}  // namespace psalm::cli
