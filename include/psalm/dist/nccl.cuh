// psalm/dist/nccl.cuh — the NCCL back end of the communicator: one rank per GPU, float buffers
// in device memory, collectives on the legacy default stream (ordered after the kernels the
// CUDA executor launched) and waited for, so each call returns with its result in place like
// the other back ends. Ranks meet through an ncclUniqueId that rank 0 makes and hands to the
// others over any communicator (make_nccl_id / NcclCommunicator(id, rank, size, device), e.g.
// through MpiCommunicator across machines) or, in one process with one thread per GPU, through
// memory. Compiled where CMake found NCCL (PSALM_WITH_NCCL: nccl.h and libnccl, shipped with the
// CUDA toolkit or from NVIDIA's libnccl-dev).
// Depends on: dist/communicator, backend/cuda/check, NCCL. Test: tests/dist/cuda/test_nccl.cu.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "psalm/backend/cuda/check.cuh"
#include "psalm/core/error.hpp"
#include "psalm/dist/communicator.hpp"

namespace psalm::dist {

/// Throws a psalm::Error naming the NCCL call that failed and NCCL's reason.
#define PSALM_NCCL_CHECK(call)                                                                 \
  do {                                                                                         \
    const ncclResult_t psalm_nccl_status = (call);                                             \
    if (psalm_nccl_status != ncclSuccess)                                                      \
      ::psalm::fail(#call, " failed: ", ncclGetErrorString(psalm_nccl_status), " (", __FILE__, \
                    ":", __LINE__, ")");                                                       \
  } while (0)

/// A new NCCL id (on rank 0) as floats, so any Communicator can broadcast it bit for bit.
inline std::vector<float> make_nccl_id() {
  ncclUniqueId id;
  PSALM_NCCL_CHECK(ncclGetUniqueId(&id));
  std::vector<float> out((sizeof id + sizeof(float) - 1) / sizeof(float), 0.0f);
  std::memcpy(out.data(), &id, sizeof id);
  return out;
}

class NcclCommunicator final : public Communicator {
 public:
  /// Rank `rank` of `size` on GPU `device`; `id` is make_nccl_id()'s value on rank 0, the same
  /// on every rank.
  NcclCommunicator(const std::vector<float>& id, int rank, int size, int device)
      : rank_(rank), size_(size), device_(device) {
    PSALM_CHECK(size >= 1 && rank >= 0 && rank < size, "NCCL: rank ", rank, " of ", size);
    PSALM_CHECK(id.size() * sizeof(float) >= sizeof(ncclUniqueId),
                "NCCL: the id has too few bytes (", id.size() * sizeof(float), ")");
    ncclUniqueId uid;
    std::memcpy(&uid, id.data(), sizeof uid);
    PSALM_CUDA_CHECK(cudaSetDevice(device_));
    PSALM_NCCL_CHECK(ncclCommInitRank(&comm_, size_, uid, rank_));
    PSALM_CUDA_CHECK(cudaMalloc(&scratch_, kScratchDoubles * sizeof(double)));
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;
  ~NcclCommunicator() override {
    cudaFree(scratch_);
    ncclCommDestroy(comm_);
  }

  /// Every process's id over `bootstrap` (rank 0 makes it): the usual start under mpirun.
  static std::vector<float> shared_id(Communicator& bootstrap) {
    std::vector<float> id =
        bootstrap.is_root() ? make_nccl_id() : std::vector<float>(make_id_length(), 0.0f);
    bootstrap.broadcast(id.data(), id.size(), 0);
    return id;
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "nccl"; }

  void all_reduce_sum(float* device_data, std::size_t n) override {
    PSALM_CUDA_CHECK(cudaSetDevice(device_));
    PSALM_NCCL_CHECK(
        ncclAllReduce(device_data, device_data, n, ncclFloat, ncclSum, comm_, cudaStreamLegacy));
    PSALM_CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy));
  }
  /// Host doubles go through a device scratch buffer, kScratchDoubles at a time.
  void all_reduce_sum(double* host, std::size_t n) override {
    PSALM_CUDA_CHECK(cudaSetDevice(device_));
    for (std::size_t at = 0; at < n; at += kScratchDoubles) {
      const std::size_t count = n - at < kScratchDoubles ? n - at : kScratchDoubles;
      PSALM_CUDA_CHECK(
          cudaMemcpy(scratch_, host + at, count * sizeof(double), cudaMemcpyHostToDevice));
      PSALM_NCCL_CHECK(
          ncclAllReduce(scratch_, scratch_, count, ncclDouble, ncclSum, comm_, cudaStreamLegacy));
      PSALM_CUDA_CHECK(
          cudaMemcpy(host + at, scratch_, count * sizeof(double), cudaMemcpyDeviceToHost));
    }
  }
  void broadcast(float* device_data, std::size_t n, int root) override {
    PSALM_CHECK(root >= 0 && root < size_, "NCCL broadcast: root ", root, " is not a rank of ",
                size_);
    PSALM_CUDA_CHECK(cudaSetDevice(device_));
    PSALM_NCCL_CHECK(
        ncclBroadcast(device_data, device_data, n, ncclFloat, root, comm_, cudaStreamLegacy));
    PSALM_CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy));
  }
  /// An all-reduce of one value: returns when every rank has reached it.
  void barrier() override {
    double one = 1.0;
    all_reduce_sum(&one, 1);
  }

 private:
  static constexpr std::size_t kScratchDoubles = 4096;
  static std::size_t make_id_length() {
    return (sizeof(ncclUniqueId) + sizeof(float) - 1) / sizeof(float);
  }

  int rank_, size_, device_;
  ncclComm_t comm_ = nullptr;
  double* scratch_ = nullptr;
};

}  // namespace psalm::dist
