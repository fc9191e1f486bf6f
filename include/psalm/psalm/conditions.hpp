// psalm/psalm/conditions.hpp — reading condition embeddings and query features out of the LLM's
// hidden states (PSALM_SPEC §2.5, §2.6): the mean over the positions of each span (a class
// name with its [SEG], a referring sentence) and the rows at chosen positions (mask tokens,
// visual-prompt tokens, a [REF] token). Generic: any model that pools spans of a sequence can
// use them. Both are differentiable with respect to the hidden states.
// Depends on: autograd ops (matmul, index_select, shape). Test: tests/psalm/test_conditions.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/index_select.hpp"
#include "psalm/autograd/ops/matmul.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/core/error.hpp"

namespace psalm {

// Letters: B batch, L positions, D hidden width, S spans, N gathered rows.

/// hidden (B, L, D), span_index (B, L) with values in [0, S] (0: no span, s + 1: span s) ->
/// (B, S, D), the mean of hidden over each span's positions (upstream's AdaptiveAvgPool1d over
/// a span). Every span must occur in every sample: an empty span has no mean, and is an error
/// naming `who`.
template <autograd::Real T, Device Dev>
autograd::Var<T, Dev> span_mean(const autograd::Var<T, Dev>& hidden,
                                const Tensor<std::int64_t>& span_index, std::int64_t num_spans,
                                const char* who) {
  PSALM_CHECK(hidden.rank() == 3, who, ": hidden states must be (B, L, D), got ", hidden.shape());
  const std::int64_t b = hidden.size(0), l = hidden.size(1);
  PSALM_CHECK(span_index.rank() == 2 && span_index.size(0) == b && span_index.size(1) == l, who,
              ": span index must be (", b, ", ", l, "), got ", span_index.shape());
  PSALM_CHECK(num_spans >= 1, who, ": at least one span is needed, got ", num_spans);
  const Tensor<std::int64_t> index = span_index.contiguous();
  std::vector<std::int64_t> counts(static_cast<std::size_t>(b * num_spans), 0);
  const std::int64_t* idx = index.data();
  for (std::int64_t i = 0; i < b * l; ++i) {
    const std::int64_t s = idx[i];
    PSALM_CHECK(s >= 0 && s <= num_spans, who, ": span index ", s, " at sample ", i / l,
                " position ", i % l, " is outside [0, ", num_spans, "]");
    if (s > 0) ++counts[static_cast<std::size_t>((i / l) * num_spans + s - 1)];
  }
  Tensor<T> weights = Tensor<T>::zeros(Shape{b, num_spans, l});  // (B, S, L)
  T* w = weights.data();
  for (std::int64_t i = 0; i < b * l; ++i) {
    const std::int64_t s = idx[i];
    if (s == 0) continue;
    const std::int64_t n = counts[static_cast<std::size_t>((i / l) * num_spans + s - 1)];
    w[((i / l) * num_spans + s - 1) * l + i % l] = T(1) / static_cast<T>(n);
  }
  for (std::int64_t k = 0; k < b * num_spans; ++k)
    PSALM_CHECK(counts[static_cast<std::size_t>(k)] > 0, who, ": span ", k % num_spans,
                " of sample ", k / num_spans, " has no positions");
  const autograd::Var<T, Dev> pool(weights.template to<Dev>());  // (B, S, L), constant
  return autograd::matmul(pool, hidden);                         // (B, S, D)
}

/// hidden (B, L, D) -> the rows at `positions` (flat indices b * L + p), viewed as `extents`
/// (whose product with D... i.e. extents end with D). Gradients scatter back to those rows.
template <autograd::Real T, Device Dev>
autograd::Var<T, Dev> gather_positions(const autograd::Var<T, Dev>& hidden,
                                       const std::vector<std::int64_t>& positions,
                                       std::vector<std::int64_t> extents) {
  PSALM_CHECK(hidden.rank() == 3, "gather_positions: hidden states must be (B, L, D), got ",
              hidden.shape());
  const std::int64_t b = hidden.size(0), l = hidden.size(1), d = hidden.size(2);
  const auto n = static_cast<std::int64_t>(positions.size());
  const Tensor<std::int64_t> index = Tensor<std::int64_t>::from_data(positions, Shape{n});  // (N)
  const autograd::Var<T, Dev> rows = autograd::reshape(hidden, {b * l, d});  // (B L, D)
  const autograd::Var<T, Dev> picked =
      autograd::index_select(rows, 0, index.template to<Dev>());  // (N, D)
  return autograd::reshape(picked, std::move(extents));           // extents
}

}  // namespace psalm
