// psalm/nn/layer_norm.hpp — LayerNorm over the last axis with an affine weight (ones) and bias
// (zeros), as torch.nn.LayerNorm. Depends on: nn/module, autograd/ops/layer_norm.
// Test: tests/nn/test_layers.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/layer_norm.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

template <Real T, Device Dev = cpu>
class LayerNorm : public Module<T, Dev> {
 public:
  LayerNorm() = default;
  explicit LayerNorm(std::int64_t dim, double eps = 1e-5, bool affine = true) : eps(eps) {
    if (affine) {
      weight = Var<T, Dev>::parameter(Tensor<T, Dev>::ones({dim}));  // (C)
      bias = Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({dim}));   // (C)
    }
  }

  void visit(ModuleVisitor<T, Dev>& v) override {
    v.parameter("weight", weight);
    v.parameter("bias", bias);
  }

  /// x (..., C) -> (..., C).
  Var<T, Dev> operator()(const Var<T, Dev>& x) const {
    return autograd::layer_norm(x, weight, bias, eps);
  }

  Var<T, Dev> weight, bias;  // (C) each
  double eps = 1e-5;
};

}  // namespace psalm::nn
