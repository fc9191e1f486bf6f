// psalm/dist/communicator.hpp — the data-parallel communicator: the four collectives training
// needs (sum all-reduce of a float buffer, sum all-reduce of host doubles for counts and
// metrics, broadcast, barrier) behind one small interface, and its one-process back end. The
// back ends are chosen at run time: SingleProcess (here, every call a no-op), MpiCommunicator
// (dist/mpi.hpp: Open MPI, CPU buffers, across processes and machines) and NcclCommunicator
// (dist/nccl.cuh: GPU buffers). Gradient buckets on top: dist/buckets.hpp.
// Depends on: std. Test: tests/dist/test_dist.cpp.
#pragma once

#include <cstddef>

namespace psalm::dist {

/// One process's view of a group of processes (ranks 0 .. size() - 1). Every collective must
/// be called by every rank in the same order. Float buffers live where the back end computes
/// (host memory for MPI, device memory for NCCL); double buffers are always host memory.
class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "single", "mpi" or "nccl".
  virtual const char* backend() const = 0;

  /// data[i] = sum over ranks of data[i], in place, for n floats.
  virtual void all_reduce_sum(float* data, std::size_t n) = 0;
  /// The same for n host doubles (counts such as num_masks, metrics, flags).
  virtual void all_reduce_sum(double* host, std::size_t n) = 0;
  /// Every rank's n floats at `data` become root's.
  virtual void broadcast(float* data, std::size_t n, int root) = 0;
  /// Returns when every rank has called it.
  virtual void barrier() = 0;

  bool is_root() const { return rank() == 0; }
};

/// One process: every collective leaves its buffer as it is (a sum over one rank).
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* backend() const override { return "single"; }
  void all_reduce_sum(float*, std::size_t) override {}
  void all_reduce_sum(double*, std::size_t) override {}
  void broadcast(float*, std::size_t, int) override {}
  void barrier() override {}
};

}  // namespace psalm::dist
