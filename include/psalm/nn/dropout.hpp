// psalm/nn/dropout.hpp — Dropout and DropPath (stochastic depth) modules: active only in
// training mode, each forward call drawing a fresh mask from its own counter-based stream
// (seed, stream = call count), so a run is reproducible from the seed.
// Depends on: nn/module, autograd/ops/dropout. Test: tests/nn/test_layers.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/dropout.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

/// Zeroes each element with probability p and scales the rest by 1 / (1 - p).
template <Real T, Device Dev = cpu>
class Dropout : public Module<T, Dev> {
 public:
  Dropout() = default;
  explicit Dropout(double p, std::uint64_t seed = 0) : p(p), seed(seed) {}
  void visit(ModuleVisitor<T, Dev>&) override {}
  Var<T, Dev> operator()(const Var<T, Dev>& x) {
    if (!this->is_training() || p == 0.0) return x;
    return autograd::dropout(x, {.p = p, .training = true, .rng = {seed, calls++}});
  }
  double p = 0.0;
  std::uint64_t seed = 0;
  std::uint64_t calls = 0;
};

/// Drops whole samples (axis 0) with probability p and scales the rest by 1 / (1 - p).
template <Real T, Device Dev = cpu>
class DropPath : public Module<T, Dev> {
 public:
  DropPath() = default;
  explicit DropPath(double p, std::uint64_t seed = 0) : p(p), seed(seed) {}
  void visit(ModuleVisitor<T, Dev>&) override {}
  Var<T, Dev> operator()(const Var<T, Dev>& x) {
    if (!this->is_training() || p == 0.0) return x;
    return autograd::drop_path(x, {.p = p, .training = true, .rng = {seed, calls++}});
  }
  double p = 0.0;
  std::uint64_t seed = 0;
  std::uint64_t calls = 0;
};

}  // namespace psalm::nn
