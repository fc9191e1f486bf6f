// psalm/psalm/language_loss.hpp — the LLaVA conversation loss (next-token cross-entropy, spec
// §4.2 last bullet): logits at position i predict labels[i + 1]; IGNORE labels add nothing.
// Depends on: autograd ops. Test: tests/psalm/test_inputs.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/cross_entropy.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/psalm/sequence.hpp"

namespace psalm {

// Letters: B batch, L positions, V vocabulary.

/// logits (B, L, V), labels (B, L) unshifted (labels[i] is the token at i or kIgnoreIndex) ->
/// the mean cross-entropy of logits[:, :-1] against labels[:, 1:] over the labelled positions,
/// as transformers' causal-LM loss.
template <autograd::Real T, Device Dev>
autograd::Var<T, Dev> next_token_loss(const autograd::Var<T, Dev>& logits,
                                      const Tensor<std::int64_t>& labels) {
  PSALM_CHECK(logits.rank() == 3 && labels.rank() == 2 && labels.size(0) == logits.size(0) &&
                  labels.size(1) == logits.size(1),
              "next_token_loss: logits (B, L, V) and labels (B, L) expected, got ", logits.shape(),
              " and ", labels.shape());
  const std::int64_t b = logits.size(0), l = logits.size(1), v = logits.size(2);
  PSALM_CHECK(l >= 2, "next_token_loss: a sequence of ", l, " positions has nothing to predict");
  const autograd::Var<T, Dev> inputs =
      autograd::reshape(autograd::slice(logits, 1, 0, l - 1), {b * (l - 1), v});  // (B (L-1), V)
  const Tensor<std::int64_t> targets =
      labels.narrow(1, 1, l - 1).contiguous().view({b * (l - 1)});  // (B (L-1))
  return autograd::cross_entropy(inputs, targets.template to<Dev>(),
                                 autograd::CrossEntropyOptions<T, Dev>{});
}

}  // namespace psalm
