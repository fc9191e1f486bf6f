// psalm/models/swin/component.hpp — `psalm forward --component swin` (nn::Component): the Swin
// backbone in eval mode (no drop path) on pixel_values, returning res2..res5 after the per-stage
// norms; config a Hugging Face SwinConfig JSON, weights Mask2Former's Swin keys loaded strictly
// under --prefix (backbone., or model.vision_tower. for PSALM's). Depends on: models/swin,
// nn/component. Test: tests/swin/test_component.cpp.
// Host code: a component runs on the CPU backend (psalm/tensor.hpp).
#pragma once

#include <string>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/models/swin.hpp"
#include "psalm/nn/component.hpp"

namespace psalm::models::swin {

inline nn::Component swin_component() {
  return {"swin",
          "Swin Transformer backbone (Mask2Former's D2SwinTransformer; PSALM's Swin-B encoder)",
          "pixel_values (B, num_channels, H, W) float32",
          "res2..res5 (B, embed_dim * 2^s, ceil(H / patch_size / 2^s), ...) for the stages in "
          "out_indices",
          [](const nn::ComponentRequest& req) {
            const SwinConfig config = SwinConfig::from_json(req.require_config());
            auto backbone = req.load_model<SwinBackbone<float>>(config);
            const autograd::NoGrad no_grad;
            const Tensor<float> pixels = req.input<float>("pixel_values");  // (B, Ci, Hi, Wi)
            PSALM_CHECK(pixels.rank() == 4 && pixels.size(1) == config.num_channels, req.component,
                        ": pixel_values must be (B, ", config.num_channels, ", H, W), got ",
                        pixels.shape());
            const nn::FeatureMaps<float> features = backbone(nn::Var<float>(pixels));
            nn::ComponentOutputs out;
            for (int k : features.levels())
              out.insert("res" + std::to_string(k),
                         features.res(k).value().contiguous());  // (B, C_s, H_s, W_s)
            return out;
          }};
}

}  // namespace psalm::models::swin
