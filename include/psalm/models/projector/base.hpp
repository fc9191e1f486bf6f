// psalm/models/projector/base.hpp — Projector<T, Dev>, the interface every vision-language
// projector implements: a Module that maps the image encoder's output to LLM tokens, so a
// model can hold whichever kind its config names (see make_projector in projector.hpp).
// Depends on: nn/{module, map_tokens}. Test: tests/projector/test_projector.cpp.
#pragma once

#include "psalm/nn/map_tokens.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::models::projector {

// Letters: B batch, C channels, H x W map, L tokens.

namespace detail {
/// The projector input as tokens: a map (B, C, H, W) -> (B, H W, C) by nn::map_to_tokens
/// (row-major, as upstream's `x.reshape(B, C, -1).permute(0, 2, 1)`); tokens (B, L, C) pass.
template <nn::Real T, Device Dev>
nn::Var<T, Dev> as_tokens(const nn::Var<T, Dev>& x, const char* who) {
  PSALM_CHECK(x.rank() == 3 || x.rank() == 4, who,
              ": input must be a map (B, C, H, W) or tokens (B, L, C), got ", x.shape());
  return x.rank() == 3 ? x : nn::map_to_tokens(x);  // (B, L, C)
}
}  // namespace detail

/// Encoder features -> tokens (B, L, D) for the LLM. Non-const: BatchNorm in training mode
/// updates its running statistics.
template <nn::Real T, Device Dev = cpu>
class Projector : public nn::Module<T, Dev> {
 public:
  virtual nn::Var<T, Dev> operator()(const nn::Var<T, Dev>& features) = 0;
};

}  // namespace psalm::models::projector
