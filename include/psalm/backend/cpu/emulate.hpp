// psalm/backend/cpu/emulate.hpp — runs a CUDA-style body on the host for every (block, thread)
// of a one-dimensional launch, sequentially, so kernels written against ThreadIndex (e.g.
// kernels::GridStride, the body of the CUDA executor) are tested without a GPU.
// Depends on: kernels/launch. Test: tests/backend/test_emulate.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/error.hpp"
#include "psalm/kernels/launch.hpp"

namespace psalm::cpu_backend {

/// Calls body(ThreadIndex) for every block in [0, grid) and thread in [0, block).
template <class Body>
void emulate_launch(std::int64_t grid, std::int64_t block, const Body& body) {
  PSALM_CHECK(grid > 0 && block > 0, "emulate_launch: grid and block must be positive, got ", grid,
              " and ", block);
  for (std::int64_t b = 0; b < grid; ++b)
    for (std::int64_t t = 0; t < block; ++t) body(kernels::ThreadIndex{b, t, block, grid});
}

}  // namespace psalm::cpu_backend
