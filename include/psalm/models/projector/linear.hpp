// psalm/models/projector/linear.hpp — the "linear" projector of LLaVA / PSALM's builder.py:
// one nn.Linear(mm_hidden_size -> hidden_size) on the encoder's tokens. Its state_dict names
// are the Linear's own (weight, bias; upstream model.mm_projector.weight).
// Depends on: nn/linear, models/projector/{base,config}. Test:
// tests/projector/test_projector.cpp.
#pragma once

#include "psalm/models/projector/base.hpp"
#include "psalm/models/projector/config.hpp"
#include "psalm/nn/linear.hpp"

namespace psalm::models::projector {

// Letters: B batch, L tokens (H W for a map), C = mm_hidden_size, D = hidden_size.

template <nn::Real T, Device Dev = cpu>
class LinearProjector : public Projector<T, Dev> {
 public:
  LinearProjector() = default;
  LinearProjector(const ProjectorConfig& config, nn::InitRng& rng)
      : proj(config.mm_hidden_size, config.hidden_size, rng) {
    config.validate();
    PSALM_CHECK(config.type() == ProjectorType::linear, "LinearProjector: config has ",
                "mm_projector_type \"", config.mm_projector_type, "\", not linear");
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.parameter("weight", proj.weight);  // upstream: the projector IS the nn.Linear
    v.parameter("bias", proj.bias);
  }

  /// tokens (B, L, C) or a map (B, C, H, W) -> (B, L, D).
  nn::Var<T, Dev> operator()(const nn::Var<T, Dev>& x) override {
    const nn::Var<T, Dev> tokens = detail::as_tokens(x, "LinearProjector");  // (B, L, C)
    return proj(tokens);                                                     // (B, L, D)
  }

  nn::Linear<T, Dev> proj;  // (D, C), (D)
};

}  // namespace psalm::models::projector
