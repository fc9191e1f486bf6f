// psalm/nn/group_norm.hpp — GroupNorm(groups, channels) on (N, C, ...) with per-channel affine,
// as torch.nn.GroupNorm. Depends on: nn/module, autograd/ops/group_norm.
// Test: tests/nn/test_layers.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/group_norm.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

template <Real T, Device Dev = cpu>
class GroupNorm : public Module<T, Dev> {
 public:
  GroupNorm() = default;
  GroupNorm(std::int64_t groups, std::int64_t channels, double eps = 1e-5)
      : weight(Var<T, Dev>::parameter(Tensor<T, Dev>::ones({channels}))),  // (C)
        bias(Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({channels}))),   // (C)
        groups(groups),
        eps(eps) {
    PSALM_CHECK(groups >= 1 && channels % groups == 0, "GroupNorm: ", groups,
                " groups do not divide ", channels, " channels");
  }

  void visit(ModuleVisitor<T, Dev>& v) override {
    v.parameter("weight", weight);
    v.parameter("bias", bias);
  }

  /// x (N, C, ...) -> same shape.
  Var<T, Dev> operator()(const Var<T, Dev>& x) const {
    return autograd::group_norm(x, groups, weight, bias, eps);
  }

  Var<T, Dev> weight, bias;  // (C) each
  std::int64_t groups = 1;
  double eps = 1e-5;
};

}  // namespace psalm::nn
