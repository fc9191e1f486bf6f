// psalm/nn/linear.hpp — Linear: y = x W^T + b, weight stored (out, in) as torch.nn.Linear,
// initialised as PyTorch does by default. For inference a float layer may keep its weight in bf16
// instead (keep_weight_in_bf16, or keep_linear_weights_in_bf16 over a whole model): half the
// memory, the CPU's bf16 GEMM kernels, f32 accumulation and f32 bias. Depends on: nn/module,
// nn/init, autograd/ops/linear. Test: tests/nn/test_layers.cpp.
#pragma once

#include <cstdint>
#include <type_traits>

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
  Var<T, Dev> operator()(const Var<T, Dev>& x) const {
    if constexpr (std::is_same_v<T, float>)
      if (weight_bf16_.defined()) return autograd::linear_bf16_weight(x, weight_bf16_, bias);
    return autograd::linear(x, weight, bias);
  }

  /// Inference from here on with the weight rounded to bf16 (round to nearest even) and the
  /// f32 copy released: the layer then has no trainable weight (visit() lists none, a state
  /// dict holds none), its bias no longer requires a gradient, and calling it where a gradient
  /// would be recorded is a psalm::Error. Only float layers; calling it twice is an error.
  void keep_weight_in_bf16() requires std::is_same_v<T, float> {
    PSALM_CHECK(weight.defined(), "Linear::keep_weight_in_bf16: the layer has no float weight",
                weight_bf16_.defined() ? " (it is kept in bf16 already)" : "");
    weight_bf16_ = cast<bf16>(weight.value());  // (out, in)
    weight = Var<T, Dev>();
    if (bias.defined()) bias = Var<T, Dev>(bias.value(), false);
  }
  /// True after keep_weight_in_bf16.
  bool weight_in_bf16() const { return weight_bf16_.defined(); }

  std::int64_t in_features() const {
    return weight_in_bf16() ? weight_bf16_.size(1) : weight.size(1);
  }
  std::int64_t out_features() const {
    return weight_in_bf16() ? weight_bf16_.size(0) : weight.size(0);
  }

  Var<T, Dev> weight;  // (out, in); undefined once the weight is kept in bf16
  Var<T, Dev> bias;    // (out) or undefined

 private:
  Tensor<bf16, Dev> weight_bf16_;  // (out, in) after keep_weight_in_bf16
};

/// Keeps the weight of every Linear layer of `model` in bf16 (Linear::keep_weight_in_bf16):
/// inference at half the weight memory of those layers. Norms, embeddings, convolutions and
/// everything else stay in float. Returns the number of layers converted.
template <Device Dev>
std::int64_t keep_linear_weights_in_bf16(Module<float, Dev>& model) {
  std::int64_t converted = 0;
  model.for_each_module([&](Module<float, Dev>& m) {
    auto* layer = dynamic_cast<Linear<float, Dev>*>(&m);
    if (layer != nullptr && layer->weight.defined()) {
      layer->keep_weight_in_bf16();
      ++converted;
    }
  });
  return converted;
}

}  // namespace psalm::nn
