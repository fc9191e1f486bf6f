// Tests of synchronised BatchNorm (autograd/ops/sync_batch_norm.hpp through nn::BatchNorm2d and
// nn::convert_sync_batch_norm) over a dist::Communicator, as the trainer installs it: two ranks
// run as two threads of this process (ThreadRanks, an in-process communicator), each on its
// part of a batch, and their outputs, input gradients, summed weight and bias gradients and
// running statistics equal one BatchNorm2d on the concatenated batch. Also: one rank is plain
// BatchNorm2d bit for bit, and eval mode runs no collective.
#include <catch2/catch.hpp>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/dist/communicator.hpp"
#include "psalm/nn/batch_norm.hpp"
#include "support/fixtures.hpp"

using namespace psalm;
using autograd::Var;

namespace {

/// The ranks of a group of threads: each collective waits for every rank, then each rank
/// sums the posted buffers in rank order (the same result on every rank).
class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : size_(size), posted_(size), sync_(size) {}

  class Rank final : public dist::Communicator {
   public:
    Rank(ThreadGroup& g, int rank) : g_(&g), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return g_->size_; }
    const char* backend() const override { return "threads"; }
    void all_reduce_sum(float* data, std::size_t n) override { sum(data, n); }
    void all_reduce_sum(double* host, std::size_t n) override { sum(host, n); }
    void broadcast(float* data, std::size_t n, int root) override {
      g_->posted_[rank_] = data;
      g_->sync_.arrive_and_wait();
      const auto* src = static_cast<const float*>(g_->posted_[root]);
      const std::vector<float> copy(src, src + n);
      g_->sync_.arrive_and_wait();
      std::copy(copy.begin(), copy.end(), data);
    }
    void barrier() override { g_->sync_.arrive_and_wait(); }
    std::int64_t calls = 0;

   private:
    template <class T>
    void sum(T* data, std::size_t n) {
      ++calls;
      g_->posted_[rank_] = data;
      g_->sync_.arrive_and_wait();  // every buffer posted
      std::vector<T> total(n, T(0));
      for (const void* p : g_->posted_)
        for (std::size_t i = 0; i < n; ++i) total[i] += static_cast<const T*>(p)[i];
      g_->sync_.arrive_and_wait();  // every rank has read every buffer
      std::copy(total.begin(), total.end(), data);
    }
    ThreadGroup* g_;
    int rank_;
  };

 private:
  int size_;
  std::vector<const void*> posted_;
  std::barrier<> sync_;
};

/// What one BatchNorm2d training step gives: output, gradients and running statistics.
struct Step {
  Tensor<float> y, dx, dw, db, running_mean, running_var, batches;
};

/// One training step of a fresh BatchNorm2d (the weights and statistics below) on x with
/// output gradient dy; `sync` null: plain BatchNorm2d.
Step bn_step(const Tensor<float>& x, const Tensor<float>& dy, autograd::BatchNormSync* sync,
             bool training = true) {
  nn::BatchNorm2d<float> bn(3, 1e-5, 0.3);
  bn.weight = Var<float>::parameter(Tensor<float>::randn({3}, 61, 1.0, 0.5));
  bn.bias = Var<float>::parameter(Tensor<float>::randn({3}, 62));
  bn.running_mean.assign(Tensor<float>::randn({3}, 63));
  bn.running_var.assign(Tensor<float>::rand({3}, 64) + 0.5f);
  bn.train(training);
  REQUIRE(nn::convert_sync_batch_norm(bn, sync) == 1);
  const Var<float> input = Var<float>::parameter(x);
  const Var<float> y = bn(input);
  autograd::backward(y, dy);
  return {y.value(),       input.grad(),   bn.weight.grad(),      bn.bias.grad(),
          bn.running_mean, bn.running_var, bn.num_batches_tracked};
}

double max_abs_diff(const Tensor<float>& a, const Tensor<float>& b) {
  const std::vector<float> u = a.to_vector(), v = b.to_vector();
  double m = 0.0;
  for (std::size_t i = 0; i < u.size(); ++i) m = std::max(m, std::fabs(double(u[i]) - v[i]));
  return m;
}

}  // namespace

