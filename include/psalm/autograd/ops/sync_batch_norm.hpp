// psalm/autograd/ops/sync_batch_norm.hpp — synchronised batch normalisation of NCHW maps in
// training mode (torch.nn.SyncBatchNorm): the processes that train one batch together (the
// data-parallel ranks) normalise with the statistics of the whole batch. Forward all-reduces
// each channel's element count, sum, and then sum of squared deviations from the global mean
// (two passes, as the one-process kernel: no cancellation); backward all-reduces each channel's
// sums of dy and dy x_hat, so every rank's input gradient is that of batch_norm2d over the
// concatenated batch for the sum of the ranks' losses. Weight and bias gradients stay local
// (the data-parallel gradient average sums them), as PyTorch. Running statistics are updated on
// every rank alike, with the global mean and the global unbiased variance.
// The reduction is an interface here, BatchNormSync, so autograd (and nn) need no dist/: the
// trainer wraps its dist::Communicator in CollectiveBatchNormSync, a template that takes any
// type with the communicator's size() and all_reduce_sum, and installs it in the BatchNorm2d
// modules (nn/batch_norm.hpp). Every rank must run the same sync ops in the same order,
// forward and backward (the collectives pair up by order).
// Depends on: autograd/tape, autograd/ops/{batch_norm, channel_affine}, tensor/reduce.
// Test: tests/autograd/test_sync_batch_norm.cpp (finite differences),
// tests/dist/test_sync_batch_norm.cpp (2 ranks in threads against batch_norm2d).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "psalm/autograd/ops/batch_norm.hpp"
#include "psalm/autograd/ops/channel_affine.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/tensor/reduce.hpp"

namespace psalm::autograd {

// Letters: N batch, C channels, S = H W positions, M = N S local elements per channel,
// G = the global element count per channel (summed over the ranks).

/// Sums buffers over the processes that share a batch, as dist::Communicator does: every
/// process calls each sum in the same order. Float buffers live where the op's tensors live
/// (host for the CPU, device memory for NCCL); double buffers are host memory.
class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  /// Number of processes; 1 means plain batch_norm2d.
  virtual int size() const = 0;
  /// Sums n floats in place over the processes (data on the op's device).
  virtual void all_reduce_sum(float* data, std::size_t n) = 0;
  /// Sums n doubles in place over the processes (host memory).
  virtual void all_reduce_sum(double* host, std::size_t n) = 0;
};

/// BatchNormSync over a communicator-like object (dist::Communicator): the trainer's adapter,
/// a template so that autograd never includes dist/. `comm` must outlive it.
template <class Comm>
class CollectiveBatchNormSync final : public BatchNormSync {
 public:
  /// Sums through `comm`'s all_reduce_sum.
  explicit CollectiveBatchNormSync(Comm& comm) : comm_(&comm) {}
  int size() const override { return comm_->size(); }
  /// comm.all_reduce_sum(data, n).
  void all_reduce_sum(float* data, std::size_t n) override { comm_->all_reduce_sum(data, n); }
  /// comm.all_reduce_sum(host, n).
  void all_reduce_sum(double* host, std::size_t n) override { comm_->all_reduce_sum(host, n); }

 private:
  Comm* comm_;
};

namespace detail {

/// In-place sum over the processes of a contiguous tensor of the op's type.
template <Real T, Device Dev>
void all_reduce_sum(BatchNormSync& sync, Tensor<T, Dev>& t) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<Dev, cpu>,
                "sync_batch_norm2d: double tensors only on the CPU (double buffers are host)");
  sync.all_reduce_sum(t.data(), static_cast<std::size_t>(t.numel()));
}

}  // namespace detail

/// Context of sync_batch_norm2d: the normalised input as channel rows and what backward
/// needs to form the global sums.
template <Real T, Device Dev>
struct SyncBatchNormContext {
  GradRef<T, Dev> x;            ///< the input's gradient slot
  GradRef<T, Dev> weight;       ///< the weight's gradient slot (empty without a weight)
  GradRef<T, Dev> bias;         ///< the bias's gradient slot (empty without a bias)
  Tensor<T, Dev> xhat;          ///< (C, M) contiguous: the normalised input
  Tensor<T, Dev> weight_value;  ///< (C), only when x needs a gradient and there is a weight
  Tensor<T, Dev> rstd;          ///< (C, 1): 1 / sqrt(global variance + eps)
  std::int64_t batch;           ///< N on this process
  std::int64_t positions;       ///< H * W
  double global_count;          ///< G: the elements per channel over every process
  BatchNormSync* sync;          ///< the processes the statistics are summed over
};

