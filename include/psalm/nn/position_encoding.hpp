// psalm/nn/position_encoding.hpp — Mask2Former's PositionEmbeddingSine without a padding mask:
// a fixed (1, 2 * num_pos_feats, H, W) map of sines and cosines of the row and column index;
// SinePositionEncoding computes it once per map size and reuses it on later forwards.
// Depends on: tensor, autograd/var (the Real concept). Test:
// tests/pixel_decoder/test_position_encoding.cpp (against a PyTorch transcription and transformers'
// module).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "psalm/autograd/var.hpp"
#include "psalm/core/error.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::nn {

/// (1, 2*num_pos_feats, H, W): Mask2Former's PositionEmbeddingSine (pos_y channels first, then
/// pos_x; sin/cos interleaved as upstream) without a padding mask.
///
/// For row y (1-based) and column x (1-based), with e_y = y / (H + 1e-6) * scale and
/// e_x = x / (W + 1e-6) * scale when `normalize` (else e_y = y, e_x = x), and
/// d_k = temperature^(2 * floor(k / 2) / num_pos_feats) for k in [0, num_pos_feats):
///   channel k                 = sin(e_y / d_k) for even k, cos(e_y / d_k) for odd k,
///   channel num_pos_feats + k = the same with e_x.
/// ref: facebookresearch/Mask2Former mask2former/modeling/transformer_decoder/
/// position_encoding.py — the cumulative sum of the all-true mask is the 1-based index; eps 1e-6
/// and no 0.5 offset (Deformable-DETR's variant subtracts 0.5; Mask2Former does not).
/// Computed in double and rounded once to T.
template <autograd::Real T, Device Dev = cpu>
Tensor<T, Dev> sine_position_encoding(std::int64_t height, std::int64_t width,
                                      std::int64_t num_pos_feats = 128,
                                      double temperature = 10000.0, bool normalize = true,
                                      double scale = 2 * std::numbers::pi) {
  PSALM_CHECK(height > 0 && width > 0, "sine_position_encoding: size ", height, " x ", width,
              " must be positive");
  PSALM_CHECK(num_pos_feats > 0 && num_pos_feats % 2 == 0, "sine_position_encoding: num_pos_feats ",
              num_pos_feats, " must be positive and even (sin/cos pairs)");
  PSALM_CHECK(temperature > 0, "sine_position_encoding: temperature ", temperature,
              " must be positive");
  constexpr double eps = 1e-6;
  std::vector<double> inv_dim(static_cast<std::size_t>(num_pos_feats));  // 1 / d_k
  for (std::int64_t k = 0; k < num_pos_feats; ++k) {
    const double exponent = 2.0 * static_cast<double>(k / 2) / static_cast<double>(num_pos_feats);
    inv_dim[static_cast<std::size_t>(k)] = 1.0 / std::pow(temperature, exponent);
  }
  const auto embed = [&](std::int64_t index, std::int64_t extent) {  // index is 0-based
    const double one_based = static_cast<double>(index + 1);
    return normalize ? one_based / (static_cast<double>(extent) + eps) * scale : one_based;
  };
  const auto wave = [](bool use_sin, double a) {
    return static_cast<T>(use_sin ? std::sin(a) : std::cos(a));
  };
  const std::int64_t plane = height * width;
  std::vector<T> values(static_cast<std::size_t>(2 * num_pos_feats * plane));
  std::vector<T> column(static_cast<std::size_t>(width));
  for (std::int64_t k = 0; k < num_pos_feats; ++k) {
    const double f = inv_dim[static_cast<std::size_t>(k)];
    const bool use_sin = k % 2 == 0;
    T* pos_y = values.data() + k * plane;                    // channel k: depends on the row
    T* pos_x = values.data() + (num_pos_feats + k) * plane;  // channel F + k: on the column
    for (std::int64_t x = 0; x < width; ++x)
      column[static_cast<std::size_t>(x)] = wave(use_sin, embed(x, width) * f);
    for (std::int64_t y = 0; y < height; ++y) {
      std::fill(pos_y + y * width, pos_y + (y + 1) * width, wave(use_sin, embed(y, height) * f));
      std::copy(column.begin(), column.end(), pos_x + y * width);
    }
  }
  const Tensor<T> host = Tensor<T>::from_data(
      std::span<const T>(values), {1, 2 * num_pos_feats, height, width});  // (1, 2F, H, W)
  if constexpr (std::is_same_v<Dev, cpu>)
    return host;
  else
    return host.template to<Dev>();  // (1, 2F, H, W)
}

/// sine_position_encoding with fixed parameters, computed once per (H, W) and then reused: the
/// modules that add it on every forward (the deformable encoder, the mask decoder) hold one.
/// The cache is bounded (kMaxSizes map sizes; the oldest is dropped first), shared by the
/// threads that run one module (guarded by a mutex), and moves with its module.
template <autograd::Real T, Device Dev = cpu>
class SinePositionEncoding {
 public:
  static constexpr std::size_t kMaxSizes = 16;

  explicit SinePositionEncoding(std::int64_t num_pos_feats = 128, double temperature = 10000.0,
                                bool normalize = true, double scale = 2 * std::numbers::pi)
      : num_pos_feats_(num_pos_feats),
        temperature_(temperature),
        normalize_(normalize),
        scale_(scale) {}

  /// (1, 2F, H, W), equal to sine_position_encoding(height, width, ...). The result shares
  /// storage with the cache: treat it as read-only.
  Tensor<T, Dev> operator()(std::int64_t height, std::int64_t width) const {
    const std::lock_guard<std::mutex> lock(cache_->mutex);
    const std::pair<std::int64_t, std::int64_t> key{height, width};
    if (auto it = cache_->maps.find(key); it != cache_->maps.end()) return it->second;
    Tensor<T, Dev> pos = sine_position_encoding<T, Dev>(height, width, num_pos_feats_, temperature_,
                                                        normalize_, scale_);
    if (cache_->order.size() == kMaxSizes) {
      cache_->maps.erase(cache_->order.front());
      cache_->order.erase(cache_->order.begin());
    }
    cache_->order.push_back(key);
    cache_->maps.emplace(key, pos);
    return pos;  // (1, 2F, H, W)
  }

  std::int64_t num_pos_feats() const { return num_pos_feats_; }
  /// How many map sizes are cached now.
  std::size_t cached_sizes() const {
    const std::lock_guard<std::mutex> lock(cache_->mutex);
    return cache_->maps.size();
  }

 private:
  struct Cache {
    std::mutex mutex;
    std::map<std::pair<std::int64_t, std::int64_t>, Tensor<T, Dev>> maps;
    std::vector<std::pair<std::int64_t, std::int64_t>> order;  // oldest first
  };
  std::int64_t num_pos_feats_;
  double temperature_;
  bool normalize_;
  double scale_;
  std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
};

}  // namespace psalm::nn
