// psalm/backend/cuda/executor.cuh — Executor<cuda>: runs a kernel body in a grid-stride CUDA
// kernel (the same kernels::GridStride the host emulator runs). Launches go to the stream
// given, the default stream otherwise, and are followed by an error check.
// Depends on: tensor/executor, kernels/launch, backend/cuda/check. Test: tests/cuda/test_parity.cu.
#pragma once

#include <algorithm>
#include <cstdint>

#include <cuda_runtime.h>

#include "psalm/backend/cuda/check.cuh"
#include "psalm/kernels/launch.hpp"
#include "psalm/tensor/executor.hpp"

namespace psalm {

namespace cuda_backend {

template <class Body>
__global__ void grid_stride_kernel(kernels::GridStride<Body> loop) {
  loop(kernels::ThreadIndex{blockIdx.x, threadIdx.x, blockDim.x, gridDim.x});
}

}  // namespace cuda_backend

template <>
struct Executor<cuda> {
  static constexpr int kBlock = 256;
  static constexpr std::int64_t kMaxGrid = 65535;

  /// Calls body(i) for every i in [0, n) on the GPU. `grain` is ignored (a CPU tuning knob).
  template <KernelBody Body>
  static void launch(std::int64_t n, const Body& body, std::int64_t /*grain*/ = 0,
                     cudaStream_t stream = nullptr) {
    if (n <= 0) return;
    const std::int64_t grid = std::min<std::int64_t>((n + kBlock - 1) / kBlock, kMaxGrid);
    cuda_backend::grid_stride_kernel<<<static_cast<unsigned>(grid), kBlock, 0, stream>>>(
        kernels::GridStride<Body>{n, body});
    PSALM_CUDA_CHECK(cudaGetLastError());
  }

  /// Waits for the stream's work and reports asynchronous errors.
  static void synchronize(cudaStream_t stream = nullptr) {
    PSALM_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
};

}  // namespace psalm
