// tools/components/projector.hpp — `psalm forward --component projector`: the vision-language
// projector (PSALM's swin_conv, or linear / mlp{N}x_gelu / identity) in eval mode (BatchNorm
// with running statistics) on the encoder's res5 map. The config uses PSALM's config.json keys
// (docs/projector.md); the weights are loaded strictly under --prefix (model.mm_projector. for
// the released checkpoint). Test: tests/projector/test_component.cpp.
#pragma once

#include "components/component.hpp"
#include "psalm/autograd/no_grad.hpp"
#include "psalm/models/projector.hpp"

namespace psalm::cli {

inline Component projector_component() {
  return {
      "projector",
      "vision-language projector (PSALM swin_conv: BasicBlock + Linear; or linear / mlpNx_gelu)",
      "res5 (B, mm_input_embeds, H, W) float32 [linear / mlp: also (B, L, mm_hidden_size)]",
      "tokens (B, ceil(H/2) ceil(W/2), projector_outdim) [linear / mlp: (B, L, hidden_size)]",
      [](const ComponentRequest& req) {
        const models::projector::ProjectorConfig config =
            models::projector::ProjectorConfig::from_config(req.require_config());
        nn::InitRng rng{0};  // every value is overwritten by the strict load below
        auto projector = models::projector::make_projector<float>(config, rng);
        nn::load_state_dict(*projector, req.require_weights(), {.prefix = req.weights_prefix});
        projector->eval();
        const autograd::NoGrad no_grad;
        const Tensor<float> res5 = req.input<float>("res5");  // (B, C, H, W)
        ComponentOutputs out;
        out.insert("tokens", (*projector)(nn::Var<float>(res5)).value().contiguous());  // (B, L, D)
        return out;
      }};
}

}  // namespace psalm::cli
