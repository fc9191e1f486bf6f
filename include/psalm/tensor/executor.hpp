// psalm/tensor/executor.hpp — the contract between tensors and the backends that run kernels.
// Executor<Dev>::launch(n, body) calls body(i) once for every i in [0, n), in any order and in
// parallel; `body` is a trivially copyable functor with a PSALM_HD call operator. The CPU
// specialisation is in psalm/backend/cpu/executor.hpp, the CUDA one in
// psalm/backend/cuda/executor.cuh. Depends on: core. Test: tests/backend/test_executor.cpp.
#pragma once

#include <concepts>
#include <cstdint>
#include <type_traits>

#include "psalm/core/device.hpp"

namespace psalm {

template <Device Dev>
struct Executor;

/// A kernel body: "compute element i", callable on host and device, copied by value to kernels.
template <class F>
concept KernelBody = std::is_trivially_copyable_v<F> && requires(const F& f, std::int64_t i) {
  f(i);
};

}  // namespace psalm
