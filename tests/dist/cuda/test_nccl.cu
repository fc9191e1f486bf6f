// tests/dist/cuda/test_nccl.cu — the NCCL back end of psalm::dist on every GPU of the machine,
// one rank per GPU and one thread per rank: sums of floats and host doubles, a broadcast, a
// barrier, and dist::Buckets averaging three gradient tensors through buckets of 7 floats (so
// tensors span buckets) to their mean over the ranks. With one GPU the ranks are one (sums are
// the values themselves). Returns 77 (CTest: skipped) when the machine has no CUDA device.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "psalm/cuda.cuh"
#include "psalm/dist/buckets.hpp"
#include "psalm/dist/nccl.cuh"

using namespace psalm;

namespace {

std::atomic<int> failures{0};

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what.c_str());
    ++failures;
  }
}

/// Rank r's value of element i of tensor t (so every rank and element differ).
float value(int rank, int t, std::int64_t i) {
  return static_cast<float>(rank + 1) * 0.5f + static_cast<float>(t) +
         0.01f * static_cast<float>(i);
}

void rank_main(const std::vector<float>& id, int rank, int size) {
  dist::NcclCommunicator comm(id, rank, size, rank);
  const std::string me = "rank " + std::to_string(rank) + ": ";

  // Sums of floats (device memory) and doubles (host memory).
  std::vector<float> host(10, static_cast<float>(rank + 1));
  Tensor<float, cuda> x = Tensor<float, cuda>::from_data(host, {10});  // (10)
  comm.all_reduce_sum(x.data(), 10);
  const float want_sum = static_cast<float>(size * (size + 1) / 2);
  for (const float v : x.to_vector()) expect(v == want_sum, me + "float all-reduce");
  std::vector<double> d = {1.0, static_cast<double>(rank)};
  comm.all_reduce_sum(d.data(), d.size());
  expect(d[0] == size && d[1] == size * (size - 1) / 2.0, me + "double all-reduce");

  // Broadcast from the last rank.
  Tensor<float, cuda> b = Tensor<float, cuda>::full({5}, static_cast<float>(rank));  // (5)
  comm.broadcast(b.data(), 5, size - 1);
  for (const float v : b.to_vector()) expect(v == size - 1, me + "broadcast");
  comm.barrier();

  // Buckets of 7 floats over tensors of 5, 12 and 3 elements: each becomes its mean.
  const std::int64_t sizes[3] = {5, 12, 3};
  std::vector<Tensor<float, cuda>> grads;
  for (int t = 0; t < 3; ++t) {
    std::vector<float> v(static_cast<std::size_t>(sizes[t]));
    for (std::int64_t i = 0; i < sizes[t]; ++i) v[static_cast<std::size_t>(i)] = value(rank, t, i);
    grads.push_back(Tensor<float, cuda>::from_data(v, {sizes[t]}));  // (n_t)
  }
  dist::Buckets<cuda> buckets(comm, 7);
  buckets.average(grads);
  if (size > 1) expect(buckets.buckets_sent() == 3, me + "20 floats in buckets of 7: 3 buckets");
  for (int t = 0; t < 3; ++t) {
    const std::vector<float> got = grads[static_cast<std::size_t>(t)].to_vector();
    for (std::int64_t i = 0; i < sizes[t]; ++i) {
      double mean = 0;
      for (int r = 0; r < size; ++r) mean += value(r, t, i);
      mean /= size;
      expect(std::fabs(got[static_cast<std::size_t>(i)] - mean) <= 1e-6 * (1 + std::fabs(mean)),
             me + "bucket average of tensor " + std::to_string(t));
    }
  }
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("no CUDA device: skipping\n");
    return 77;
  }
  try {
    const std::vector<float> id = dist::make_nccl_id();
    std::vector<std::thread> ranks;
    std::vector<std::string> errors(static_cast<std::size_t>(devices));
    for (int r = 0; r < devices; ++r)
      ranks.emplace_back([&, r] {
        try {
          rank_main(id, r, devices);
        } catch (const std::exception& e) {
          errors[static_cast<std::size_t>(r)] = e.what();
        }
      });
    for (auto& t : ranks) t.join();
    for (const auto& e : errors)
      if (!e.empty()) expect(false, e);
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
  std::printf("nccl: %d rank(s), %s\n", devices, failures.load() == 0 ? "all passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
