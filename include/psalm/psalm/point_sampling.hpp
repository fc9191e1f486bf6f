// psalm/psalm/point_sampling.hpp — the random points of PSALM's training objective (PSALM_SPEC
// §4.1, §4.2): uniform points in [0, 1]^2 from a seeded sampler, and PointRend importance
// sampling (oversampled uniform candidates, uncertainty -|logit|, top-k, fresh uniform points)
// as a function of points passed in, so tests can feed a reference's points.
// Depends on: autograd/ops/grid_sample, autograd/no_grad, tensor. Test:
// tests/psalm/test_criterion.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/autograd/ops/grid_sample.hpp"
#include "psalm/core/error.hpp"
#include "psalm/tensor/assign.hpp"  // the program picks the backend

namespace psalm {

// Letters: N masks (or images), C channels, H W a mask plane, P points, S oversampled candidates,
// K candidates kept by uncertainty, R fresh uniform points (K + R = P).

/// The point counts of importance sampling, computed as upstream does (Python's int() of a
/// double product: truncation).
/// ref: Mask2Former_Simplify/utils/point_features.py get_uncertain_point_coords_with_randomness.
struct ImportanceCounts {
  std::int64_t num_points = 0;       ///< P: points per mask in the loss
  std::int64_t num_oversampled = 0;  ///< S = int(P * oversample_ratio) uniform candidates
  std::int64_t num_uncertain = 0;    ///< K = int(importance_sample_ratio * P) kept by uncertainty
  std::int64_t num_fresh = 0;        ///< R = P - K uniform points added after the top-k

  static ImportanceCounts of(std::int64_t num_points, double oversample_ratio,
                             double importance_sample_ratio) {
    PSALM_CHECK(num_points > 0, "importance sampling: num_points must be positive, got ",
                num_points);
    PSALM_CHECK(std::isfinite(oversample_ratio) && oversample_ratio >= 1.0,
                "importance sampling: oversample_ratio must be >= 1, got ", oversample_ratio);
    PSALM_CHECK(importance_sample_ratio >= 0.0 && importance_sample_ratio <= 1.0,
                "importance sampling: importance_sample_ratio must lie in [0, 1], got ",
                importance_sample_ratio);
    ImportanceCounts c;
    c.num_points = num_points;
    c.num_oversampled =
        static_cast<std::int64_t>(static_cast<double>(num_points) * oversample_ratio);
    c.num_uncertain =
        static_cast<std::int64_t>(importance_sample_ratio * static_cast<double>(num_points));
    c.num_fresh = num_points - c.num_uncertain;
    return c;
  }
};

/// Draws uniform points in [0, 1)^2 from Philox: each draw reads its own stream under one seed
/// (stream = first_stream, first_stream + 1, ...), so a training run is reproducible from the
/// seed and the order of draws.
class PointSampler {
 public:
  explicit PointSampler(std::uint64_t seed = 0, std::uint64_t first_stream = 0)
      : seed_(seed), next_stream_(first_stream) {}

  /// (N, P, 2) points, (x, y) = (column, row) fractions, uniform in [0, 1).
  template <autograd::Real T, Device Dev = cpu>
  Tensor<T, Dev> uniform(std::int64_t n, std::int64_t p) {
    PSALM_CHECK(n >= 0 && p >= 0, "PointSampler: negative point count ", n, " x ", p);
    return Tensor<T, Dev>::rand({n, p, 2}, seed_, next_stream_++);  // (N, P, 2)
  }

  std::uint64_t seed() const { return seed_; }
  /// The stream the next draw reads.
  std::uint64_t next_stream() const { return next_stream_; }

