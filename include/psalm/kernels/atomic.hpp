// psalm/kernels/atomic.hpp — atomic accumulation for kernel bodies whose threads may add into
// the same element (scatter-adds in backward passes): atomicAdd on CUDA, std::atomic_ref on
// the host. Depends on: std, core. Test: tests/kernels/test_atomic.cpp.
#pragma once

#include <atomic>

#include "psalm/core/macros.hpp"

namespace psalm::kernels {

/// *target += value, atomically with respect to other atomic_add calls on the same element.
template <class T>
PSALM_HD_INLINE void atomic_add(T* target, T value) {
#if PSALM_IN_DEVICE_CODE
  atomicAdd(target, value);
#else
  std::atomic_ref<T> ref(*target);
  if constexpr (std::is_integral_v<T>) {
    ref.fetch_add(value, std::memory_order_relaxed);
  } else {
    T seen = ref.load(std::memory_order_relaxed);
    while (!ref.compare_exchange_weak(seen, seen + value, std::memory_order_relaxed)) {
    }
  }
#endif
}

}  // namespace psalm::kernels
