// psalm/tensor/memory.hpp — where tensor bytes live. Memory<Dev> allocates, frees and copies
// raw bytes on one device and keeps live / peak byte counts (tests use them to show that a
// pass frees what it allocated). The CPU specialisation is here; the CUDA one is in
// psalm/backend/cuda/memory.cuh. Depends on: std, core. Test: tests/tensor/test_memory.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "psalm/core/device.hpp"
#include "psalm/core/error.hpp"

namespace psalm {

/// Byte counters of one device's allocator.
struct MemoryStats {
  std::int64_t live_bytes = 0;  ///< bytes allocated now
  std::int64_t peak_bytes = 0;  ///< the most live bytes since the last reset_peak()
  std::int64_t allocations = 0;  ///< number of allocations ever made
};

namespace detail {
struct MemoryCounters {
  std::atomic<std::int64_t> live{0}, peak{0}, count{0};
  void on_allocate(std::int64_t bytes) {
    const std::int64_t now = live.fetch_add(bytes) + bytes;
    count.fetch_add(1);
    std::int64_t seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
  }
  void on_release(std::int64_t bytes) { live.fetch_sub(bytes); }
  MemoryStats stats() const { return {live.load(), peak.load(), count.load()}; }
  void reset_peak() { peak.store(live.load()); }
};
}  // namespace detail

/// Memory<Dev>: allocate / release / copy bytes on device Dev. Specialised per device.
template <Device Dev>
struct Memory;

template <>
struct Memory<cpu> {
  /// Alignment of every host allocation: one cache line, enough for AVX-512 loads.
  static constexpr std::size_t kAlignment = 64;

  static void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, rounded);
    PSALM_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
    counters().on_allocate(static_cast<std::int64_t>(bytes));
    return p;
  }
  static void release(void* p, std::size_t bytes) noexcept {
    if (!p) return;
    std::free(p);
    counters().on_release(static_cast<std::int64_t>(bytes));
  }
  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  static void copy_to_host(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes); }
  static void copy_from_host(void* dst, const void* src, std::size_t bytes) {
    copy(dst, src, bytes);
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