TEST_CASE("synchronised BatchNorm: 2 ranks in threads equal one BatchNorm2d on the whole batch",
          "[dist][batch_norm]") {
  // Per-channel means far from 0, so a one-pass (sum of squares) variance would lose digits.
  const Tensor<float> x(Tensor<float>::randn({4, 3, 3, 5}, 65, 0.0, 2.0) + 30.0f);  // (4,3,3,5)
  const Tensor<float> dy = Tensor<float>::randn({4, 3, 3, 5}, 66);                  // (4,3,3,5)
  const Step whole = bn_step(x, dy, nullptr);
  for (const std::int64_t split : {2, 1}) {  // rank 0 holds samples 0 .. split - 1
    INFO("rank 0 holds " << split << " of 4 samples");
    ThreadGroup group(2);
    std::vector<Step> part(2);
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r)
      threads.emplace_back([&, r] {
        ThreadGroup::Rank comm(group, r);
        autograd::CollectiveBatchNormSync<dist::Communicator> sync(comm);
        const std::int64_t lo = r == 0 ? 0 : split, hi = r == 0 ? split : 4;
        part[r] = bn_step(x.slice(0, lo, hi).contiguous(), dy.slice(0, lo, hi).contiguous(), &sync);
        CHECK(comm.calls == 4);  // count, sums, squares; backward sums
      });
    for (std::thread& t : threads) t.join();
    for (int r = 0; r < 2; ++r) {
      INFO("rank " << r);
      const std::int64_t lo = r == 0 ? 0 : split, hi = r == 0 ? split : 4;
      testing::require_close(part[r].y, whole.y.slice(0, lo, hi), 1e-5, 1e-5);
      testing::require_close(part[r].dx, whole.dx.slice(0, lo, hi), 1e-4, 1e-5);
      testing::require_close(part[r].running_mean, whole.running_mean, 1e-6, 1e-5);
      testing::require_close(part[r].running_var, whole.running_var, 1e-5, 1e-5);
      testing::require_close(part[r].batches, whole.batches, 0.0, 0.0);
    }
    // The data-parallel average (times the ranks) of the local weight and bias gradients.
    testing::require_close(Tensor<float>(part[0].dw + part[1].dw), whole.dw, 1e-5, 1e-5);
    testing::require_close(Tensor<float>(part[0].db + part[1].db), whole.db, 1e-5, 1e-5);
  }
  // The control: per-rank statistics (no sync) differ, so the comparison above can fail.
  const Step alone =
      bn_step(x.slice(0, 0, 2).contiguous(), dy.slice(0, 0, 2).contiguous(), nullptr);
  REQUIRE(max_abs_diff(alone.running_mean, whole.running_mean) > 1e-3);
  REQUIRE(max_abs_diff(alone.dx, whole.dx.slice(0, 0, 2)) > 1e-3);
}

TEST_CASE("synchronised BatchNorm: one rank is BatchNorm2d bit for bit; eval mode never syncs",
          "[dist][batch_norm]") {
  const Tensor<float> x = Tensor<float>::randn({2, 3, 2, 2}, 67, 1.0, 2.0);  // (2,3,2,2)
  const Tensor<float> dy = Tensor<float>::randn({2, 3, 2, 2}, 68);           // (2,3,2,2)
  for (const bool training : {true, false}) {
    INFO("training " << training);
    dist::SingleProcess single;
    autograd::CollectiveBatchNormSync<dist::Communicator> one(single);
    ThreadGroup group(2);  // eval only: a collective would wait forever for rank 1
    ThreadGroup::Rank rank0(group, 0);
    autograd::CollectiveBatchNormSync<dist::Communicator> two(rank0);
    const Step plain = bn_step(x, dy, nullptr, training);
    for (autograd::BatchNormSync* sync : {&one, training ? &one : &two}) {
      const Step s = bn_step(x, dy, sync, training);
      for (const auto& [a, b] : {std::pair{s.y, plain.y},
                                 {s.dx, plain.dx},
                                 {s.dw, plain.dw},
                                 {s.db, plain.db},
                                 {s.running_mean, plain.running_mean},
                                 {s.running_var, plain.running_var}})
        REQUIRE(a.to_vector() == b.to_vector());
    }
    CHECK(rank0.calls == 0);
  }
}
