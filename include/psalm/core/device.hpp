// psalm/core/device.hpp — device tags. A tensor's device is part of its type, so mixing
// devices in one expression is a compile-time error rather than a run-time surprise.
// Depends on: std. Test: tests/core/test_device.cpp.
#pragma once

#include <concepts>
#include <string_view>

namespace psalm {

/// The host: memory from the system allocator, kernels run by the OpenMP executor.
struct cpu {
  static constexpr std::string_view name = "cpu";
};

/// An NVIDIA GPU: memory from cudaMalloc, kernels run by the grid-stride CUDA executor.
/// Usable only in translation units compiled by nvcc that include psalm/backend/cuda/.
struct cuda {
  static constexpr std::string_view name = "cuda";
};

template <class D>
concept Device = std::same_as<D, cpu> || std::same_as<D, cuda>;

}  // namespace psalm
