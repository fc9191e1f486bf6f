// Test support: the gradient check of a whole module, as dlib's test_layer: one backward pass
// of a scalar loss, then every input and every parameter of the module perturbed one element at
// a time in double (central differences), each compared with the gradient backward gave.
// Depends on: nn/module, support/gradcheck (tolerances). Used by tests/{nn,swin,phi,projector,
// pixel_decoder,mask2former,msda}/.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "psalm/autograd.hpp"  // the ops a test's loss is built from (sum, ...)
#include "psalm/nn/module.hpp"
#include "support/gradcheck.hpp"

namespace psalm::testing {

/// What check_module_gradients perturbs and how closely it compares.
struct ModuleGradOptions {
  /// |analytic - numeric| <= atol + rtol * |numeric| for every checked element.
  double rtol = tol::fd_rtol, atol = tol::fd_atol;
  /// Check every step-th element of each input / each parameter (1: every element) ...
  std::int64_t input_step = 1, parameter_step = 1;
  /// ... and, where > 0, at most about this many evenly spaced elements of each tensor (the
  /// step grows to numel / max). Large modules check a spread of every tensor this way.
  std::int64_t max_per_input = 0, max_per_parameter = 0;
  /// Parameters (dotted names) the loss does not use: neither perturbed nor required to have
  /// a gradient (e.g. an embedding table bypassed by an inputs_embeds path).
  std::vector<std::string> skip{};
  /// Asked after each perturbed loss evaluation; false discards that element (the loss is not
  /// smooth there, e.g. an attention mask derived from the outputs changed). Empty: keep all.
  std::function<bool()> smooth{};
};

/// How many elements were compared, and how many `smooth` discarded.
struct ModuleGradReport {
  std::size_t checked = 0, skipped = 0;
};

/// Backward of `loss()` (a scalar Var computed from `inputs` and the module's parameters)
/// against central differences of `loss()` for the chosen elements of every input and every
/// parameter of `module` not in opt.skip. `inputs` are the leaves `loss` reads, with names for
/// messages; they and the parameters must be contiguous. Existing gradients are dropped first.
template <class M>
ModuleGradReport check_module_gradients(
    M& module, const std::vector<std::pair<std::string, autograd::Var<double>>>& inputs,
    const std::function<autograd::Var<double>()>& loss, const ModuleGradOptions& opt = {}) {
  struct Target {
    std::string name;
    autograd::Var<double> var;
    std::int64_t step;
  };
  auto step_for = [](std::int64_t numel, std::int64_t step, std::int64_t max) {
    return std::max<std::int64_t>({std::int64_t{1}, step, max > 0 ? numel / max : 1});
  };
  std::vector<Target> targets;
  for (const auto& [name, x] : inputs)
    targets.push_back({"input " + name, x, step_for(x.numel(), opt.input_step, opt.max_per_input)});
  for (auto& [name, p] : module.named_parameters())
    if (std::find(opt.skip.begin(), opt.skip.end(), name) == opt.skip.end())
      targets.push_back({name, p, step_for(p.numel(), opt.parameter_step, opt.max_per_parameter)});
  for (Target& t : targets) t.var.zero_grad();

  autograd::backward(loss());
  REQUIRE(autograd::Tape::current().size() == 0);
  auto value_at = [&] {
    const autograd::NoGrad no_grad;
    return loss().value().item();
  };
  ModuleGradReport report;
  for (Target& t : targets) {
    INFO(t.name << " of shape " << t.var.shape());
    REQUIRE(t.var.grad().defined());
    REQUIRE(t.var.value().is_contiguous());
    const std::vector<double> grad = t.var.grad().contiguous().to_vector();
    double* data = t.var.value().data();
    for (std::int64_t e = 0; e < t.var.numel(); e += t.step) {
      const double keep = data[e], h = tol::fd_step;
      data[e] = keep + h;
      const double up = value_at();
      const bool up_smooth = !opt.smooth || opt.smooth();
      data[e] = keep - h;
      const double down = value_at();
      const bool down_smooth = !opt.smooth || opt.smooth();
      data[e] = keep;
      if (!up_smooth || !down_smooth) {
        ++report.skipped;
        continue;
      }
      const double numeric = (up - down) / (2 * h), analytic = grad[static_cast<std::size_t>(e)];
      INFO("element " << e << ": analytic " << analytic << ", numeric " << numeric);
      REQUIRE(std::fabs(analytic - numeric) <= opt.atol + opt.rtol * std::fabs(numeric));
      ++report.checked;
    }
  }
  return report;
}

}  // namespace psalm::testing
