// psalm/models/projector/projector.hpp — make_projector: builds the projector a config names
// (builder.py's build_vision_projector): swin_conv (PSALM), linear, mlp{N}x_gelu, identity.
// Depends on: models/projector/{base,config,swin_conv,linear,mlp_gelu}.
// Test: tests/projector/test_projector.cpp.
#pragma once

#include <memory>

#include "psalm/models/projector/base.hpp"
#include "psalm/models/projector/config.hpp"
#include "psalm/models/projector/linear.hpp"
#include "psalm/models/projector/mlp_gelu.hpp"
#include "psalm/models/projector/swin_conv.hpp"

namespace psalm::models::projector {

// Letters: B batch, L tokens, C channels.

/// "identity": the encoder's tokens unchanged (a map (B, C, H, W) becomes tokens (B, H W, C)).
template <nn::Real T, Device Dev = cpu>
class IdentityProjector : public Projector<T, Dev> {
 public:
  void visit(nn::ModuleVisitor<T, Dev>&) override {}
  nn::Var<T, Dev> operator()(const nn::Var<T, Dev>& x) override {
    return detail::as_tokens(x, "IdentityProjector");  // (B, L, C)
  }
};

/// The projector of `config.mm_projector_type`, initialised from `rng` as upstream does.
template <nn::Real T, Device Dev = cpu>
std::unique_ptr<Projector<T, Dev>> make_projector(const ProjectorConfig& config, nn::InitRng& rng) {
  config.validate();
  switch (config.type()) {
    case ProjectorType::swin_conv:
      return std::make_unique<SwinConvProjector<T, Dev>>(config, rng);
    case ProjectorType::linear:
      return std::make_unique<LinearProjector<T, Dev>>(config, rng);
    case ProjectorType::mlp_gelu:
      return std::make_unique<MlpGeluProjector<T, Dev>>(config, rng);
    case ProjectorType::identity:
      return std::make_unique<IdentityProjector<T, Dev>>();
  }
  fail("make_projector: unhandled mm_projector_type \"", config.mm_projector_type, "\"");
}

}  // namespace psalm::models::projector
