// psalm/psalm/region_pooling.hpp — the region vector of a visual prompt (PSALM_SPEC §2.4): P
// prompt pixels as points in [0, 1] (seeded sampler with upstream's rule, or strided), and the
// differentiable mean of the sample's G x G image tokens read there bilinearly -> (K, D).
// Depends on: autograd/ops/matmul, kernels/bilinear, core/rng, tensor.
// Test: tests/psalm/test_region_pooling.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "psalm/autograd/ops/matmul.hpp"
#include "psalm/core/error.hpp"
#include "psalm/core/rng.hpp"
#include "psalm/kernels/bilinear.hpp"
#include "psalm/tensor/host.hpp"  // host_contiguous(): the masks are host data

namespace psalm {

// Letters: K regions, H W prompt-mask plane (T, T), P points per region, G grid side of the
// image tokens (G*G tokens), D token width.

/// How the P points of a region are chosen.
enum class RegionSampling : std::uint8_t {
  random,  ///< upstream's rule (training and the official evaluation), seeded
  strided  ///< deterministic: the sorted pixels at evenly spaced ranks (inference option)
};

namespace detail {

/// Row-major indices of the nonzero pixels of plane k of `masks` (K, H, W) contiguous.
inline std::vector<std::int64_t> prompt_pixels(const Tensor<std::uint8_t>& masks, std::int64_t k) {
  const std::int64_t plane = masks.size(1) * masks.size(2);
  const std::uint8_t* m = masks.data() + k * plane;
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < plane; ++i)
    if (m[i]) out.push_back(i);
  PSALM_CHECK(!out.empty(), "region points: prompt mask ", k,
              " is empty (a region needs at least one pixel)");
  return out;
}

/// A uniform integer in [0, n) from draw `index` of `rng`.
inline std::int64_t uniform_below(const CounterRng& rng, std::uint64_t index, std::int64_t n) {
  const auto r = static_cast<std::int64_t>(rng.uniform_double(index) * static_cast<double>(n));
  return r < n ? r : n - 1;
}

}  // namespace detail

/// The chosen pixel indices (row-major in H x W) of every region: (K) vectors of P entries.
/// random (ref: context_cluster.py rand_sample_repeat): more than P pixels -> P distinct ones in
/// random order (randperm(n)[:P]); exactly P -> all, in row-major order; fewer -> all in
/// row-major order followed by P - n drawn uniformly with replacement. Region k uses the draws
/// (k << 32) + j of `rng`, so a region's points do not depend on the other regions.
/// strided: rank floor(i * n / P) of the row-major pixel list for i = 0 .. P-1 (every pixel
/// once or about P / n times when n < P; evenly spread ranks when n > P).
inline std::vector<std::vector<std::int64_t>> choose_region_pixels(
    const Tensor<std::uint8_t>& masks, std::int64_t num_points, RegionSampling mode,
    const CounterRng& rng = {}) {
  PSALM_CHECK(masks.rank() == 3 && masks.size(0) >= 1 && masks.size(1) >= 1 && masks.size(2) >= 1,
              "region points: masks must be (K, H, W) with K >= 1, got ", masks.shape());
  PSALM_CHECK(num_points >= 1, "region points: num_points must be positive, got ", num_points);
  const Tensor<std::uint8_t> m = host_contiguous(masks);  // (K, H, W)
  std::vector<std::vector<std::int64_t>> out;
  for (std::int64_t k = 0; k < m.size(0); ++k) {
    std::vector<std::int64_t> px = detail::prompt_pixels(m, k);
    const auto n = static_cast<std::int64_t>(px.size());
    std::vector<std::int64_t> chosen;
    chosen.reserve(static_cast<std::size_t>(num_points));
    const std::uint64_t base = static_cast<std::uint64_t>(k) << 32;
    if (mode == RegionSampling::strided) {
      for (std::int64_t i = 0; i < num_points; ++i)
        chosen.push_back(px[static_cast<std::size_t>(i * n / num_points)]);
    } else if (n > num_points) {  // partial Fisher-Yates: a uniform random P-subset, random order
      for (std::int64_t j = 0; j < num_points; ++j) {
        const std::int64_t r = j + detail::uniform_below(rng, base + j, n - j);
        std::swap(px[static_cast<std::size_t>(j)], px[static_cast<std::size_t>(r)]);
        chosen.push_back(px[static_cast<std::size_t>(j)]);
      }
    } else {
      chosen = px;
      for (std::int64_t j = 0; j < num_points - n; ++j)
        chosen.push_back(px[static_cast<std::size_t>(detail::uniform_below(rng, base + j, n))]);
    }
    out.push_back(std::move(chosen));
  }
  return out;
}

