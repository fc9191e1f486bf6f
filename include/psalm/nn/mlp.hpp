// psalm/nn/mlp.hpp — Mlp: num_layers Linear layers with ReLU between them (none after the last),
// Mask2Former's "very simple multi-layer perceptron"; state_dict names `layers.{i}.weight/bias`.
// Depends on: nn/linear, autograd/ops/activation. Test: tests/nn/test_mlp.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/activation.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

template <Real T, Device Dev = cpu>
class Mlp : public Module<T, Dev> {
 public:
  Mlp() = default;
  /// input_dim -> hidden_dim -> ... -> hidden_dim -> output_dim over num_layers Linears
  /// (default PyTorch initialisation). ref: Mask2Former mask2former_transformer_decoder.py MLP.
  Mlp(std::int64_t input_dim, std::int64_t hidden_dim, std::int64_t output_dim, int num_layers,
      InitRng& rng) {
    PSALM_CHECK(num_layers >= 1, "Mlp: num_layers must be at least 1, got ", num_layers);
    layers.reserve(static_cast<std::size_t>(num_layers));
    for (int i = 0; i < num_layers; ++i)
      layers.emplace_back(i == 0 ? input_dim : hidden_dim,
                          i == num_layers - 1 ? output_dim : hidden_dim, rng);
  }

  void visit(ModuleVisitor<T, Dev>& v) override { v.children("layers", layers); }

  /// x (..., input_dim) -> (..., output_dim).
  Var<T, Dev> operator()(const Var<T, Dev>& x) const {
    PSALM_CHECK(!layers.empty(), "Mlp: the module has no layers (default-constructed)");
    Var<T, Dev> y = x;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      y = layers[i](y);                                  // (..., hidden or output)
      if (i + 1 < layers.size()) y = autograd::relu(y);  // (..., hidden)
    }
    return y;
  }

  std::vector<Linear<T, Dev>> layers;
};

}  // namespace psalm::nn
