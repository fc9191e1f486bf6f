// psalm/optim/clip.hpp — gradient clipping by global norm (torch.nn.utils.clip_grad_norm_):
// the 2-norm (or max-norm) of all gradients together; when it exceeds max_norm every gradient is
// scaled by max_norm / (total + 1e-6). Returns the total norm before clipping.
// Depends on: autograd/var, tensor/reduce, optim/param_group. Test: tests/optim/test_clip.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "psalm/optim/param_group.hpp"
#include "psalm/tensor/assign.hpp"
#include "psalm/tensor/expr.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::optim {

/// Clips the gradients of `params` (those without a gradient are skipped) to a global norm of
/// at most `max_norm`; norm_type 2 or infinity. Sums run in double. A gradient that shares its
/// storage with another (the tape may hand one tensor to two inputs) is replaced, not scaled in
/// place, so no gradient is scaled twice.
template <Real T, Device Dev>
double clip_grad_norm(std::vector<Var<T, Dev>>& params, double max_norm, double norm_type = 2.0) {
  PSALM_CHECK(max_norm >= 0 && !std::isnan(max_norm), "clip_grad_norm: max_norm must be >= 0, ",
              "got ", max_norm);
  const bool inf_norm = std::isinf(norm_type) && norm_type > 0;
  PSALM_CHECK(norm_type == 2.0 || inf_norm, "clip_grad_norm: norm_type must be 2 or infinity, got ",
              norm_type);
  double acc = 0.0;
  for (const auto& p : params) {
    const Tensor<T, Dev>& g = p.grad();
    if (!g.defined() || g.numel() == 0) continue;
    if (inf_norm) {
      acc = std::max(acc, static_cast<double>(psalm::max(Tensor<T, Dev>(abs(g))).item()));
    } else {
      const Tensor<double, Dev> sq = cast<double>(g) * cast<double>(g);
      acc += psalm::sum(sq).item();
    }
  }
  const double total = inf_norm ? acc : std::sqrt(acc);
  const double coef = std::min(1.0, max_norm / (total + 1e-6));  // NaN total -> NaN gradients
  if (!(coef < 1.0) && !std::isnan(coef)) return total;
  for (auto& p : params) {
    const auto& slot = p.slot();
    if (!slot || !slot->grad().defined()) continue;
    if (slot->grad().use_count() == 1 && slot->grad().is_contiguous()) {
      Tensor<T, Dev> g = slot->grad();
      g.assign(g * static_cast<T>(coef));
    } else {
      Tensor<T, Dev> scaled = slot->grad() * static_cast<T>(coef);
      slot->reset_grad();
      slot->accumulate(std::move(scaled));
    }
  }
  return total;
}

/// clip_grad_norm over every group that is not frozen.
template <Real T, Device Dev>
double clip_grad_norm(std::vector<ParamGroup<T, Dev>>& groups, double max_norm,
                      double norm_type = 2.0) {
  std::vector<Var<T, Dev>> params;
  for (const auto& g : groups)
    if (!g.frozen) params.insert(params.end(), g.params.begin(), g.params.end());
  return clip_grad_norm(params, max_norm, norm_type);
}

}  // namespace psalm::optim
