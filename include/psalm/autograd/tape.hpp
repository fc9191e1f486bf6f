// psalm/autograd/tape.hpp — the tape (a Wengert list): every differentiable op run with grad
// mode on and an input that requires a gradient appends one entry, its backward closure, in
// execution order; backward(loss) seeds the loss gradient and runs the entries in reverse,
// destroying each (and the tensors its context saved) as soon as it has run.
// Depends on: autograd/var, autograd/no_grad. Test: tests/autograd/test_tape.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/autograd/var.hpp"

namespace psalm::autograd {

/// One Wengert list per thread. Ops find it through Tape::current(), so model code composes
/// ops like maths, with no tape argument threaded through every call; each thread (a
/// data-parallel worker) records its own. Entries hold only what their op saved and the output
/// gradient slot, never the Vars the caller holds.
class Tape {
 public:
  /// This thread's tape.
  static Tape& current() {
    thread_local Tape tape;
    return tape;
  }

  /// Number of recorded entries not yet run or cleared.
  std::size_t size() const { return entries_.size(); }
  /// Changes each time the tape is consumed or cleared; a Var remembers the epoch it was made
  /// in, so a backward from a Var whose entries are gone is an error, not a silent no-op.
  std::uint64_t epoch() const { return epoch_; }

  /// Appends an entry. Use record() in ops rather than this.
  void push(std::function<void()> backward_fn) { entries_.push_back(std::move(backward_fn)); }

  /// Drops every entry and the tensors they saved (a forward that will not be differentiated).
  void clear() {
    entries_.clear();
    ++epoch_;
  }

  /// Runs every entry newest first, freeing each right after it runs, then clears the tape.
  /// Entries whose output received no gradient do nothing.
  void run_backward() {
    NoGrad guard;  // backward computes on tensors; nothing it does may append to this list
    try {
      for (std::size_t i = entries_.size(); i-- > 0;) {
        std::function<void()> entry = std::move(entries_[i]);
        entries_.pop_back();
        entry();
      }
    } catch (...) {
      clear();
      throw;
    }
    clear();
  }

 private:
  std::vector<std::function<void()>> entries_;
  std::uint64_t epoch_ = 0;
};

/// True when an op with these inputs must record its backward: grad mode is on and at least
/// one input requires a gradient.
template <class... Vars>
bool should_record(const Vars&... inputs) {
  return GradMode::enabled() && (inputs.requires_grad() || ...);
}

/// Wraps an op's forward result. When `recording` (see should_record), gives the output a
/// non-leaf slot and appends to the current tape a closure that calls
/// `backward_fn(ctx, d_out)` once the output's gradient is complete; `ctx` is the op's context
/// struct holding exactly what the backward needs. `d_out` is read-only in backward_fn, which
/// accumulates into the inputs through the GradRefs in ctx. Otherwise returns a constant Var.
template <Real T, Device Dev, class Ctx, class Fn>
Var<T, Dev> record(Tensor<T, Dev> value, bool recording, Ctx ctx, Fn backward_fn) {
  if (!recording) return Var<T, Dev>(std::move(value));
  auto slot = std::make_shared<GradSlot<T, Dev>>(value.shape(), /*leaf=*/false);
  Tape& tape = Tape::current();
  slot->tape = &tape;
  slot->epoch = tape.epoch();
  tape.push([slot, ctx = std::move(ctx), backward_fn]() mutable {
    const Tensor<T, Dev> d_out = slot->retains_grad() ? slot->grad() : slot->take_grad();
    if (d_out.defined()) backward_fn(ctx, d_out);
  });
  return Var<T, Dev>::from_op(std::move(value), std::move(slot));
}

/// Backpropagates `d_out` (the gradient of some scalar with respect to `out`, same shape)
/// through everything recorded on out's tape, accumulating into every leaf that requires a
/// gradient, then releases the tape.
template <Real T, Device Dev>
void backward(const Var<T, Dev>& out, Tensor<T, Dev> d_out) {
  PSALM_CHECK(out.defined(), "backward: the Var is undefined");
  PSALM_CHECK(out.requires_grad(), "backward: the Var does not require a gradient (no input ",
              "required one, or it was computed under NoGrad)");
  PSALM_CHECK(d_out.shape() == out.shape(), "backward: gradient of shape ", d_out.shape(),
              " given for a Var of shape ", out.shape());
  const auto& slot = out.slot();
  if (slot->is_leaf()) {
    slot->accumulate(std::move(d_out));
    return;
  }
  PSALM_CHECK(slot->tape == &Tape::current() && slot->epoch == slot->tape->epoch(),
              "backward: the entries that produced this Var are gone (a backward or clear() ",
              "already consumed its tape, or it was recorded on another thread)");
  slot->accumulate(std::move(d_out));
  slot->tape->run_backward();
}

/// Backpropagates from a one-element `loss` with seed gradient 1.
template <Real T, Device Dev>
void backward(const Var<T, Dev>& loss) {
  PSALM_CHECK(loss.defined() && loss.numel() == 1, "backward: the loss must have one element, ",
              "got shape ", loss.shape(), "; pass a gradient for other shapes");
  backward(loss, Tensor<T, Dev>::ones(loss.shape()));
}

}  // namespace psalm::autograd
