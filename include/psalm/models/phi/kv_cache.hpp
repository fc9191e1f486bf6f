// psalm/models/phi/kv_cache.hpp — the key / value cache of incremental decoding: for every layer,
// keys and values of all positions seen so far in preallocated (B, H, capacity, Dh) buffers, and
// the key padding mask; plus the attention mask builder shared with the full forward (causal
// and key padding, as a boolean "blocked" mask). Inference only (values, no gradients).
// Depends on: tensor, models/phi/config. Test: tests/phi/test_generate.cpp.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "psalm/models/phi/config.hpp"
#include "psalm/tensor/assign.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::models::phi {

// Letters: B batch, H heads, Lq new positions, Lk key positions, C capacity, Dh head size.

/// Blocked mask (B, 1, Lq, Lk) for queries at positions [Lk - Lq, Lk): query p may not see key
/// j > p (causal) nor a key whose `keep` (B, Lk) entry is 0 (padding). `keep` undefined = all
/// kept. ref: transformers masks with the dtype minimum; blocking gives the same probabilities.
template <Device Dev = cpu>
Tensor<std::uint8_t, Dev> attention_blocked_mask(const Tensor<std::int64_t>& keep,
                                                 std::int64_t batch, std::int64_t queries,
                                                 std::int64_t keys) {
  PSALM_CHECK(queries <= keys, "attention mask: ", queries, " queries but only ", keys, " keys");
  PSALM_CHECK(
      !keep.defined() || (keep.rank() == 2 && keep.size(0) == batch && keep.size(1) == keys),
      "attention_mask must be (B, L) = (", batch, ", ", keys, "), got ", keep.shape());
  const std::vector<std::int64_t> k =
      keep.defined() ? keep.to_vector() : std::vector<std::int64_t>();
  std::vector<std::uint8_t> blocked(static_cast<std::size_t>(batch * queries * keys));
  const std::int64_t first = keys - queries;  // position of the first query
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t q = 0; q < queries; ++q)
      for (std::int64_t j = 0; j < keys; ++j) {
        const bool padded = !k.empty() && k[static_cast<std::size_t>(b * keys + j)] == 0;
        blocked[static_cast<std::size_t>((b * queries + q) * keys + j)] =
            (j > first + q || padded) ? 1 : 0;
      }
  return Tensor<std::uint8_t>::from_data(blocked, Shape{batch, 1, queries, keys})
      .template to<Dev>();  // (B, 1, Lq, Lk)
}

/// Keys and values of every layer for positions [0, length()), room for `capacity` positions.
template <Scalar T, Device Dev = cpu>
class PhiKvCache {
 public:
  PhiKvCache(const PhiConfig& config, std::int64_t batch, std::int64_t capacity)
      : batch_(batch), capacity_(capacity), keep_(Tensor<std::int64_t>::zeros({batch, capacity})) {
    PSALM_CHECK(batch > 0 && capacity > 0, "PhiKvCache: batch ", batch, " and capacity ", capacity,
                " must be positive");
    const Shape s{batch, config.num_attention_heads, capacity, config.head_dim()};
    for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) {
      keys_.push_back(Tensor<T, Dev>::zeros(s));    // (B, H, C, Dh)
      values_.push_back(Tensor<T, Dev>::zeros(s));  // (B, H, C, Dh)
    }
  }

  std::int64_t length() const { return length_; }
  std::int64_t capacity() const { return capacity_; }
  /// Bytes its buffers hold (keys, values and the keep mask), for memory-bounded caches.
  std::int64_t bytes() const {
    std::int64_t n = keep_.numel() * static_cast<std::int64_t>(sizeof(std::int64_t));
    for (std::size_t l = 0; l < keys_.size(); ++l)
      n += (keys_[l].numel() + values_[l].numel()) * static_cast<std::int64_t>(sizeof(T));
    return n;
  }
  std::int64_t batch() const { return batch_; }

  /// Marks `n` new positions with their padding mask `keep` (B, n) (undefined = all kept); the
  /// layers then append their keys and values at [length(), length() + n). Returns the mask
  /// blocking what the n new queries may not see, (B, 1, n, length() + n).
  Tensor<std::uint8_t, Dev> begin_step(std::int64_t n, const Tensor<std::int64_t>& keep) {
    PSALM_CHECK(length_ + n <= capacity_, "PhiKvCache: ", length_, " cached + ", n,
                " new positions exceed the capacity ", capacity_);
    PSALM_CHECK(
        !keep.defined() || (keep.rank() == 2 && keep.size(0) == batch_ && keep.size(1) == n),
        "PhiKvCache: attention_mask must be (B, L) = (", batch_, ", ", n, "), got ", keep.shape());
    Tensor<std::int64_t> slot = keep_.narrow(1, length_, n);  // (B, n)
    if (keep.defined()) {
      slot.assign(keep);
    } else {
      slot.fill(1);
    }
    pending_ = n;
    return attention_blocked_mask<Dev>(keep_.narrow(1, 0, length_ + n).contiguous(), batch_, n,
                                       length_ + n);
  }

  /// Writes layer `layer`'s new keys / values (B, H, n, Dh) and returns all cached ones,
  /// (B, H, length() + n, Dh) each (views of the buffers).
  std::pair<Tensor<T, Dev>, Tensor<T, Dev>> append(std::int64_t layer, const Tensor<T, Dev>& k,
                                                   const Tensor<T, Dev>& v) {
    PSALM_CHECK(layer >= 0 && layer < static_cast<std::int64_t>(keys_.size()), "PhiKvCache: layer ",
                layer, " out of range");
    PSALM_CHECK(k.rank() == 4 && k.size(2) == pending_, "PhiKvCache: expected ", pending_,
                " new positions, got keys of shape ", k.shape());
    Tensor<T, Dev>& keys = keys_[static_cast<std::size_t>(layer)];
    Tensor<T, Dev>& values = values_[static_cast<std::size_t>(layer)];
    keys.narrow(2, length_, pending_).assign(k);
    values.narrow(2, length_, pending_).assign(v);
    return {keys.narrow(2, 0, length_ + pending_), values.narrow(2, 0, length_ + pending_)};
  }

  /// Commits the positions of the step begun last.
  void end_step() {
    length_ += pending_;
    pending_ = 0;
  }

  /// Forgets every position from `length` on (keeps the buffers): a cached prefix is reused
  /// for another continuation (psalm/segmenter.hpp runs many prompts after one image).
  void rewind(std::int64_t length) {
    PSALM_CHECK(length >= 0 && length <= length_, "PhiKvCache: cannot rewind to ", length,
                " positions, ", length_, " are cached");
    keep_.narrow(1, length, capacity_ - length).fill(0);
    length_ = length;
    pending_ = 0;
  }

  /// Forgets every position (keeps the buffers).
  void clear() {
    length_ = pending_ = 0;
    keep_.fill(0);
  }

 private:
  std::int64_t batch_, capacity_;
  std::int64_t length_ = 0, pending_ = 0;
  std::vector<Tensor<T, Dev>> keys_, values_;
  Tensor<std::int64_t> keep_;  // (B, C), on the CPU
};

}  // namespace psalm::models::phi
