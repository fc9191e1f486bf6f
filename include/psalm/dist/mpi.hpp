// psalm/dist/mpi.hpp — the MPI back end of the communicator:
// Host code (CPU buffers). Ranks are the processes `mpirun -np N` starts, on one machine or
// several (a hostfile). Initialises MPI if nobody has (and then finalises it), works on a
// duplicate of MPI_COMM_WORLD, and turns every MPI error into a psalm::Error naming the call.
// The only header that includes <mpi.h>; available where CMake found MPI (PSALM_WITH_MPI).
// Depends on: dist/communicator, MPI. Test: tests/dist/mpi/test_mpi_equivalence.cpp (under mpirun).
#pragma once

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <string>

#include "psalm/core/error.hpp"
#include "psalm/dist/communicator.hpp"

namespace psalm::dist {

class MpiCommunicator final : public Communicator {
 public:
  /// Joins the job this process was started in (a process started without mpirun is a job of
  /// one rank).
  MpiCommunicator() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owns_mpi_ = true;
    }
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;
  ~MpiCommunicator() override {
    MPI_Comm_free(&comm_);
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (owns_mpi_ && !finalised) MPI_Finalize();
  }

  /// True when this process was started by an MPI launcher (Open MPI's mpirun, or a PMI
  /// launcher such as srun or MPICH's hydra), so a program picks this back end by itself.
  static bool launched_by_mpirun() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
      if (std::getenv(v) != nullptr) return true;
    return false;
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }

  void all_reduce_sum(float* data, std::size_t n) override {
    for_chunks(n, [&](std::size_t at, int count) {
      check(MPI_Allreduce(MPI_IN_PLACE, data + at, count, MPI_FLOAT, MPI_SUM, comm_),
            "MPI_Allreduce");
    });
  }
  void all_reduce_sum(double* host, std::size_t n) override {
    for_chunks(n, [&](std::size_t at, int count) {
      check(MPI_Allreduce(MPI_IN_PLACE, host + at, count, MPI_DOUBLE, MPI_SUM, comm_),
            "MPI_Allreduce");
    });
  }
  void broadcast(float* data, std::size_t n, int root) override {
    PSALM_CHECK(root >= 0 && root < size_, "MPI broadcast: root ", root, " is not a rank of ",
                size_);
    for_chunks(n, [&](std::size_t at, int count) {
      check(MPI_Bcast(data + at, count, MPI_FLOAT, root, comm_), "MPI_Bcast");
    });
  }
  void barrier() override { check(MPI_Barrier(comm_), "MPI_Barrier"); }

 private:
  /// MPI counts are int: longer buffers go in chunks of at most INT_MAX elements.
  template <class Fn>
  static void for_chunks(std::size_t n, Fn&& fn) {
    for (std::size_t at = 0; at < n;) {
      const std::size_t count = std::min<std::size_t>(n - at, INT_MAX);
      fn(at, static_cast<int>(count));
      at += count;
    }
  }

  static void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    fail(call, " failed: ", std::string(text, static_cast<std::size_t>(length)));
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
};

}  // namespace psalm::dist
