// psalm/nn/embedding.hpp — Embedding(num_embeddings, dim): a lookup table, weight initialised
// Normal(0, 1) as torch.nn.Embedding (models re-initialise as their upstream does).
// Depends on: nn/module, nn/init, autograd/ops/embedding. Test: tests/nn/test_layers.cpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include "psalm/autograd/ops/embedding.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

template <Real T, Device Dev = cpu>
class Embedding : public Module<T, Dev> {
 public:
  Embedding() = default;
  Embedding(std::int64_t num_embeddings, std::int64_t dim, InitRng& rng, double std = 1.0)
      : weight(Var<T, Dev>::parameter(init::normal<T, Dev>({num_embeddings, dim}, std, rng))) {}

  void visit(ModuleVisitor<T, Dev>& v) override { v.parameter("weight", weight); }

  /// ids (...) integers in [0, num_embeddings) -> (..., dim).
  template <Scalar I>
  requires std::is_integral_v<I> Var<T, Dev>
  operator()(const Tensor<I, Dev>& ids) const { return autograd::embedding(ids, weight); }

  std::int64_t num_embeddings() const { return weight.size(0); }
  std::int64_t dim() const { return weight.size(1); }

  Var<T, Dev> weight;  // (num_embeddings, dim)
};

}  // namespace psalm::nn
