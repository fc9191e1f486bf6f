// psalm/kernels/launch.hpp — the (grid, block, thread) view of a launch, shared by the CUDA
// kernels and the host emulator (backend/cpu/emulate.hpp), so grid-stride logic written once
// is tested on the CPU. Depends on: core. Test: tests/backend/test_emulate.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/macros.hpp"

namespace psalm::kernels {

/// One thread's place in a one-dimensional launch.
struct ThreadIndex {
  std::int64_t block_idx, thread_idx, block_dim, grid_dim;
  PSALM_HD std::int64_t global() const { return block_idx * block_dim + thread_idx; }
  PSALM_HD std::int64_t total() const { return block_dim * grid_dim; }
};

/// Runs body(i) for the indices i < n this thread owns in a grid-stride loop.
template <class Body>
struct GridStride {
  std::int64_t n;
  Body body;
  PSALM_HD void operator()(const ThreadIndex& t) const {
    for (std::int64_t i = t.global(); i < n; i += t.total()) body(i);
  }
};

}  // namespace psalm::kernels
