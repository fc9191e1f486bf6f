// psalm/models/projector/base.hpp — Projector<T, Dev>, the interface every vision-language
// projector implements: a Module that maps the image encoder's output to LLM tokens, so a
// model can hold whichever kind its config names (see make_projector in projector.hpp).
// Depends on: nn/module. Test: tests/projector/test_projector.cpp.
#pragma once

#include "psalm/nn/module.hpp"

namespace psalm::models::projector {

/// Encoder features -> tokens (B, L, D) for the LLM. Non-const: BatchNorm in training mode
/// updates its running statistics.
template <nn::Real T, Device Dev = cpu>
class Projector : public nn::Module<T, Dev> {
 public:
  virtual nn::Var<T, Dev> operator()(const nn::Var<T, Dev>& features) = 0;
};

}  // namespace psalm::models::projector
