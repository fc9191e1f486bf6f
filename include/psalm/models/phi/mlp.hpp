// psalm/models/phi/mlp.hpp — PhiMlp: fc1 (D -> I), gelu_new (the tanh approximation), fc2
// (I -> D), both with bias (PSALM_SPEC.md §1.5). Depends on: nn/linear, autograd/ops/activation.
// Test: tests/phi/test_transformers_parity.cpp.
#pragma once

#include "psalm/autograd/ops/activation.hpp"
#include "psalm/models/phi/config.hpp"
#include "psalm/nn/linear.hpp"

namespace psalm::models::phi {

using autograd::Real;
using autograd::Var;

// Letters: B batch, L positions, D hidden, I intermediate.

template <Real T, Device Dev = cpu>
class PhiMlp : public nn::Module<T, Dev> {
 public:
  PhiMlp() = default;
  PhiMlp(const PhiConfig& c, nn::InitRng& rng)
      : fc1(c.hidden_size, c.intermediate_size, rng),
        fc2(c.intermediate_size, c.hidden_size, rng) {}

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("fc1", fc1);
    v.child("fc2", fc2);
  }

  /// h (B, L, D) -> (B, L, D).
  Var<T, Dev> operator()(const Var<T, Dev>& h) const {
    // gelu_new(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    return fc2(autograd::gelu_tanh(fc1(h)));  // (B, L, I) -> (B, L, D)
  }

  nn::Linear<T, Dev> fc1, fc2;
};

}  // namespace psalm::models::phi
