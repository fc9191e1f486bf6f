// psalm/models/projector/component.hpp — `psalm forward --component projector` (nn::Component):
// the projector a config names (PSALM's swin_conv, linear / mlp{N}x_gelu / identity) in eval mode
// on the encoder's res5 map; config keys as PSALM's config.json (docs/projector.md), weights
// strict under --prefix (model.mm_projector.). Depends on: models/projector, nn/component.
// Test: tests/projector/test_component.cpp.
// Host code: a component runs on the CPU backend (psalm/tensor.hpp).
#pragma once

#include "psalm/autograd/no_grad.hpp"
#include "psalm/models/projector.hpp"
#include "psalm/nn/component.hpp"
#include "psalm/tensor.hpp"  // the CPU backend: a component runs on the CPU

namespace psalm::models::projector {

inline nn::Component projector_component() {
  return {
      "projector",
      "vision-language projector (PSALM swin_conv: BasicBlock + Linear; or linear / mlpNx_gelu)",
      "res5 (B, mm_input_embeds, H, W) float32 [linear / mlp: also (B, L, mm_hidden_size)]",
      "tokens (B, ceil(H/2) ceil(W/2), projector_outdim) [linear / mlp: (B, L, hidden_size)]",
      [](const nn::ComponentRequest& req) {
        const ProjectorConfig config = ProjectorConfig::from_json(req.require_config());
        nn::InitRng rng{0};  // every value is overwritten by the strict load below
        auto projector = make_projector<float>(config, rng);
        req.load_for_eval(*projector);
        const autograd::NoGrad no_grad;
        const Tensor<float> res5 = req.input<float>("res5");  // (B, C, H, W)
        nn::ComponentOutputs out;
        out.insert("tokens", (*projector)(nn::Var<float>(res5)).value().contiguous());  // (B, L, D)
        return out;
      }};
}

}  // namespace psalm::models::projector
