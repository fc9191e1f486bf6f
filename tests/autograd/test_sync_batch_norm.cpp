// Tests for psalm/autograd/ops/sync_batch_norm.hpp in one thread: this process is rank 0 of two,
// rank 1 simulated by a BatchNormSync that adds the statistics of a fixed input of its own
// (and nothing in backward: rank 1's loss is taken as 0). Then the op is a function of this
// rank's input alone, checked against finite differences in double, and its forward and
// running statistics against batch_norm2d over the concatenated batch. The two-rank
// equivalence with real collectives: tests/dist/test_sync_batch_norm.cpp.
#include <cstdint>
#include <vector>

#include "op_check.hpp"
#include "psalm/autograd/ops/sync_batch_norm.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {

/// Rank 0 of two; rank 1 holds `other` (N1, C, H, W) and a zero output gradient. It answers
/// the op's sums by their length: 1 the count, C first the sums and then the squared
/// deviations from the global mean, 2C the backward sums.
class FixedOtherRank final : public BatchNormSync {
 public:
  explicit FixedOtherRank(const Tensor<double>& other) : c_(other.size(1)) {
    const std::int64_t n = other.size(0), s = other.size(2) * other.size(3);
    rows_ = other.reshape({n, c_, s}).permute({1, 0, 2}).contiguous().view({c_, n * s});
  }
  int size() const override { return 2; }
  void all_reduce_sum(float*, std::size_t) override { FAIL("float sums in a double test"); }
  void all_reduce_sum(double* h, std::size_t n) override {
    const std::int64_t m = rows_.size(1);
    if (n == 1) {
      h[0] += static_cast<double>(m);
      count_ = h[0];
    } else if (static_cast<std::int64_t>(n) == c_ && !squares_next_) {
      mean_.assign(c_, 0.0);
      for (std::int64_t c = 0; c < c_; ++c) {
        for (std::int64_t i = 0; i < m; ++i) h[c] += rows_.data()[c * m + i];
        mean_[c] = h[c] / count_;
      }
      squares_next_ = true;
    } else if (static_cast<std::int64_t>(n) == c_) {
      for (std::int64_t c = 0; c < c_; ++c)
        for (std::int64_t i = 0; i < m; ++i) {
          const double d = rows_.data()[c * m + i] - mean_[c];
          h[c] += d * d;
        }
      squares_next_ = false;
    } else {
      REQUIRE(static_cast<std::int64_t>(n) == 2 * c_);  // backward: rank 1 adds zeros
    }
  }

 private:
  std::int64_t c_;
  Tensor<double> rows_;  // (C, M1)
  double count_ = 0.0;
  std::vector<double> mean_;
  bool squares_next_ = false;
};

}  // namespace

TEST_CASE("sync_batch_norm2d: backward matches finite differences with a second rank",
          "[autograd][batch_norm]") {
  const auto x = Tensor<double>::randn({2, 3, 4, 5}, 51, 0.5, 2.0).slice(3, 0, 5, 2);  // (2,3,4,3)
  const auto other = Tensor<double>::randn({3, 3, 4, 3}, 52, -0.5, 1.5);
  const auto w = Tensor<double>::randn({3}, 53, 1.0);
  const auto b = Tensor<double>::randn({3}, 54);
  FixedOtherRank rank1(other);  // outlives the backward passes, which hold it
  check_gradients(
      [&](const Vars<double>& v) { return sync_batch_norm2d(v[0], v[1], v[2], {}, {}, rank1); },
      {x, w, b});
  check_gradients(
      [&](const Vars<double>& v) { return sync_batch_norm2d(v[0], {}, {}, {}, {}, rank1); }, {x});
}

TEST_CASE("sync_batch_norm2d: forward and running statistics are batch_norm2d's on both ranks'",
          "[autograd][batch_norm]") {
  const auto x = Tensor<double>::randn({2, 3, 2, 3}, 55, 0.3, 2.0);
  const auto other = Tensor<double>::randn({1, 3, 2, 3}, 56, 1.0, 0.5);
  const auto w = Var<double>(Tensor<double>::randn({3}, 57));
  const auto b = Var<double>(Tensor<double>::randn({3}, 58));
  Tensor<double> both(Shape{3, 3, 2, 3});  // (3, C, 2, 3): x, then other
  both.slice(0, 0, 2).assign(x);
  both.slice(0, 2, 3).assign(other);
  Tensor<double> rm(Tensor<double>::randn({3}, 59)), rv(Tensor<double>::rand({3}, 60) + 0.5);
  Tensor<double> rm_ref(rm + 0.0), rv_ref(rv + 0.0);  // copies
  const BatchNormOptions opt{.momentum = 0.3};
  FixedOtherRank rank1(other);
  const Tensor<double> y = sync_batch_norm2d(Var<double>(x), w, b, rm, rv, rank1, opt).value();
  const Tensor<double> y_ref = batch_norm2d(Var<double>(both), w, b, rm_ref, rv_ref, opt).value();
  testing::require_close(y, y_ref.slice(0, 0, 2), 1e-12, 1e-12);
  testing::require_close(rm, rm_ref, 1e-12, 1e-12);
  testing::require_close(rv, rv_ref, 1e-12, 1e-12);
}

TEST_CASE("sync_batch_norm2d: rejects eval mode and one value per channel over all ranks",
          "[autograd][batch_norm]") {
  FixedOtherRank empty(Tensor<double>::zeros({0, 3, 1, 1}));
  const Var<double> x(Tensor<double>::zeros({2, 3, 2, 2}));
  REQUIRE_THROWS_AS(sync_batch_norm2d(x, {}, {}, {}, {}, empty, {.training = false}), Error);
  REQUIRE_THROWS_AS(
      sync_batch_norm2d(Var<double>(Tensor<double>::zeros({1, 3, 1, 1})), {}, {}, {}, {}, empty),
      Error);
  // a second rank's values make one value here enough
  FixedOtherRank one(Tensor<double>::ones({1, 3, 1, 1}));
  REQUIRE_NOTHROW(
      sync_batch_norm2d(Var<double>(Tensor<double>::zeros({1, 3, 1, 1})), {}, {}, {}, {}, one));
}
