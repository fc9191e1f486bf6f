// psalm/autograd/ops/embedding.hpp — differentiable embedding lookup
// (torch.nn.functional.embedding): rows of weight (V, D) picked by integer ids of any shape.
// The weight gradient is an atomic scatter-add of d_out rows (repeated ids add up); rows of
// padding_idx get none. Backward accumulates.
// Depends on: autograd/ops/index_select. Test: tests/autograd/test_embedding.cpp.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "psalm/autograd/ops/index_select.hpp"

namespace psalm::autograd {

/// Value of padding_idx meaning "no padding row".
inline constexpr std::int64_t kNoPadding = -1;

/// ids (...) integers in [0, V), weight (V, D) -> (..., D). padding_idx: a row in [0, V) whose
/// gradient stays zero (as PyTorch's padding_idx), or kNoPadding.
template <Real T, Device Dev, Scalar I>
requires std::is_integral_v<I> Var<T, Dev> embedding(const Tensor<I, Dev>& ids,
                                                     const Var<T, Dev>& weight,
                                                     std::int64_t padding_idx = kNoPadding) {
  PSALM_CHECK(weight.rank() == 2, "embedding: weight must be (num_embeddings, dim), got ",
              weight.shape());
  const std::int64_t vocab = weight.size(0);
  PSALM_CHECK(padding_idx == kNoPadding || (padding_idx >= 0 && padding_idx < vocab),
              "embedding: padding_idx ", padding_idx, " is outside [0, ", vocab, ")");
  detail::check_indices(ids, vocab, "embedding");
  std::vector<std::int64_t> ext(ids.shape().dims().v.begin(),
                                ids.shape().dims().v.begin() + ids.rank());
  ext.push_back(weight.size(1));
  return detail::index_rows(weight, 0, ids, ext, padding_idx);
}

}  // namespace psalm::autograd
