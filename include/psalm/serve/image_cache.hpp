// psalm/serve/image_cache.hpp — LruCache<V>: values under random ids, bounded by the bytes they
// hold and by their count; inserting past either bound drops the least recently used. Values
// are shared_ptrs, so one dropped while a request still uses it lives until that request ends.
// Thread-safe. `psalm serve` keeps its encoded images (psalm::EncodedImage::bytes) in one.
// Host code. Depends on: core/error.hpp. Test: tests/serve/test_image_cache.cpp.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>

#include "psalm/core/error.hpp"

namespace psalm::serve {

template <class V>
class LruCache {
 public:
  struct Stats {
    std::int64_t bytes = 0, max_bytes = 0;
    std::size_t items = 0, max_items = 0;
    std::int64_t evictions = 0;
  };

  LruCache(std::int64_t max_bytes, std::size_t max_items)
      : max_bytes_(max_bytes), max_items_(max_items), rng_(std::random_device{}()) {
    PSALM_CHECK(max_bytes > 0 && max_items > 0, "LruCache: bounds must be positive, got ",
                max_bytes, " bytes and ", max_items, " items");
  }

  /// Stores `value` (holding `bytes`) under a new id and returns the id; older values are dropped
  /// until both bounds hold. A value larger than the whole bound is refused.
  std::string insert(std::shared_ptr<V> value, std::int64_t bytes) {
    PSALM_CHECK(bytes >= 0 && bytes <= max_bytes_, "LruCache: a value of ", bytes,
                " bytes does not fit the cache's ", max_bytes_, " bytes");
    const std::lock_guard lock(mutex_);
    std::string id;
    do id = new_id();
    while (index_.count(id) != 0);
    order_.push_front({id, std::move(value), bytes});
    index_[id] = order_.begin();
    bytes_ += bytes;
    shrink(order_.begin());
    return id;
  }

  /// The value under `id` (now the most recently used), or nullptr when absent or dropped.
  std::shared_ptr<V> find(const std::string& id) {
    const std::lock_guard lock(mutex_);
    const auto it = index_.find(id);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->value;
  }

  /// Records that the value under `id` now holds `bytes` (it grew or shrank in use); others are
  /// dropped if the bound no longer holds. No-op when `id` is gone.
  void resize(const std::string& id, std::int64_t bytes) {
    const std::lock_guard lock(mutex_);
    const auto it = index_.find(id);
    if (it == index_.end()) return;
    bytes_ += bytes - it->second->bytes;
    it->second->bytes = bytes;
    shrink(it->second);
  }

  /// Drops the value under `id`; false when absent.
  bool erase(const std::string& id) {
    const std::lock_guard lock(mutex_);
    const auto it = index_.find(id);
    if (it == index_.end()) return false;
    bytes_ -= it->second->bytes;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }

  Stats stats() const {
    const std::lock_guard lock(mutex_);
    return {bytes_, max_bytes_, index_.size(), max_items_, evictions_};
  }

 private:
  struct Entry {
    std::string id;
    std::shared_ptr<V> value;
    std::int64_t bytes;
  };
  using Iter = typename std::list<Entry>::iterator;

  /// Drops least recently used entries other than `keep` until both bounds hold.
  void shrink(Iter keep) {
    while ((bytes_ > max_bytes_ || index_.size() > max_items_) && !order_.empty()) {
      Iter last = std::prev(order_.end());
      if (last == keep) {
        if (last == order_.begin()) break;  // only `keep` is left
        last = std::prev(last);
      }
      bytes_ -= last->bytes;
      index_.erase(last->id);
      order_.erase(last);
      ++evictions_;
    }
  }

  /// 128 random bits as 32 hex digits: ids are not guessable from one another.
  std::string new_id() {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    for (int half = 0; half < 2; ++half) {
      std::uint64_t v = rng_();
      for (int i = 0; i < 16; ++i, v >>= 4) id.push_back(kHex[v & 15]);
    }
    return id;
  }

  mutable std::mutex mutex_;
  std::int64_t max_bytes_;
  std::size_t max_items_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string, Iter> index_;
  std::int64_t bytes_ = 0, evictions_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace psalm::serve
