// psalm/optim/sgd.hpp — SGD with momentum, dampening, Nesterov and L2 weight decay with
// PyTorch's semantics (torch.optim.SGD: the momentum buffer starts as the first gradient);
// parameter groups. Each parameter is updated by one fused pass (kernels/optimizer.hpp).
// Depends on: autograd, kernels/optimizer, optim/param_group. Test: tests/optim/test_sgd.cpp.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "psalm/kernels/optimizer.hpp"
#include "psalm/optim/param_group.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::optim {

/// SGD hyper-parameters shared by all groups (lr and weight decay live in each group).
struct SgdOptions {
  double momentum = 0.0, dampening = 0.0;
  bool nesterov = false;
};

template <Real T, Device Dev = cpu>
class Sgd {
 public:
  Sgd(std::vector<ParamGroup<T, Dev>> groups, SgdOptions opt = {})
      : groups_(std::move(groups)), opt_(opt) {
    PSALM_CHECK(opt.momentum >= 0, "SGD: momentum must be >= 0, got ", opt.momentum);
    PSALM_CHECK(!opt.nesterov || (opt.momentum > 0 && opt.dampening == 0),
                "SGD: Nesterov momentum needs momentum > 0 and zero dampening");
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      detail::check_group(groups_[g], g, "SGD");
      buffers_.emplace_back(groups_[g].params.size());
    }
  }

  /// One update of every parameter that has a gradient, in groups that are not frozen.
  void step() {
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      ParamGroup<T, Dev>& group = groups_[gi];
      PSALM_CHECK(group.params.size() == buffers_[gi].size(), "SGD: group ", gi, " had ",
                  buffers_[gi].size(), " parameters at construction and has ", group.params.size(),
                  " now; build a new optimizer instead");
      if (group.frozen) continue;
      for (std::size_t pi = 0; pi < group.params.size(); ++pi) {
        Var<T, Dev>& p = group.params[pi];
        if (!p.grad().defined()) continue;
        Tensor<T, Dev>& buf = buffers_[gi][pi];
        const bool first = !buf.defined();
        if (opt_.momentum != 0 && first) buf = Tensor<T, Dev>(p.shape());
        const Tensor<T, Dev> g = p.grad().contiguous();
        if (p.numel() > 0)
          Executor<Dev>::launch(
              p.numel(), psalm::kernels::SgdUpdate<T>{p.value().data(), g.data(),
                                                      opt_.momentum != 0 ? buf.data() : nullptr,
                                                      group.lr, group.weight_decay, opt_.momentum,
                                                      opt_.dampening, first, opt_.nesterov});
      }
    }
  }

  /// Drops every gradient (set_to_none).
  void zero_grad() {
    for (auto& group : groups_)
      for (auto& p : group.params) p.zero_grad();
  }

  std::vector<ParamGroup<T, Dev>>& groups() { return groups_; }
  const std::vector<ParamGroup<T, Dev>>& groups() const { return groups_; }
  /// The momentum buffer of a parameter (undefined before its first step or without momentum).
  const Tensor<T, Dev>& momentum_buffer(std::size_t group, std::size_t param) const {
    return buffers_.at(group).at(param);
  }

 private:
  std::vector<ParamGroup<T, Dev>> groups_;
  std::vector<std::vector<Tensor<T, Dev>>> buffers_;
  SgdOptions opt_;
};

}  // namespace psalm::optim
