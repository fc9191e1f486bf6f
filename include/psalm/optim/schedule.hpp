// psalm/optim/schedule.hpp — learning-rate schedules as multipliers of each group's initial
// rate (torch.optim.lr_scheduler.LambdaLR): constant, linear warm-up, and linear warm-up then
// cosine decay to a floor (Hugging Face's get_cosine_schedule_with_warmup when the floor is 0).
// Depends on: optim/param_group. Test: tests/optim/test_schedule.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <vector>

#include "psalm/optim/param_group.hpp"

namespace psalm::optim {

/// Multiplier of the initial learning rate after `step` scheduler steps.
using LrLambda = std::function<double(std::int64_t step)>;

/// 1 at every step.
inline LrLambda constant_schedule() {
  return [](std::int64_t) { return 1.0; };
}

/// step / warmup_steps during the warm-up, then 1.
inline LrLambda linear_warmup_schedule(std::int64_t warmup_steps) {
  PSALM_CHECK(warmup_steps >= 0, "linear_warmup_schedule: warmup_steps must be >= 0, got ",
              warmup_steps);
  return [warmup_steps](std::int64_t step) {
    return step < warmup_steps ? static_cast<double>(step) / static_cast<double>(warmup_steps)
                               : 1.0;
  };
}

/// step / warmup_steps during the warm-up; then floor + (1 - floor) (1 + cos(pi progress)) / 2
/// with progress = (step - warmup_steps) / (total_steps - warmup_steps), clamped to 1 so the rate
/// stays at the floor after total_steps (Hugging Face's cosine would rise again there).
inline LrLambda warmup_cosine_schedule(std::int64_t warmup_steps, std::int64_t total_steps,
                                       double floor = 0.0) {
  PSALM_CHECK(warmup_steps >= 0 && total_steps >= warmup_steps,
              "warmup_cosine_schedule: need 0 <= warmup_steps <= total_steps, got ", warmup_steps,
              " and ", total_steps);
  PSALM_CHECK(floor >= 0.0 && floor <= 1.0, "warmup_cosine_schedule: floor must be in [0, 1], ",
              "got ", floor);
  return [=](std::int64_t step) {
    if (step < warmup_steps)
      return static_cast<double>(step) /
             static_cast<double>(std::max<std::int64_t>(1, warmup_steps));
    const double progress = std::min(
        1.0, static_cast<double>(step - warmup_steps) /
                 static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps)));
    return floor + (1.0 - floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  };
}

/// LambdaLR: on construction records each group's initial_lr (its current lr, unless a
/// schedule already set it) and sets lr = initial_lr * f(0); each step() (after the
/// optimizer's step) advances the count and sets lr = initial_lr * f(count).
/// `Optimizer` is any type with groups() returning the vector of ParamGroups (AdamW, Sgd).
template <class Optimizer>
class LambdaLr {
 public:
  LambdaLr(Optimizer& optimizer, LrLambda f) : optimizer_(&optimizer), f_(std::move(f)) {
    PSALM_CHECK(static_cast<bool>(f_), "LambdaLr: the multiplier function is empty");
    for (auto& g : optimizer_->groups())
      if (g.initial_lr < 0) g.initial_lr = g.lr;
    apply();
  }

  /// Advances one step and updates every group's lr.
  void step() {
    ++count_;
    apply();
  }
  /// Scheduler steps taken so far.
  std::int64_t count() const { return count_; }
  /// The current multiplier f(count()).
  double multiplier() const { return f_(count_); }

 private:
  void apply() {
    const double m = f_(count_);
    PSALM_CHECK(std::isfinite(m) && m >= 0, "LambdaLr: multiplier ", m, " at step ", count_,
                " is not a finite non-negative number");
    for (auto& g : optimizer_->groups()) g.lr = g.initial_lr * m;
  }

  Optimizer* optimizer_;
  LrLambda f_;
  std::int64_t count_ = 0;
};

}  // namespace psalm::optim
