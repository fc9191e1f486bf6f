// psalm/dist/buckets.hpp — gradients averaged over ranks in buckets, and tensors broadcast the
// same way: the tensors are packed in order into one flat buffer of at most `bucket_elements`
// floats (a tensor larger than that spans several buckets), each bucket is all-reduced as soon
// as it is full, divided by the world size and unpacked into fresh tensors. Fewer, larger
// messages than one per tensor, and a fixed buffer instead of a copy of the whole model.
// Depends on: dist/communicator, tensor. Test: tests/dist/test_dist.cpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/dist/communicator.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::dist {

template <Device Dev>
class Buckets {
 public:
  /// 4 Mi floats (16 MiB) by default: large enough that a bucket's latency is amortised, small
  /// enough to stay cheap beside the model.
  explicit Buckets(Communicator& comm, std::int64_t bucket_elements = std::int64_t{1} << 22)
      : comm_(comm), capacity_(bucket_elements) {
    PSALM_CHECK(capacity_ >= 1, "dist::Buckets: bucket size must be positive, got ", capacity_);
  }

  /// Replaces every defined tensor by a new one holding its mean over the ranks (the same
  /// tensors, in the same order and shapes, on every rank). Undefined tensors are skipped.
  void average(std::vector<Tensor<float, Dev>>& tensors) {
    if (comm_.size() == 1) return;
    const float inverse = 1.0f / static_cast<float>(comm_.size());
    run(tensors, [&](Tensor<float, Dev>& flat) {
      comm_.all_reduce_sum(flat.data(), static_cast<std::size_t>(flat.numel()));
      flat.assign(flat * inverse);  // (n)
    });
  }

  /// Replaces every defined tensor by a new one holding root's values.
  void broadcast(std::vector<Tensor<float, Dev>>& tensors, int root = 0) {
    if (comm_.size() == 1) return;
    run(tensors, [&](Tensor<float, Dev>& flat) {
      comm_.broadcast(flat.data(), static_cast<std::size_t>(flat.numel()), root);
    });
  }

  /// Seconds spent in the collectives (waiting included) since construction.
  double communication_seconds() const { return seconds_; }
  std::int64_t buckets_sent() const { return sent_; }

 private:
  /// A run of one tensor's elements placed in the buffer.
  struct Piece {
    std::size_t tensor;
    std::int64_t from, at, length;  // offset in the tensor, offset in the buffer, elements
  };

  template <class Collective>
  void run(std::vector<Tensor<float, Dev>>& tensors, Collective&& collective) {
    std::int64_t total = 0;
    for (const auto& t : tensors)
      if (t.defined()) total += t.numel();
    if (total == 0) return;
    const std::int64_t size = std::min(total, capacity_);
    if (!buffer_.defined() || buffer_.numel() < size)
      buffer_ = Tensor<float, Dev>(Shape{size});  // (n)
    std::vector<Tensor<float, Dev>> source(tensors.size()), out(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      if (!tensors[i].defined()) continue;
      source[i] = tensors[i].contiguous();
      out[i] = Tensor<float, Dev>(tensors[i].shape());
    }
    std::vector<Piece> pieces;
    std::int64_t used = 0;
    auto flush = [&] {
      Tensor<float, Dev> flat = buffer_.narrow(0, 0, used);  // (used)
      const auto start = std::chrono::steady_clock::now();
      collective(flat);
      seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ++sent_;
      for (const Piece& p : pieces)
        Memory<Dev>::copy(out[p.tensor].data() + p.from, buffer_.data() + p.at,
                          static_cast<std::size_t>(p.length) * sizeof(float));
      pieces.clear();
      used = 0;
    };
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      if (!tensors[i].defined()) continue;
      const std::int64_t n = source[i].numel();
      for (std::int64_t from = 0; from < n;) {
        const std::int64_t length = std::min(n - from, size - used);
        Memory<Dev>::copy(buffer_.data() + used, source[i].data() + from,
                          static_cast<std::size_t>(length) * sizeof(float));
        pieces.push_back({i, from, used, length});
        used += length;
        from += length;
        if (used == size) flush();
      }
    }
    if (used > 0) flush();
    for (std::size_t i = 0; i < tensors.size(); ++i)
      if (tensors[i].defined()) tensors[i] = std::move(out[i]);
  }

  Communicator& comm_;
  std::int64_t capacity_;
  Tensor<float, Dev> buffer_;
  double seconds_ = 0.0;
  std::int64_t sent_ = 0;
};

}  // namespace psalm::dist
