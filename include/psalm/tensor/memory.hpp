// psalm/tensor/memory.hpp — where tensor bytes live. Memory<Dev> allocates, frees and copies
// raw bytes on one device and keeps live / peak byte counts (tests use them to show that a
// pass frees what it allocated). The CPU specialisation is here, with a size-bucketed cache of
// large blocks; the CUDA one is in psalm/backend/cuda/memory.cuh.
// Depends on: std, core. Test: tests/tensor/test_memory.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "psalm/core/device.hpp"
#include "psalm/core/error.hpp"

namespace psalm {

/// Byte counters of one device's allocator.
struct MemoryStats {
  std::int64_t live_bytes = 0;    ///< bytes allocated now
  std::int64_t peak_bytes = 0;    ///< the most live bytes since the last reset_peak()
  std::int64_t allocations = 0;   ///< number of allocations ever made
  std::int64_t cached_bytes = 0;  ///< freed bytes kept for reuse (host cache; not in live_bytes)
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
  MemoryStats stats() const { return {live.load(), peak.load(), count.load(), 0}; }
  void reset_peak() { peak.store(live.load()); }
};
/// Freed host blocks of 1 MiB and more, kept by size bucket for the next allocation of that
/// bucket. Without it every large tensor is a fresh mmap whose pages the kernel zero-fills on
/// first touch and unmaps on free: an op on a 150 MB tensor spent a third of its time in page
/// faults. Buckets have four steps per power of two (at most 25% of a block unused; untouched
/// pages cost no memory). The cache holds at most limit() bytes (2 GiB by default, or
/// PSALM_HOST_CACHE_MB); a block freed beyond that goes back to the system.
class HostBlockCache {
 public:
  static constexpr std::size_t kMinBytes = std::size_t{1} << 20;

  static HostBlockCache& instance() {
    // Never destroyed: tensors held by other static objects may be freed after main returns.
    static HostBlockCache* cache = new HostBlockCache();
    return *cache;
  }

  /// The bucket (block size) serving a request of `bytes` >= kMinBytes.
  static std::size_t bucket_bytes(std::size_t bytes) {
    int k = 0;
    while ((std::size_t{1} << (k + 1)) <= bytes) ++k;
    const std::size_t step = std::size_t{1} << (k - 2);
    return (bytes + step - 1) / step * step;
  }

  /// A cached block of this bucket, or nullptr.
  void* take(std::size_t bucket) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(bucket);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= bucket;
    return p;
  }

  /// Keeps the block if the cache has room; false means the caller frees it.
  bool give(void* p, std::size_t bucket) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + bucket > limit_) return false;
    free_[bucket].push_back(p);
    cached_ += bucket;
    return true;
  }

  /// Frees every cached block.
  void release_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bucket, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_ = 0;
  }

  std::size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }
  std::size_t limit() {
    std::lock_guard<std::mutex> lock(mutex_);
    return limit_;
  }
  void set_limit(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_ = bytes;
      if (cached_ <= limit_) return;
    }
    release_all();
  }

 private:
  HostBlockCache() {
    if (const char* mb = std::getenv("PSALM_HOST_CACHE_MB")) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(mb, &end, 10);
      if (end != mb && *end == '\0' && v < (std::size_t{1} << 44)) limit_ = v << 20;
    }
  }

  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_ = 0;
  std::size_t limit_ = std::size_t{2} << 30;
};

}  // namespace detail

/// Memory<Dev>: allocate / release / copy bytes on device Dev. Specialised per device.
template <Device Dev>
struct Memory;

template <>
struct Memory<cpu> {
  /// Alignment of every host allocation: one cache line, enough for AVX-512 loads.
  static constexpr std::size_t kAlignment = 64;

  /// `bytes` of uninitialised memory (nullptr for 0); blocks of 1 MiB and more come from the
  /// cache of freed blocks when it holds one of the same bucket.
  static void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    auto& cache = detail::HostBlockCache::instance();
    const bool cached = bytes >= detail::HostBlockCache::kMinBytes;
    const std::size_t rounded = cached ? detail::HostBlockCache::bucket_bytes(bytes)
                                       : (bytes + kAlignment - 1) / kAlignment * kAlignment;
    void* p = cached ? cache.take(rounded) : nullptr;
    if (!p) p = std::aligned_alloc(kAlignment, rounded);
    if (!p && cache.cached_bytes() > 0) {  // out of memory: give the cache back and retry
      cache.release_all();
      p = std::aligned_alloc(kAlignment, rounded);
    }
    PSALM_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
    counters().on_allocate(static_cast<std::int64_t>(bytes));
    return p;
  }
  /// Frees a block from allocate(p's size `bytes`): large ones go to the cache while it has
  /// room.
  static void release(void* p, std::size_t bytes) noexcept {
    if (!p) return;
    counters().on_release(static_cast<std::int64_t>(bytes));
    if (bytes >= detail::HostBlockCache::kMinBytes) {
      bool kept = false;
      try {
        kept =
            detail::HostBlockCache::instance().give(p, detail::HostBlockCache::bucket_bytes(bytes));
      } catch (...) {  // the bucket list could not grow: free the block instead
      }
      if (kept) return;
    }
    std::free(p);
  }
  /// Returns every cached block to the system (e.g. before a phase that needs the memory
  /// elsewhere); tensors alive now are untouched.
  static void release_cache() { detail::HostBlockCache::instance().release_all(); }
  /// Most bytes the cache keeps (0 disables it; lowering the limit releases the cache).
  static void set_cache_limit(std::size_t bytes) {
    detail::HostBlockCache::instance().set_limit(bytes);
  }
  static std::size_t cache_limit() { return detail::HostBlockCache::instance().limit(); }
  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  static void copy_to_host(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes); }
  static void copy_from_host(void* dst, const void* src, std::size_t bytes) {
    copy(dst, src, bytes);
  }

  static MemoryStats stats() {
    MemoryStats s = counters().stats();
    s.cached_bytes = static_cast<std::int64_t>(detail::HostBlockCache::instance().cached_bytes());
    return s;
  }
  static void reset_peak() { counters().reset_peak(); }

 private:
  static detail::MemoryCounters& counters() {
    static detail::MemoryCounters c;
    return c;
  }
};

}  // namespace psalm
