// psalm/nn/linear.hpp — Linear: y = x W^T + b, weight stored (out, in) as torch.nn.Linear,
// initialised as PyTorch does by default. Depends on: nn/module, nn/init, autograd/ops/linear.
// Test: tests/nn/test_layers.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/linear.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

template <Real T, Device Dev = cpu>
class Linear : public Module<T, Dev> {
 public:
  Linear() = default;
  Linear(std::int64_t in_features, std::int64_t out_features, InitRng& rng, bool bias = true)
      : weight(Var<T, Dev>::parameter(init::fan_in_uniform<T, Dev>(
            {out_features, in_features}, in_features, rng))) {  // (out, in)
    if (bias)
      this->bias = Var<T, Dev>::parameter(
          init::fan_in_uniform<T, Dev>({out_features}, in_features, rng));  // (out)
  }

  void visit(ModuleVisitor<T, Dev>& v) override {
    v.parameter("weight", weight);
    v.parameter("bias", bias);
  }

  /// x (..., in) -> (..., out).
  Var<T, Dev> operator()(const Var<T, Dev>& x) const { return autograd::linear(x, weight, bias); }

  std::int64_t in_features() const { return weight.size(1); }
  std::int64_t out_features() const { return weight.size(0); }

  Var<T, Dev> weight;  // (out, in)
  Var<T, Dev> bias;    // (out) or undefined
};

}  // namespace psalm::nn
