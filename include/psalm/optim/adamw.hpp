// psalm/optim/adamw.hpp — AdamW with PyTorch's semantics (torch.optim.AdamW, amsgrad off):
// decoupled weight decay p *= 1 - lr wd before the Adam update, bias-corrected moments, eps
// added outside the square root; per-parameter step counts; parameter groups. Each parameter
// is updated by one fused pass (kernels/optimizer.hpp). Depends on: autograd, kernels/optimizer,
// optim/param_group. Test: tests/optim/test_adamw.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "psalm/kernels/optimizer.hpp"
#include "psalm/optim/param_group.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::optim {

/// AdamW hyper-parameters shared by all groups (lr and weight decay live in each group).
struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

template <Real T, Device Dev = cpu>
class AdamW {
 public:
  AdamW(std::vector<ParamGroup<T, Dev>> groups, AdamWOptions opt = {})
      : groups_(std::move(groups)), opt_(opt) {
    PSALM_CHECK(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1,
                "AdamW: betas must be in [0, 1), got ", opt.beta1, ", ", opt.beta2);
    PSALM_CHECK(opt.eps >= 0, "AdamW: eps must be >= 0, got ", opt.eps);
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      detail::check_group(groups_[g], g, "AdamW");
      state_.emplace_back(groups_[g].params.size());
    }
  }

  /// One update of every parameter that has a gradient, in groups that are not frozen.
  /// Parameters without a gradient keep their state (and step count) unchanged, as PyTorch.
  void step() {
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      ParamGroup<T, Dev>& group = groups_[gi];
      PSALM_CHECK(group.params.size() == state_[gi].size(), "AdamW: group ", gi, " had ",
                  state_[gi].size(), " parameters at construction and has ", group.params.size(),
                  " now; build a new optimizer instead");
      if (group.frozen) continue;
      for (std::size_t pi = 0; pi < group.params.size(); ++pi) {
        Var<T, Dev>& p = group.params[pi];
        if (!p.grad().defined()) continue;
        State& s = state_[gi][pi];
        if (!s.m.defined()) {
          s.m = Tensor<T, Dev>::zeros(p.shape());
          s.v = Tensor<T, Dev>::zeros(p.shape());
        }
        ++s.step;
        const Tensor<T, Dev> g = p.grad().contiguous();
        const double t = static_cast<double>(s.step);
        const double bc1 = 1 - std::pow(opt_.beta1, t), bc2 = 1 - std::pow(opt_.beta2, t);
        if (p.numel() > 0)
          Executor<Dev>::launch(
              p.numel(),
              psalm::kernels::AdamWUpdate<T>{p.value().data(), g.data(), s.m.data(), s.v.data(),
                                             1 - group.lr * group.weight_decay, opt_.beta1,
                                             opt_.beta2, group.lr / bc1, std::sqrt(bc2), opt_.eps});
      }
    }
  }

  /// Drops every gradient (set_to_none, PyTorch's default).
  void zero_grad() {
    for (auto& group : groups_)
      for (auto& p : group.params) p.zero_grad();
  }

  std::vector<ParamGroup<T, Dev>>& groups() { return groups_; }
  const std::vector<ParamGroup<T, Dev>>& groups() const { return groups_; }
  const AdamWOptions& options() const { return opt_; }
  /// Steps taken by parameter `param` of group `group` (0 before its first gradient).
  std::int64_t step_count(std::size_t group, std::size_t param) const {
    return state_.at(group).at(param).step;
  }
  /// First and second moments of a parameter (undefined before its first step).
  const Tensor<T, Dev>& exp_avg(std::size_t group, std::size_t param) const {
    return state_.at(group).at(param).m;
  }
  const Tensor<T, Dev>& exp_avg_sq(std::size_t group, std::size_t param) const {
    return state_.at(group).at(param).v;
  }
  /// Restores the state of one parameter (resuming from a checkpoint): its step count and
  /// moments, which must have the parameter's shape (or both be undefined with step 0).
  void set_state(std::size_t group, std::size_t param, std::int64_t step, Tensor<T, Dev> exp_avg,
                 Tensor<T, Dev> exp_avg_sq) {
    const Var<T, Dev>& p = groups_.at(group).params.at(param);
    const bool empty = !exp_avg.defined() && !exp_avg_sq.defined();
    PSALM_CHECK(step >= 0 && (empty ? step == 0 : step > 0), "AdamW: state of group ", group,
                " parameter ", param, " has step ", step, " with",
                empty ? "out moments" : " moments");
    PSALM_CHECK(empty || (exp_avg.shape() == p.shape() && exp_avg_sq.shape() == p.shape()),
                "AdamW: state of group ", group, " parameter ", param, " has moments of shape ",
                exp_avg.defined() ? exp_avg.shape() : Shape{}, " for a parameter of shape ",
                p.shape());
    State& s = state_.at(group).at(param);
    s.step = step;
    s.m = empty ? Tensor<T, Dev>() : exp_avg.clone();  // owned: updated in place
    s.v = empty ? Tensor<T, Dev>() : exp_avg_sq.clone();
  }

 private:
  struct State {
    Tensor<T, Dev> m, v;  // shape of the parameter
    std::int64_t step = 0;
  };
  std::vector<ParamGroup<T, Dev>> groups_;
  std::vector<std::vector<State>> state_;
  AdamWOptions opt_;
};

}  // namespace psalm::optim