 private:
  std::uint64_t seed_;
  std::uint64_t next_stream_;
};

namespace detail {

inline void check_points(const Shape& s, const char* what) {
  PSALM_CHECK(s.rank() == 3 && s[2] == 2, what, " must be (N, P, 2) (x, y) in [0, 1], got ", s);
}

}  // namespace detail

/// Mask2Former's point_sample on values, without recording a gradient: input (N, C, H, W) read
/// bilinearly (align_corners false, zeros outside) at points (N, P, 2) -> (N, C, P).
template <autograd::Real T, Device Dev>
Tensor<T, Dev> point_sample_values(const Tensor<T, Dev>& input, const Tensor<T, Dev>& points) {
  const autograd::NoGrad no_grad;
  return autograd::point_sample(autograd::Var<T, Dev>(input), autograd::Var<T, Dev>(points))
      .value();  // (N, C, P)
}

/// PointRend's importance sampling with its random draws passed in: the uncertainty -|logit|
/// of `coarse_logits` (N, 1, H, W) or (N, H, W) at the `oversampled` candidates (N, S, 2); per
/// mask the `num_uncertain` most uncertain candidates in descending order of uncertainty (ties:
/// the lower candidate index first), then the `fresh` uniform points (N, R, 2). Returns
/// (N, K + R, 2). No gradient: the points are constants of the loss, as upstream (no_grad).
/// ref: Mask2Former_Simplify/utils/point_features.py get_uncertain_point_coords_with_randomness
/// and pretrain_criterion.py calculate_uncertainty.
template <autograd::Real T, Device Dev>
Tensor<T, Dev> uncertain_points(const Tensor<T, Dev>& coarse_logits,
                                const Tensor<T, Dev>& oversampled, const Tensor<T, Dev>& fresh,
                                std::int64_t num_uncertain) {
  PSALM_CHECK(coarse_logits.rank() == 4 || coarse_logits.rank() == 3,
              "uncertain_points: coarse logits must be (N, 1, H, W) or (N, H, W), got ",
              coarse_logits.shape());
  PSALM_CHECK(coarse_logits.rank() == 3 || coarse_logits.size(1) == 1,
              "uncertain_points: class-agnostic logits need one channel, got ",
              coarse_logits.shape());
  detail::check_points(oversampled.shape(), "uncertain_points: oversampled points");
  detail::check_points(fresh.shape(), "uncertain_points: fresh points");
  const std::int64_t n = coarse_logits.size(0), s = oversampled.size(1), r = fresh.size(1);
  PSALM_CHECK(oversampled.size(0) == n && fresh.size(0) == n, "uncertain_points: ", n,
              " masks but ", oversampled.size(0), " rows of oversampled and ", fresh.size(0),
              " rows of fresh points");
  PSALM_CHECK(num_uncertain >= 0 && num_uncertain <= s, "uncertain_points: cannot keep ",
              num_uncertain, " of ", s, " candidates");
  const std::int64_t k = num_uncertain, p = k + r;
  const Tensor<T, Dev> logits =
      coarse_logits.rank() == 4 ? coarse_logits : coarse_logits.unsqueeze(1);      // (N, 1, H, W)
  const std::vector<T> at = point_sample_values(logits, oversampled).to_vector();  // (N, 1, S)
  const std::vector<T> cand = oversampled.contiguous().to_vector();                // (N, S, 2)
  const std::vector<T> add = fresh.contiguous().to_vector();                       // (N, R, 2)
  std::vector<T> out(static_cast<std::size_t>(n * p * 2));                         // (N, P, 2)
  std::vector<std::pair<T, std::int64_t>> key(static_cast<std::size_t>(s));        // (|v|, index)
  for (std::int64_t i = 0; i < n; ++i) {
    const T* row = at.data() + i * s;
    for (std::int64_t j = 0; j < s; ++j) {
      PSALM_CHECK(std::isfinite(static_cast<double>(row[j])), "uncertain_points: mask ", i,
                  " has a non-finite logit (", static_cast<double>(row[j]), ") at candidate point ",
                  j);
      key[static_cast<std::size_t>(j)] = {std::abs(row[j]), j};
    }
    // Descending uncertainty -|v| = ascending |v|; lower index first among equals (pairs
    // compare lexicographically).
    std::nth_element(key.begin(), key.begin() + k, key.end());
    std::sort(key.begin(), key.begin() + k);
    T* dst = out.data() + i * p * 2;
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int64_t c = key[static_cast<std::size_t>(j)].second;
      dst[2 * j] = cand[static_cast<std::size_t>((i * s + c) * 2)];
      dst[2 * j + 1] = cand[static_cast<std::size_t>((i * s + c) * 2 + 1)];
    }
    std::copy_n(add.data() + i * r * 2, r * 2, dst + k * 2);
  }
  return Tensor<T, Dev>::from_data(out, {n, p, 2});  // (N, K + R, 2)
}

}  // namespace psalm
