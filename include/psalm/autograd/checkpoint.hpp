// psalm/autograd/checkpoint.hpp — activation checkpointing for any block of ops: run it
// without recording (nothing it computes is kept), and in backward run it again with
// recording on and backpropagate through that second run. Memory: one block's activations at
// a time instead of all of them, for one extra forward per block (Phi's decoder layers use it).
// Depends on: autograd/tape. Test: tests/autograd/test_checkpoint.cpp.
#pragma once

#include <exception>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "psalm/autograd/tape.hpp"

namespace psalm::autograd {

namespace detail {

template <Real T, Device Dev>
struct CheckpointContext {
  GradRef<T, Dev> x;
  Tensor<T, Dev> x_value;
  std::function<Var<T, Dev>(const Var<T, Dev>&)> block;
};

}  // namespace detail

/// y = block(x), recorded as one tape entry that saves only x. `params` are the Vars `block`
/// reads besides x (its parameters): they decide whether the entry is recorded, and receive
/// their gradients when it runs. `block` must be deterministic (Phi has no dropout) and must
/// stay alive until backward.
///
/// The tape is per thread and is being walked when the entry runs, so the recomputation is
/// recorded and differentiated on a helper thread with a tape of its own; the calling thread
/// waits for it, so gradients never accumulate concurrently.
template <Real T, Device Dev, class Block>
Var<T, Dev> checkpoint(Block block, const Var<T, Dev>& x, const std::vector<Var<T, Dev>>& params) {
  bool any_param = false;
  for (const auto& p : params) any_param = any_param || p.requires_grad();
  const bool recording = GradMode::enabled() && (x.requires_grad() || any_param);
  Tensor<T, Dev> y;
  {
    NoGrad guard;
    y = block(x.detach()).value();
  }
  detail::CheckpointContext<T, Dev> ctx{x.grad_ref(), recording ? x.value() : Tensor<T, Dev>(),
                                        std::move(block)};
  return record(std::move(y), recording, std::move(ctx),
                [](detail::CheckpointContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  Tensor<T, Dev> d_x;
                  std::exception_ptr failure;
                  std::thread worker([&] {
                    try {
                      // A fresh thread: grad mode on, an empty tape.
                      const Var<T, Dev> x_again(c.x_value, c.x.needed());
                      const Var<T, Dev> y_again = c.block(x_again);  // recorded
                      if (!y_again.requires_grad()) return;
                      backward(y_again, d_y);
                      if (c.x.needed()) d_x = x_again.grad();
                    } catch (...) {
                      failure = std::current_exception();
                    }
                  });
                  worker.join();
                  if (failure) std::rethrow_exception(failure);
                  c.x_value = Tensor<T, Dev>();
                  if (d_x.defined()) c.x.accumulate(std::move(d_x));
                });
}

}  // namespace psalm::autograd
