// psalm/nn/feature_maps.hpp — FeatureMaps<T, Dev>: the feature maps of one image batch at
// several scales, named as Mask2Former names them ("res2" .. "res5"), the one type multi-scale
// features travel in between the backbone (Swin), the pixel decoder and the mask decoder.
// Depends on: autograd/var. Test: tests/nn/test_feature_maps.cpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "psalm/autograd/var.hpp"
#include "psalm/core/error.hpp"

namespace psalm::nn {

using autograd::Real;
using autograd::Var;

// Letters: B batch, C_k channels and H_k x W_k plane of level k.

/// Maps (B, C_k, H_k, W_k) keyed by level k: "res{k}" in Mask2Former's naming, the output of
/// backbone stage k - 2, at stride 2^k of the image for a stride-4 stem (res2 = 1/4, res3 =
/// 1/8, res4 = 1/16, res5 = 1/32). Any level may be absent; all present levels share B.
/// Holds Vars (handles): copying a FeatureMaps shares the maps and their gradients.
template <Real T, Device Dev = cpu>
class FeatureMaps {
 public:
  /// The largest level k a FeatureMaps holds (a backbone of 8 stages gives res2 .. res9).
  static constexpr int kMaxLevel = 15;

  FeatureMaps() = default;
  /// {{2, res2}, {3, res3}, ...}; each as set().
  FeatureMaps(std::initializer_list<std::pair<int, Var<T, Dev>>> levels) {
    for (const auto& [k, map] : levels) set(k, map);
  }

  /// Sets level k to `map` (B, C_k, H_k, W_k), replacing any map there.
  void set(int k, Var<T, Dev> map) {
    PSALM_CHECK(k >= 0 && k <= kMaxLevel, "FeatureMaps: level ", k, " is outside [0, ", kMaxLevel,
                "]");
    PSALM_CHECK(map.defined() && map.rank() == 4, "FeatureMaps: res", k,
                " must be a (B, C, H, W) map, got ", map.defined() ? map.shape() : Shape{});
    for (int j : levels())
      PSALM_CHECK(j == k || maps_[static_cast<std::size_t>(j)].size(0) == map.size(0),
                  "FeatureMaps: res", k, " has batch ", map.size(0), " but res", j, " has ",
                  maps_[static_cast<std::size_t>(j)].size(0));
    if (maps_.size() <= static_cast<std::size_t>(k)) maps_.resize(static_cast<std::size_t>(k) + 1);
    maps_[static_cast<std::size_t>(k)] = std::move(map);
  }

  bool has(int k) const {
    return k >= 0 && static_cast<std::size_t>(k) < maps_.size() &&
           maps_[static_cast<std::size_t>(k)].defined();
  }

  /// The map of level k (B, C_k, H_k, W_k); an error naming the present levels if absent.
  const Var<T, Dev>& res(int k) const {
    PSALM_CHECK(has(k), "FeatureMaps: res", k, " is absent (present: ", names(), ")");
    return maps_[static_cast<std::size_t>(k)];
  }

  /// The present levels, finest first (2, 3, 4, 5).
  std::vector<int> levels() const {
    std::vector<int> out;
    for (std::size_t k = 0; k < maps_.size(); ++k)
      if (maps_[k].defined()) out.push_back(static_cast<int>(k));
    return out;
  }
  /// The present levels, coarsest first (5, 4, 3, 2): the order of Mask2Former's
  /// multi-scale lists.
  std::vector<int> coarse_to_fine() const {
    std::vector<int> out = levels();
    return {out.rbegin(), out.rend()};
  }

  /// Number of present levels.
  std::size_t size() const { return levels().size(); }
  bool empty() const { return size() == 0; }
  /// B of the present maps (0 when there are none).
  std::int64_t batch() const {
    for (const Var<T, Dev>& m : maps_)
      if (m.defined()) return m.size(0);
    return 0;
  }
  /// "res2, res3, ..." of the present levels, for messages.
  std::string names() const {
    std::string out;
    for (int k : levels()) out += (out.empty() ? "res" : ", res") + std::to_string(k);
    return out.empty() ? std::string("none") : out;
  }

 private:
  std::vector<Var<T, Dev>> maps_;  // maps_[k] is res{k}, undefined when absent
};

}  // namespace psalm::nn