/// Training-mode batch_norm2d with the statistics of the batch spread over `sync`'s processes.
/// x (N, C, H, W) on this process; weight, bias (C) or undefined; running_mean, running_var
/// (C) or undefined (no tracking), updated in place alike on every process. opt.training must
/// be true (eval mode needs no communication: use batch_norm2d). N may differ between
/// processes, C may not.
template <Real T, Device Dev>
Var<T, Dev> sync_batch_norm2d(const Var<T, Dev>& x, const Var<T, Dev>& weight,
                              const Var<T, Dev>& bias, Tensor<T, Dev> running_mean,
                              Tensor<T, Dev> running_var, BatchNormSync& sync,
                              const BatchNormOptions& opt = {}) {
  PSALM_CHECK(opt.training, "sync_batch_norm2d: training mode only (eval uses batch_norm2d)");
  PSALM_CHECK(x.rank() == 4, "sync_batch_norm2d: input must be (N, C, H, W), got ", x.shape());
  const std::int64_t n = x.size(0), c = x.size(1), s = x.size(2) * x.size(3), m = n * s;
  for (const Var<T, Dev>* p : {&weight, &bias})
    PSALM_CHECK(!p->defined() || (p->rank() == 1 && p->size(0) == c),
                "sync_batch_norm2d: weight and bias must be (", c, "), got ", p->shape());
  for (const Tensor<T, Dev>* p : {&running_mean, &running_var})
    PSALM_CHECK(!p->defined() || (p->rank() == 1 && p->size(0) == c),
                "sync_batch_norm2d: running statistics must be (", c, "), got ", p->shape());
  double count = static_cast<double>(m);
  sync.all_reduce_sum(&count, 1);  // G
  PSALM_CHECK(count > 1.0, "sync_batch_norm2d: training needs more than one value per channel ",
              "over all processes, got ", count, " (this one's input ", x.shape(), ")");
  const Tensor<T, Dev> x_rows =  // (C, M)
      x.value().reshape({n, c, s}).permute({1, 0, 2}).contiguous().view({c, m});
  Tensor<T, Dev> mean = psalm::sum(x_rows, 1);  // (C), this process's sums
  detail::all_reduce_sum(sync, mean);           // (C), global sums
  mean.assign(mean * static_cast<T>(1.0 / count));
  const Tensor<T, Dev> mean_col = mean.view({c, 1});                  // (C, 1)
  const Tensor<T, Dev> dev = x_rows - mean_col;                       // (C, M)
  Tensor<T, Dev> squares = psalm::sum(Tensor<T, Dev>(dev * dev), 1);  // (C)
  detail::all_reduce_sum(sync, squares);  // (C), global sums of squared deviations
  Tensor<T, Dev> rstd(Shape{c, 1});       // (C, 1)
  rstd.view({c}).assign(
      psalm::rsqrt(squares * static_cast<T>(1.0 / count) + static_cast<T>(opt.eps)));
  Tensor<T, Dev> xhat(dev * rstd);  // (C, M)
  const T mom = static_cast<T>(opt.momentum);
  if (running_mean.defined()) running_mean.assign(running_mean * (T(1) - mom) + mean * mom);
  if (running_var.defined())  // unbiased global variance, as PyTorch
    running_var.assign(running_var * (T(1) - mom) +
                       squares * static_cast<T>(opt.momentum / (count - 1.0)));
  Tensor<T, Dev> y(x.shape());
  Tensor<T, Dev> y3 = y.view({n, c, s});                                 // (N, C, S)
  const Tensor<T, Dev> xhat3 = xhat.view({c, n, s}).permute({1, 0, 2});  // (N, C, S)
  detail::assign_channel_affine(y3, xhat3, weight, bias, c);
  const bool recording = should_record(x, weight, bias);
  SyncBatchNormContext<T, Dev> ctx{
      x.grad_ref(),
      weight.grad_ref(),
      bias.grad_ref(),
      xhat,
      weight.defined() && x.requires_grad() ? weight.value() : Tensor<T, Dev>(),
      rstd,
      n,
      s,
      count,
      &sync};
  return record(
      std::move(y), recording, std::move(ctx),
      [](SyncBatchNormContext<T, Dev>& k, const Tensor<T, Dev>& d_y) {
        const std::int64_t c = k.xhat.size(0), m = k.xhat.size(1);
        const Tensor<T, Dev> g =  // (C, M)
            d_y.reshape({k.batch, c, k.positions}).permute({1, 0, 2}).contiguous().view({c, m});
        const Tensor<T, Dev> sum_g = psalm::sum(g, 1);                            // (C)
        const Tensor<T, Dev> sum_gx = psalm::sum(Tensor<T, Dev>(g * k.xhat), 1);  // (C)
        if (k.x.needed()) {
          // d_x = rstd w (g - sum(g) / G - xhat sum(g xhat) / G), the sums over every process
          Tensor<T, Dev> sums(Shape{2, c});  // (2, C)
          sums.select(0, 0).assign(sum_g);
          sums.select(0, 1).assign(sum_gx);
          detail::all_reduce_sum(*k.sync, sums);
          sums.assign(sums * static_cast<T>(1.0 / k.global_count));
          const Tensor<T, Dev> mean_g = sums.select(0, 0).view({c, 1});   // (C, 1)
          const Tensor<T, Dev> mean_gx = sums.select(0, 1).view({c, 1});  // (C, 1)
          const Tensor<T, Dev> scale =                                    // (C, 1)
              k.weight_value.defined() ? Tensor<T, Dev>(k.rstd * k.weight_value.view({c, 1}))
                                       : k.rstd;
          const Tensor<T, Dev> d_rows((g - mean_g - k.xhat * mean_gx) * scale);  // (C, M)
          const Shape& xs = k.x.shape();
          k.x.accumulate(d_rows.view({c, k.batch, k.positions})
                             .permute({1, 0, 2})
                             .contiguous()
                             .view({xs[0], xs[1], xs[2], xs[3]}));
        }
        if (k.weight.needed()) k.weight.accumulate(sum_gx);  // this process's sum of g xhat
        if (k.bias.needed()) k.bias.accumulate(sum_g);
      });
}

}  // namespace psalm::autograd
