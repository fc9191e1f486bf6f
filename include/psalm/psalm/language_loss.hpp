// psalm/psalm/language_loss.hpp — the LLaVA conversation loss (next-token cross-entropy, spec
// §4.2 last bullet): logits at position i predict labels[i + 1]; IGNORE labels add nothing.
// Depends on: autograd ops, tensor/host. Test: tests/psalm/test_inputs.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/autograd/ops/cross_entropy.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/psalm/sequence.hpp"
#include "psalm/tensor/host.hpp"

namespace psalm {

// Letters: B batch, L positions, V vocabulary.

/// The positions next_token_loss averages over: labels[:, 1:] that are not kIgnoreIndex.
inline std::int64_t labelled_positions(const Tensor<std::int64_t>& labels) {
  PSALM_CHECK(labels.rank() == 2, "labelled_positions: labels (B, L) expected, got ",
              labels.shape());
  std::int64_t n = 0;
  const std::vector<std::int64_t> v = host_to_vector(labels);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (static_cast<std::int64_t>(i) % labels.size(1) != 0 && v[i] != kIgnoreIndex) ++n;
  return n;
}

/// logits (B, L, V), labels (B, L) unshifted (labels[i] is the token at i or kIgnoreIndex) ->
/// the mean cross-entropy of logits[:, :-1] against labels[:, 1:] over the labelled positions,
/// as transformers' causal-LM loss. With `divisor` > 0: the sum divided by it instead (data
/// parallel: the labelled positions of the whole batch averaged over the processes, so the
/// mean of the processes' losses is the whole batch's mean).
template <autograd::Real T, Device Dev>
autograd::Var<T, Dev> next_token_loss(const autograd::Var<T, Dev>& logits,
                                      const Tensor<std::int64_t>& labels, double divisor = 0.0) {
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
  if (divisor <= 0.0)
    return autograd::cross_entropy(inputs, targets.template to<Dev>(),
                                   autograd::CrossEntropyOptions<T, Dev>{});
  autograd::CrossEntropyOptions<T, Dev> sum;
  sum.ignore_index = kIgnoreIndex;
  sum.reduction = autograd::Reduction::sum;
  return autograd::scale(autograd::cross_entropy(inputs, targets.template to<Dev>(), sum),
                         1.0 / divisor);
}

}  // namespace psalm
