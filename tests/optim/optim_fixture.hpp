// Test support for tests/optim/: the fixed parameters and per-step gradients of
// tests/fixtures/autograd_ops3/optim.json (tools/reference/autograd_ops3_fixtures.py) and a runner
// that replays them through a psalm optimizer, comparing every step with PyTorch's trajectory.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/optim.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

namespace psalm::testing {

inline const nlohmann::json& optim_fixture() {
  static const nlohmann::json j = load_json("autograd_ops3/optim.json");
  return j;
}

/// The three fixture parameters as fresh leaves of type T.
template <class T>
std::vector<autograd::Var<T>> fixture_params() {
  std::vector<autograd::Var<T>> out;
  for (const auto& p : optim_fixture().at("init"))
    out.push_back(autograd::Var<T>::parameter(tensor_from_json<T>(p)));
  return out;
}

/// Replays the 20 steps of trajectory `name`: before step s the groups' learning rates equal
/// PyTorch's, each parameter receives its fixture gradient through backward(), `step` runs the
/// optimizer (and schedule), and the parameters then equal PyTorch's to rtol / atol.
/// `frozen` (may be undefined) gets a gradient too and must never change.
template <class T, class Opt>
void replay(const std::string& name, std::vector<autograd::Var<T>>& params, Opt& opt,
            const std::function<void()>& step, double rtol, double atol,
            autograd::Var<T> frozen = {}) {
  const auto& traj = optim_fixture().at(name);
  const Tensor<double> want = tensor_from_json<double>(traj.at("params"));  // (steps, n)
  const Tensor<double> grads = tensor_from_json<double>(optim_fixture().at("grads")[0]);
  const std::vector<T> frozen_before =
      frozen.defined() ? frozen.value().to_vector() : std::vector<T>{};
  for (std::int64_t s = 0; s < want.size(0); ++s) {
    INFO(name << " step " << s);
    const auto& lrs = traj.at("lr")[s];
    for (std::size_t g = 0; g < lrs.size(); ++g)
      REQUIRE(opt.groups()[g].lr ==
              Approx(lrs[g].get<double>()).epsilon(tol::f64_ulps).margin(tol::denormal_margin));
    opt.zero_grad();
    std::int64_t offset = 0;
    for (auto& p : params) {
      const Tensor<T> g = Tensor<T>(cast<T>(grads.select(0, s).narrow(0, offset, p.numel())));
      autograd::backward(
          p, g.reshape(std::vector<std::int64_t>(p.shape().dims().v.begin(),
                                                 p.shape().dims().v.begin() + p.rank())));
      offset += p.numel();
    }
    if (frozen.defined()) autograd::backward(frozen, Tensor<T>::ones(frozen.shape()));
    step();
    offset = 0;
    for (auto& p : params) {
      require_close(p.value().reshape({-1}), want.select(0, s).narrow(0, offset, p.numel()), rtol,
                    atol);
      offset += p.numel();
    }
    if (frozen.defined()) REQUIRE(frozen.value().to_vector() == frozen_before);
  }
}

}  // namespace psalm::testing
