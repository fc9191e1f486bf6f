// psalm/backend/cuda/memory.cuh — Memory<cuda>: device memory from cudaMalloc (never managed
// memory) and synchronous copies, with the same live / peak counters as the host.
// Depends on: tensor/memory, backend/cuda/check. Test: tests/cuda/test_parity.cu.
#pragma once

#include <cuda_runtime.h>

#include "psalm/backend/cuda/check.cuh"
#include "psalm/tensor/memory.hpp"

namespace psalm {

template <>
struct Memory<cuda> {
  static void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    PSALM_CUDA_CHECK(cudaMalloc(&p, bytes));
    counters().on_allocate(static_cast<std::int64_t>(bytes));
    return p;
  }
  static void release(void* p, std::size_t bytes) noexcept {
    if (!p) return;
    cudaFree(p);
    counters().on_release(static_cast<std::int64_t>(bytes));
  }
  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) PSALM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
  }
  static void copy_to_host(void* dst, const void* src, std::size_t bytes) {
    if (bytes) PSALM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
  }
  static void copy_from_host(void* dst, const void* src, std::size_t bytes) {
    if (bytes) PSALM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
  }
  static MemoryStats stats() { return counters().stats(); }
  static void reset_peak() { counters().reset_peak(); }

 private:
  static detail::MemoryCounters& counters() {
    static detail::MemoryCounters c;
    return c;
  }
};

}  // namespace psalm
