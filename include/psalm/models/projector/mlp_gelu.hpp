// psalm/models/projector/mlp_gelu.hpp — the "mlp{N}x_gelu" projector of LLaVA-1.5 / PSALM's
// builder.py: nn.Sequential(Linear(C -> D), GELU, Linear(D -> D), ...) with N Linears and an
// exact (erf) GELU between them; "mlp2x_gelu" is LLaVA-1.5's. State_dict names are the
// Sequential's indices: 0.weight, 0.bias, 2.weight, 2.bias, ... (GELUs hold no weights).
// Depends on: nn/linear, autograd/ops/activation, models/projector/{base,config}.
// Test: tests/projector/test_projector.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "psalm/autograd/ops/activation.hpp"
#include "psalm/models/projector/base.hpp"
#include "psalm/models/projector/config.hpp"
#include "psalm/nn/linear.hpp"

namespace psalm::models::projector {

// Letters: B batch, L tokens (H W for a map), C = mm_hidden_size, D = hidden_size.

template <nn::Real T, Device Dev = cpu>
class MlpGeluProjector : public Projector<T, Dev> {
 public:
  MlpGeluProjector() = default;
  MlpGeluProjector(const ProjectorConfig& config, nn::InitRng& rng) {
    config.validate();
    PSALM_CHECK(config.type() == ProjectorType::mlp_gelu, "MlpGeluProjector: config has ",
                "mm_projector_type \"", config.mm_projector_type, "\", not mlp<N>x_gelu");
    layers.emplace_back(config.mm_hidden_size, config.hidden_size, rng);
    for (std::int64_t i = 1; i < config.mlp_depth(); ++i)
      layers.emplace_back(config.hidden_size, config.hidden_size, rng);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    for (std::size_t i = 0; i < layers.size(); ++i)
      v.child(std::to_string(2 * i), layers[i]);  // Sequential index: GELUs sit at odd ones
  }

  /// tokens (B, L, C) or a map (B, C, H, W) -> (B, L, D).
  nn::Var<T, Dev> operator()(const nn::Var<T, Dev>& x) override {
    nn::Var<T, Dev> y = layers[0](detail::as_tokens(x, "MlpGeluProjector"));           // (B, L, D)
    for (std::size_t i = 1; i < layers.size(); ++i) y = layers[i](autograd::gelu(y));  // (B, L, D)
    return y;
  }

  std::vector<nn::Linear<T, Dev>> layers;  // N Linears: (D, C), then (D, D)
};

}  // namespace psalm::models::projector
