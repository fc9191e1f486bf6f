// psalm/nn/conv2d.hpp — Conv2d (stride, padding, dilation, groups, optional bias), weight
// (O, C/groups, kh, kw) initialised as PyTorch's default. Depends on: nn/module, nn/init,
// autograd/ops/conv2d. Test: tests/nn/test_layers.cpp.
#pragma once

#include <array>
#include <cstdint>

#include "psalm/autograd/ops/conv2d.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

template <Real T, Device Dev = cpu>
class Conv2d : public Module<T, Dev> {
 public:
  Conv2d() = default;
  /// A kernel_h x kernel_w convolution from in_channels to out_channels.
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::array<std::int64_t, 2> kernel,
         InitRng& rng, autograd::Conv2dOptions options = {}, bool bias = true)
      : options(options) {
    PSALM_CHECK(options.groups >= 1 && in_channels % options.groups == 0 &&
                    out_channels % options.groups == 0,
                "Conv2d: groups = ", options.groups, " must divide ", in_channels, " and ",
                out_channels, " channels");
    const std::int64_t fan_in = in_channels / options.groups * kernel[0] * kernel[1];
    weight = Var<T, Dev>::parameter(init::fan_in_uniform<T, Dev>(
        {out_channels, in_channels / options.groups, kernel[0], kernel[1]}, fan_in,
        rng));  // (O, C/g, kh, kw)
    if (bias)
      this->bias =
          Var<T, Dev>::parameter(init::fan_in_uniform<T, Dev>({out_channels}, fan_in, rng));  // (O)
  }

  void visit(ModuleVisitor<T, Dev>& v) override {
    v.parameter("weight", weight);
    v.parameter("bias", bias);
  }

  /// x (N, C, H, W) -> (N, O, Ho, Wo).
  Var<T, Dev> operator()(const Var<T, Dev>& x) const {
    return autograd::conv2d(x, weight, bias, options);
  }

  Var<T, Dev> weight;  // (O, C/groups, kh, kw)
  Var<T, Dev> bias;    // (O) or undefined
  autograd::Conv2dOptions options{};
};

}  // namespace psalm::nn
