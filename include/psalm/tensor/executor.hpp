// psalm/tensor/executor.hpp — the contract between tensors and the backends that run kernels.
// Executor<Dev>::launch(n, body) calls body(i) once for every i in [0, n), in any order and in
// parallel; `body` is a trivially copyable functor with a PSALM_HD call operator. The CPU
// specialisation is in psalm/backend/cpu/executor.hpp, the CUDA one in
// psalm/backend/cuda/executor.cuh. grain_for() is the one rule for the optional grain of a
// launch. Depends on: core. Test: tests/backend/test_executor.cpp.
#pragma once

#include <algorithm>
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

/// Operations a CPU thread should get before a launch is split across threads.
inline constexpr std::int64_t kThreadWork = 1 << 14;

/// The grain (items per thread at least) of a launch whose items each cost about `item_work`
/// operations, e.g. a row body over `item_work` columns: about `thread_work` operations per
/// thread, never less than one item, so small launches stay on one thread. The CPU executor
/// reads it; the CUDA executor ignores it.
constexpr std::int64_t grain_for(std::int64_t item_work, std::int64_t thread_work = kThreadWork) {
  return std::max<std::int64_t>(1, thread_work / (item_work + 1));
}

}  // namespace psalm
