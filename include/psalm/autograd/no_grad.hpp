// psalm/autograd/no_grad.hpp — the per-thread switch that decides whether differentiable ops
// record onto the tape, and NoGrad, the RAII scope that turns recording off (inference,
// optimizer steps, the backward pass itself). Depends on: std.
// Test: tests/autograd/test_no_grad.cpp.
#pragma once

namespace psalm::autograd {

/// Whether ops on this thread record their backward onto the tape (default: on).
class GradMode {
 public:
  static bool enabled() { return flag(); }
  static void set_enabled(bool on) { flag() = on; }

 private:
  static bool& flag() {
    thread_local bool on = true;
    return on;
  }
};

/// Turns recording off for the lifetime of the object and restores the previous mode after,
/// so scopes nest: `{ autograd::NoGrad guard; auto y = model(x); }`.
class NoGrad {
 public:
  NoGrad() : previous_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGrad() { GradMode::set_enabled(previous_); }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

}  // namespace psalm::autograd
