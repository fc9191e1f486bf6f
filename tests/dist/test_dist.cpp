// Tests of psalm/dist/{communicator,buckets}.hpp in one process: the one-process back end
// leaves buffers alone, and Buckets packs tensors into buckets (tensors spanning buckets),
// reduces each and unpacks the mean into fresh tensors, checked against a simulated second rank
// whose values are known. MPI itself: tests/dist/mpi/test_mpi_equivalence.cpp (CTest dist_mpi).
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "psalm/dist/buckets.hpp"
#include "psalm/dist/communicator.hpp"

using namespace psalm;

namespace {

/// Rank 0 of two, the other rank simulated: it holds `other` (the same layout as the buffers
/// this rank sends, concatenated in call order), and records every call's length.
class TwoRanks final : public dist::Communicator {
 public:
  explicit TwoRanks(std::vector<float> other) : other_(std::move(other)) {}
  int rank() const override { return 0; }
  int size() const override { return 2; }
  const char* backend() const override { return "test"; }
  void all_reduce_sum(float* data, std::size_t n) override {
    for (std::size_t i = 0; i < n; ++i) data[i] += other_.at(at_ + i);
    at_ += n;
    calls.push_back(n);
  }
  void all_reduce_sum(double* host, std::size_t n) override {
    for (std::size_t i = 0; i < n; ++i) host[i] *= 2;
  }
  void broadcast(float* data, std::size_t n, int root) override {
    if (root != rank())
      for (std::size_t i = 0; i < n; ++i) data[i] = other_.at(at_ + i);
    at_ += n;
    calls.push_back(n);
  }
  void barrier() override {}

  std::vector<std::size_t> calls;

 private:
  std::vector<float> other_;
  std::size_t at_ = 0;
};

std::vector<Tensor<float>> three_tensors(float base) {
  std::vector<Tensor<float>> t;
  t.emplace_back(Tensor<float>::arange(0, 6).view({2, 3}) + base);  // (2, 3)
  t.emplace_back();                                                 // undefined: skipped
  t.emplace_back(Tensor<float>::arange(0, 10) * 2.0f + base);       // (10)
  t.push_back(Tensor<float>::full({1}, base));                      // (1)
  return t;
}

std::vector<float> flat(const std::vector<Tensor<float>>& ts) {
  std::vector<float> out;
  for (const auto& t : ts)
    if (t.defined())
      for (const float v : t.to_vector()) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("dist: one process leaves every buffer as it is", "[dist]") {
  dist::SingleProcess one;
  CHECK(one.rank() == 0);
  CHECK(one.size() == 1);
  CHECK(one.is_root());
  std::vector<float> f = {1, 2, 3};
  std::vector<double> d = {4, 5};
  one.all_reduce_sum(f.data(), f.size());
  one.all_reduce_sum(d.data(), d.size());
  one.broadcast(f.data(), f.size(), 0);
  one.barrier();
  CHECK(f == std::vector<float>{1, 2, 3});
  CHECK(d == std::vector<double>{4, 5});
  std::vector<Tensor<float>> t = three_tensors(1.0f);
  const Tensor<float> first = t[0];
  dist::Buckets<cpu> b(one);
  b.average(t);
  CHECK(t[0].data() == first.data());  // untouched, not even copied
  CHECK(b.buckets_sent() == 0);
}

TEST_CASE("dist: buckets average tensors over ranks, tensors spanning buckets", "[dist]") {
  const std::vector<Tensor<float>> mine = three_tensors(1.0f);
  const std::vector<float> other = flat(three_tensors(5.0f));  // 17 floats
  for (const std::int64_t bucket :
       {std::int64_t{4}, std::int64_t{7}, std::int64_t{17}, std::int64_t{1000}}) {
    INFO("bucket of " << bucket);
    TwoRanks comm(other);
    dist::Buckets<cpu> b(comm, bucket);
    std::vector<Tensor<float>> t = mine;
    b.average(t);
    // Buckets of `bucket` floats, the last one partial.
    std::vector<std::size_t> want_calls;
    for (std::int64_t left = 17; left > 0; left -= bucket)
      want_calls.push_back(static_cast<std::size_t>(std::min(left, bucket)));
    CHECK(comm.calls == want_calls);
    CHECK(b.buckets_sent() == static_cast<std::int64_t>(want_calls.size()));
    REQUIRE(t.size() == 4);
    CHECK_FALSE(t[1].defined());
    CHECK(t[0].shape() == Shape({2, 3}));
    CHECK(t[0].data() != mine[0].data());  // fresh tensors: the caller's are not written
    const std::vector<float> got = flat(t), a = flat(mine);
    REQUIRE(got.size() == 17);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == (a[i] + other[i]) / 2);
    CHECK(flat(mine) == a);
  }
}

TEST_CASE("dist: buckets broadcast the root's tensors", "[dist]") {
  const std::vector<float> root = flat(three_tensors(3.0f));
  TwoRanks comm(root);
  dist::Buckets<cpu> b(comm, 5);
  std::vector<Tensor<float>> t = three_tensors(0.0f);
  b.broadcast(t, 1);  // this process is rank 0: it receives
  CHECK(flat(t) == root);
  CHECK(comm.calls == std::vector<std::size_t>{5, 5, 5, 2});
  CHECK_THROWS_WITH(dist::Buckets<cpu>(comm, 0), Catch::Contains("bucket size must be positive"));
}
