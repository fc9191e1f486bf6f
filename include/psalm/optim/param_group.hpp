// psalm/optim/param_group.hpp — a parameter group (as a torch.optim param_group): parameters
// sharing a learning rate and a weight decay, or frozen (skipped by step() and by clipping).
// Depends on: autograd/var. Test: tests/optim/test_adamw.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/var.hpp"

namespace psalm::optim {

using autograd::Real;
using autograd::Var;

/// Parameters that share hyper-parameters. `lr` is the current learning rate (a schedule
/// rewrites it from `initial_lr` every step); a frozen group is never updated.
template <Real T, Device Dev = cpu>
struct ParamGroup {
  std::vector<Var<T, Dev>> params{};
  double lr = 1e-3;
  double weight_decay = 0.0;
  bool frozen = false;
  double initial_lr = -1.0;  ///< set by a schedule on construction (negative: not yet)
};

namespace detail {

/// Checks what every optimizer needs of a group before it keeps state for it.
template <Real T, Device Dev>
void check_group(const ParamGroup<T, Dev>& g, std::size_t index, const char* who) {
  PSALM_CHECK(g.lr >= 0.0, who, ": group ", index, " has a negative learning rate ", g.lr);
  PSALM_CHECK(g.weight_decay >= 0.0, who, ": group ", index, " has a negative weight decay ",
              g.weight_decay);
  for (std::size_t i = 0; i < g.params.size(); ++i) {
    const Var<T, Dev>& p = g.params[i];
    PSALM_CHECK(p.defined() && p.requires_grad() && p.is_leaf(), who, ": parameter ", i,
                " of group ", index, " is not a leaf that requires a gradient");
    PSALM_CHECK(p.value().is_contiguous(), who, ": parameter ", i, " of group ", index, " (shape ",
                p.shape(), ") is not contiguous; updates write it in place");
  }
}

}  // namespace detail
}  // namespace psalm::optim
