// psalm/autograd/var.hpp — Var<T, Dev>: a value tensor and, when it takes part in
// differentiation, a shared GradSlot that receives its gradient. Copies of a Var share the
// slot (as copies of a torch.Tensor share autograd metadata). GradRef is what an op's
// context keeps of an input: the slot only, never the input's value.
// Depends on: tensor, autograd/no_grad. Test: tests/autograd/test_var.cpp.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <utility>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/tensor/assign.hpp"
#include "psalm/tensor/expr.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::autograd {

/// Element types autograd differentiates: float (training) and double (gradient checks).
template <class T>
concept Real = std::same_as<T, float> || std::same_as<T, double>;

class Tape;

/// The gradient of one Var: filled by backward, read by optimizers.
/// A leaf slot (parameter or input) keeps its gradient and accumulates across backward calls;
/// a non-leaf slot (an op output) hands its gradient to the op's backward and drops it, unless
/// retain_grad() was called.
template <Real T, Device Dev>
class GradSlot {
 public:
  GradSlot(const Shape& shape, bool leaf) : shape_(shape), leaf_(leaf) {}

  const Shape& shape() const { return shape_; }
  bool is_leaf() const { return leaf_; }
  bool retains_grad() const { return leaf_ || retain_; }
  void set_retain_grad() { retain_ = true; }
  const Tensor<T, Dev>& grad() const { return grad_; }
  void reset_grad() { grad_ = Tensor<T, Dev>(); }
  Tensor<T, Dev> take_grad() { return std::exchange(grad_, Tensor<T, Dev>()); }

  /// grad += g (accumulates). The first gradient is stored without a copy; later ones add in
  /// place when this slot owns its gradient alone (contiguous, no other handle), otherwise
  /// out of place, so a gradient shared with another slot or held by the caller never changes.
  void accumulate(Tensor<T, Dev> g) {
    PSALM_CHECK(g.shape() == shape_, "autograd: gradient of shape ", g.shape(),
                " arrived for a variable of shape ", shape_);
    if (!grad_.defined()) {
      grad_ = std::move(g);
    } else if (grad_.use_count() == 1 && grad_.is_contiguous()) {
      grad_.assign(grad_ + g);
    } else {
      grad_ = Tensor<T, Dev>(grad_ + g);
    }
  }

  Tape* tape = nullptr;     ///< the tape the producing op was recorded on (non-leaf only)
  std::uint64_t epoch = 0;  ///< that tape's epoch at recording time

 private:
  Shape shape_;
  Tensor<T, Dev> grad_;
  bool leaf_;
  bool retain_ = false;
};

/// What an op's context keeps of one input: its gradient slot, or nothing when the input does
/// not require a gradient (then `needed()` is false and accumulate() is never called).
template <Real T, Device Dev>
struct GradRef {
  std::shared_ptr<GradSlot<T, Dev>> slot;

  bool needed() const { return slot != nullptr; }
  const Shape& shape() const { return slot->shape(); }
  void accumulate(Tensor<T, Dev> g) const {
    if (slot) slot->accumulate(std::move(g));
  }
};

/// A tensor value in a differentiable computation.
template <Real T, Device Dev = cpu>
class Var {
 public:
  using value_type = T;
  using device_type = Dev;
  using Slot = GradSlot<T, Dev>;

  /// An undefined Var.
  Var() = default;
  /// A leaf holding `value` (shared, not copied); with requires_grad it collects a gradient.
  explicit Var(Tensor<T, Dev> value, bool requires_grad = false) : value_(std::move(value)) {
    PSALM_CHECK(value_.defined(), "Var: the value tensor is undefined");
    if (requires_grad) slot_ = std::make_shared<Slot>(value_.shape(), /*leaf=*/true);
  }
  /// A leaf that requires a gradient (a trainable parameter or an input under test).
  static Var parameter(Tensor<T, Dev> value) { return Var(std::move(value), true); }
  /// Internal (used by record()): an op output with its non-leaf slot.
  static Var from_op(Tensor<T, Dev> value, std::shared_ptr<Slot> slot) {
    Var out;
    out.value_ = std::move(value);
    out.slot_ = std::move(slot);
    return out;
  }

  bool defined() const { return value_.defined(); }
  /// The value. Changing it in place while a recorded backward still needs it corrupts that
  /// backward: update parameters only between backward and the next forward.
  const Tensor<T, Dev>& value() const { return value_; }
  Tensor<T, Dev>& value() { return value_; }
  const Shape& shape() const { return value_.shape(); }
  int rank() const { return value_.rank(); }
  std::int64_t size(int axis) const { return value_.size(axis); }
  std::int64_t numel() const { return value_.numel(); }

  bool requires_grad() const { return slot_ != nullptr; }
  bool is_leaf() const { return !slot_ || slot_->is_leaf(); }
  /// The accumulated gradient; undefined until a backward reaches this Var (or after
  /// zero_grad). Non-leaf Vars keep theirs only after retain_grad().
  const Tensor<T, Dev>& grad() const {
    static const Tensor<T, Dev> none;
    return slot_ ? slot_->grad() : none;
  }
  /// Drops the gradient (PyTorch's zero_grad(set_to_none=True)): the next backward stores a
  /// fresh one instead of adding.
  void zero_grad() {
    if (slot_) slot_->reset_grad();
  }
  /// Keeps this non-leaf Var's gradient after backward (for inspection).
  void retain_grad() {
    PSALM_CHECK(slot_, "retain_grad: this Var does not require a gradient");
    slot_->set_retain_grad();
  }
  /// The same value (shared storage) cut off from the graph: no gradient flows through it.
  Var detach() const { return Var(value_, false); }

  const std::shared_ptr<Slot>& slot() const { return slot_; }
  GradRef<T, Dev> grad_ref() const { return {slot_}; }

 private:
  Tensor<T, Dev> value_;
  std::shared_ptr<Slot> slot_;
};

}  // namespace psalm::autograd