/// The sampling points of every region: masks (K, H, W) -> (K, P, 2) holding (x, y) =
/// (col / W, row / H) in float, as upstream computes them (nonzero() / (H, W), flipped).
inline Tensor<float> region_points(const Tensor<std::uint8_t>& masks, std::int64_t num_points,
                                   RegionSampling mode, const CounterRng& rng = {}) {
  const auto chosen = choose_region_pixels(masks, num_points, mode, rng);
  const std::int64_t h = masks.size(1), w = masks.size(2);
  const auto kc = static_cast<std::int64_t>(chosen.size());
  Tensor<float> out(Shape{kc, num_points, 2});  // (K, P, 2)
  float* o = out.data();
  for (std::int64_t k = 0; k < kc; ++k)
    for (std::int64_t i = 0; i < num_points; ++i) {
      const std::int64_t p = chosen[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
      o[(k * num_points + i) * 2 + 0] = static_cast<float>(p % w) / static_cast<float>(w);
      o[(k * num_points + i) * 2 + 1] = static_cast<float>(p / w) / static_cast<float>(h);
    }
  return out;
}

/// Upstream's random points (training; the official evaluation samples the same way).
inline Tensor<float> sample_region_points(const Tensor<std::uint8_t>& masks,
                                          std::int64_t num_points, const CounterRng& rng) {
  return region_points(masks, num_points, RegionSampling::random, rng);
}

/// Deterministic points (inference without randomness).
inline Tensor<float> strided_region_points(const Tensor<std::uint8_t>& masks,
                                           std::int64_t num_points) {
  return region_points(masks, num_points, RegionSampling::strided);
}

/// Region pooling as a linear map: weights (K, G*G) with region_pool = weights @ tokens. Row k
/// holds, for every token of the G x G grid (token g*G + h at row g, column h), the bilinear
/// weights grid_sample(align_corners = true) gives it at the P points (x, y) in [0, 1] of
/// region k (grid coordinate 2 p - 1, column x * (G - 1)), summed and divided by P. The
/// coordinates are computed in T as grid_sample does; the sums in double.
/// ref: context_cluster.py region_pooling.extract_region_feature: point_sample(2 p - 1,
/// align_corners=True) on the tokens viewed as (D, G, G), then AdaptiveAvgPool1d over P.
template <autograd::Real T>
Tensor<T> region_pool_weights(const Tensor<T>& points, std::int64_t grid) {
  PSALM_CHECK(
      points.rank() == 3 && points.size(2) == 2 && points.size(0) >= 1 && points.size(1) >= 1,
      "region_pool: points must be (K, P, 2) with K, P >= 1, got ", points.shape());
  PSALM_CHECK(grid >= 1, "region_pool: grid side must be positive, got ", grid);
  const Tensor<T> pts = points.contiguous();  // (K, P, 2)
  const std::int64_t k_count = pts.size(0), p_count = pts.size(1), n = grid * grid;
  std::vector<double> acc(static_cast<std::size_t>(k_count * n), 0.0);
  for (std::int64_t k = 0; k < k_count; ++k)
    for (std::int64_t i = 0; i < p_count; ++i) {
      const T* xy = pts.data() + (k * p_count + i) * 2;
      const T x = kernels::unnormalize_coordinate(xy[0] * T(2) - T(1), grid, true);
      const T y = kernels::unnormalize_coordinate(xy[1] * T(2) - T(1), grid, true);
      const T fx = std::floor(x), fy = std::floor(y);
      const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy);
      const T tx = x - fx, ty = y - fy;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          const std::int64_t yy = y0 + dy, xx = x0 + dx;
          if (yy < 0 || yy >= grid || xx < 0 || xx >= grid) continue;  // zero padding
          const T w = (dy ? ty : T(1) - ty) * (dx ? tx : T(1) - tx);
          acc[static_cast<std::size_t>(k * n + yy * grid + xx)] += static_cast<double>(w);
        }
    }
  Tensor<T> out(Shape{k_count, n});  // (K, G*G)
  for (std::size_t j = 0; j < acc.size(); ++j)
    out.data()[j] = static_cast<T>(acc[j] / static_cast<double>(p_count));
  return out;
}

/// The region vectors of one sample: its image tokens (G*G, D) viewed as a G x G x D grid,
/// read at `points` (K, P, 2) = (x, y) in [0, 1] by bilinear sampling with align_corners = true
/// and averaged over the P points -> (K, D); equal to upstream's grid_sample + mean, computed
/// as region_pool_weights(points) @ tokens (one GEMM instead of K * P * D bilinear reads).
/// Differentiable in the image tokens; the points are constants (read on the host).
template <autograd::Real T, Device Dev>
autograd::Var<T, Dev> region_pool(const autograd::Var<T, Dev>& image_tokens,
                                  const Tensor<T, Dev>& points) {
  PSALM_CHECK(image_tokens.rank() == 2, "region_pool: image tokens must be (G*G, D), got ",
              image_tokens.shape());
  const std::int64_t n = image_tokens.size(0);
  const auto g = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  PSALM_CHECK(n >= 1 && g * g == n, "region_pool: ", n, " image tokens do not form a square grid");
  const Tensor<T> host = points.template to<cpu>();                                // (K, P, 2)
  const Tensor<T, Dev> weights = region_pool_weights(host, g).template to<Dev>();  // (K, G*G)
  return autograd::matmul(autograd::Var<T, Dev>(weights), image_tokens);           // (K, D)
}

}  // namespace psalm
