// psalm/nn/batch_norm.hpp — BatchNorm2d as torch.nn.BatchNorm2d: batch statistics and a
// running-statistics update in training mode, running statistics in eval mode; buffers
// running_mean, running_var and num_batches_tracked (recomputable: checkpoints without it load).
// With `sync` set to a BatchNormSync of more than one process, training mode normalises with
// the statistics of the batch over every process (autograd/ops/sync_batch_norm.hpp, as
// torch.nn.SyncBatchNorm); convert_sync_batch_norm sets it in every BatchNorm2d of a model (the
// trainer does so when data parallel). Unset, or one process: exactly batch_norm2d.
// Depends on: nn/module, autograd/ops/{batch_norm, sync_batch_norm}.
// Test: tests/nn/test_layers.cpp, tests/dist/test_sync_batch_norm.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/batch_norm.hpp"
#include "psalm/autograd/ops/sync_batch_norm.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

template <Real T, Device Dev = cpu>
class BatchNorm2d : public Module<T, Dev> {
 public:
  BatchNorm2d() = default;
  explicit BatchNorm2d(std::int64_t channels, double eps = 1e-5, double momentum = 0.1)
      : weight(Var<T, Dev>::parameter(Tensor<T, Dev>::ones({channels}))),  // (C)
        bias(Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({channels}))),   // (C)
        running_mean(Tensor<T, Dev>::zeros({channels})),                   // (C)
        running_var(Tensor<T, Dev>::ones({channels})),                     // (C)
        num_batches_tracked(Tensor<T, Dev>::zeros(Shape{})),               // ()
        eps(eps),
        momentum(momentum) {}

  void visit(ModuleVisitor<T, Dev>& v) override {
    v.parameter("weight", weight);
    v.parameter("bias", bias);
    v.buffer("running_mean", running_mean);
    v.buffer("running_var", running_var);
    v.buffer("num_batches_tracked", num_batches_tracked, BufferKind::recomputable);
  }

  /// x (N, C, H, W) -> same shape. Training mode updates the running statistics in place.
  Var<T, Dev> operator()(const Var<T, Dev>& x) {
    const bool training = this->is_training();
    if (training) num_batches_tracked.assign(num_batches_tracked + T(1));
    const autograd::BatchNormOptions opt{.training = training, .momentum = momentum, .eps = eps};
    if (training && sync != nullptr && sync->size() > 1)
      return autograd::sync_batch_norm2d(x, weight, bias, running_mean, running_var, *sync, opt);
    return autograd::batch_norm2d(x, weight, bias, running_mean, running_var, opt);
  }

  Var<T, Dev> weight, bias;                  // (C) each
  Tensor<T, Dev> running_mean, running_var;  // (C) each
  Tensor<T, Dev> num_batches_tracked;        // ()
  double eps = 1e-5;
  double momentum = 0.1;
  /// The processes whose batches this layer normalises together in training mode (not owned;
  /// null: this process's batch alone). Not saved: a run-time setting, as the device.
  autograd::BatchNormSync* sync = nullptr;
};

/// Sets `sync` in every BatchNorm2d of `model` (null: back to per-process statistics), as
/// torch.nn.SyncBatchNorm.convert_sync_batchnorm. Returns how many layers it set.
template <Real T, Device Dev>
std::int64_t convert_sync_batch_norm(Module<T, Dev>& model, autograd::BatchNormSync* sync) {
  std::int64_t layers = 0;
  model.for_each_module([&](Module<T, Dev>& m) {
    if (auto* bn = dynamic_cast<BatchNorm2d<T, Dev>*>(&m)) {
      bn->sync = sync;
      ++layers;
    }
  });
  return layers;
}

}  // namespace psalm::nn
