// psalm/models/deformable/ms_deform_attn.hpp — MSDeformAttn, the multi-scale deformable
// attention module of Deformable DETR as Mask2Former's pixel decoder uses it: per query, offsets
// around a reference point and softmax weights over levels x points, sampled from a projected
// multi-level value map. Depends on: nn (Linear, init), autograd/ops/{ms_deform_attn, softmax,
// shape, arithmetic}. Test: tests/msda/test_module.cpp.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/autograd/ops/ms_deform_attn.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/autograd/ops/softmax.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::models::deformable {

// Letters: B batch, Q queries, S value tokens (all levels), C d_model, M heads, D = C / M,
// L levels, P points per level.

using autograd::Real;
using autograd::Var;

/// Hyper-parameters, named as Deformable DETR's MSDeformAttn arguments.
struct MSDeformAttnConfig {
  std::int64_t d_model = 256, n_levels = 4, n_heads = 8, n_points = 4;
};

/// The (H, W) of every level of a flattened feature pyramid, in the order of the tokens.
struct LevelShapes {
  std::vector<std::array<std::int64_t, 2>> hw;  // (H, W) per level

  /// S: the number of tokens of all levels.
  std::int64_t total() const {
    std::int64_t s = 0;
    for (const auto& [h, w] : hw) s += h * w;
    return s;
  }
  /// The first token of every level (the level_start_index of the reference code).
  std::vector<std::int64_t> start_index() const {
    std::vector<std::int64_t> out;
    std::int64_t s = 0;
    for (const auto& [h, w] : hw) {
      out.push_back(s);
      s += h * w;
    }
    return out;
  }
};

/// Reference points at pixel centres ((x + 0.5) / W, (y + 0.5) / H) of every token of every
/// level, the same point repeated for each level: (B, S, L, 2) as (x, y).
/// ref: Mask2Former msdeformattn.py (MSDeformAttnTransformerEncoder.get_reference_points) with
/// valid ratios 1, as PSALM runs it.
template <Real T, Device Dev = cpu>
Tensor<T, Dev> reference_points_for(const LevelShapes& shapes, std::int64_t batch) {
  const std::int64_t s = shapes.total(), levels = static_cast<std::int64_t>(shapes.hw.size());
  PSALM_CHECK(batch >= 0, "reference_points_for: negative batch ", batch);
  std::vector<T> host(static_cast<std::size_t>(batch * s * levels * 2));
  std::int64_t token = 0;
  for (const auto& [h, w] : shapes.hw) {
    PSALM_CHECK(h > 0 && w > 0, "reference_points_for: level shape (", h, ", ", w,
                ") must be positive");
    for (std::int64_t y = 0; y < h; ++y) {
      for (std::int64_t x = 0; x < w; ++x, ++token) {
        const T rx = static_cast<T>((static_cast<double>(x) + 0.5) / static_cast<double>(w));
        const T ry = static_cast<T>((static_cast<double>(y) + 0.5) / static_cast<double>(h));
        for (std::int64_t b = 0; b < batch; ++b) {
          for (std::int64_t l = 0; l < levels; ++l) {
            const std::size_t at = static_cast<std::size_t>(((b * s + token) * levels + l) * 2);
            host[at] = rx;
            host[at + 1] = ry;
          }
        }
      }
    }
  }
  return Tensor<T, Dev>::from_data(std::span<const T>(host), Shape{batch, s, levels, 2});
}

/// Multi-scale deformable attention (Zhu et al., Deformable DETR), with Deformable DETR's
/// initialisation. No padding mask: PSALM's pixel decoder runs with valid ratios 1.
/// ref: Deformable-DETR models/ops/modules/ms_deform_attn.py; Mask2Former
/// mask2former/modeling/pixel_decoder/ops/modules/ms_deform_attn.py.
template <Real T, Device Dev = cpu>
class MSDeformAttn : public nn::Module<T, Dev> {
 public:
  MSDeformAttn() = default;
  MSDeformAttn(const MSDeformAttnConfig& config, nn::InitRng& rng)
      : sampling_offsets(config.d_model, config.n_heads * config.n_levels * config.n_points * 2,
                         rng),
        attention_weights(config.d_model, config.n_heads * config.n_levels * config.n_points, rng),
        value_proj(config.d_model, config.d_model, rng),
        output_proj(config.d_model, config.d_model, rng),
        config_(config) {
    PSALM_CHECK(config.d_model > 0 && config.n_heads > 0 && config.d_model % config.n_heads == 0,
                "MSDeformAttn: d_model (", config.d_model, ") must be divisible by n_heads (",
                config.n_heads, ")");
    PSALM_CHECK(config.n_levels >= 1 && config.n_levels <= kernels::MSDeformLevels::kMaxLevels &&
                    config.n_points >= 1,
                "MSDeformAttn: n_levels must be in [1, ", kernels::MSDeformLevels::kMaxLevels,
                "] and n_points >= 1, got ", config.n_levels, " and ", config.n_points);
    reset_parameters(rng);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("sampling_offsets", sampling_offsets);
    v.child("attention_weights", attention_weights);
    v.child("value_proj", value_proj);
    v.child("output_proj", output_proj);
  }

  /// query (B, Q, C); reference_points (B, Q, L, 2) as (x, y) in [0, 1]; value_input (B, S, C)
  /// holding the levels of `shapes` flattened one after the other -> (B, Q, C).
  Var<T, Dev> operator()(const Var<T, Dev>& query, const Tensor<T, Dev>& reference_points,
                         const Var<T, Dev>& value_input, const LevelShapes& shapes) const {
    using namespace autograd;
    const std::int64_t m = config_.n_heads, l = config_.n_levels, p = config_.n_points;
    const std::int64_t c = config_.d_model, d = c / m;
    PSALM_CHECK(query.rank() == 3 && query.size(2) == c, "MSDeformAttn: query must be (B, Q, ", c,
                "), got ", query.shape());
    const std::int64_t b = query.size(0), q = query.size(1), s = value_input.size(1);
    PSALM_CHECK(value_input.rank() == 3 && value_input.size(0) == b && value_input.size(2) == c,
                "MSDeformAttn: value_input must be (", b, ", S, ", c, "), got ",
                value_input.shape());
    PSALM_CHECK(static_cast<std::int64_t>(shapes.hw.size()) == l, "MSDeformAttn: configured for ",
                l, " levels, got ", shapes.hw.size(), " level shapes");
    PSALM_CHECK(shapes.total() == s, "MSDeformAttn: value_input has ", s,
                " tokens but the level shapes sum to ", shapes.total());
    PSALM_CHECK((reference_points.shape() == Shape{b, q, l, 2}),
                "MSDeformAttn: reference_points must be (", b, ", ", q, ", ", l, ", 2), got ",
                reference_points.shape());

    const Var<T, Dev> value = reshape(value_proj(value_input), {b, s, m, d});  // (B, S, M, D)
    const Var<T, Dev> offsets =
        reshape(sampling_offsets(query), {b, q, m, l, p, 2});  // (B, Q, M, L, P, 2)
    const Var<T, Dev> weights =
        reshape(softmax(reshape(attention_weights(query), {b, q, m, l * p})),  // (B, Q, M, L*P)
                {b, q, m, l, p});                                              // (B, Q, M, L, P)
    // loc = reference + offset / (W_l, H_l): offsets are in pixels of their level
    std::vector<T> wh;
    for (const auto& [h, w] : shapes.hw) {
      wh.push_back(static_cast<T>(w));
      wh.push_back(static_cast<T>(h));
    }
    const Var<T, Dev> normalizer(
        Tensor<T, Dev>::from_data(std::span<const T>(wh), Shape{l, 1, 2}));  // (L, 1, 2)
    const Var<T, Dev> ref(reference_points.reshape({b, q, 1, l, 1, 2}));     // (B, Q, 1, L, 1, 2)
    const Var<T, Dev> loc = ref + offsets / normalizer;                      // (B, Q, M, L, P, 2)
    const Var<T, Dev> out =
        ms_deform_attn(value, shapes.hw, shapes.start_index(), loc, weights);  // (B, Q, C)
    return output_proj(out);                                                   // (B, Q, C)
  }

  const MSDeformAttnConfig& config() const { return config_; }

  nn::Linear<T, Dev> sampling_offsets;   // C -> M*L*P*2
  nn::Linear<T, Dev> attention_weights;  // C -> M*L*P
  nn::Linear<T, Dev> value_proj;         // C -> C
  nn::Linear<T, Dev> output_proj;        // C -> C

 private:
  /// Deformable DETR's _reset_parameters: offsets start on a ring of head directions (point k
  /// at distance k + 1), uniform attention, xavier projections.
  void reset_parameters(nn::InitRng& rng) {
    const std::int64_t m = config_.n_heads, l = config_.n_levels, p = config_.n_points;
    const std::int64_t c = config_.d_model;
    std::vector<T> grid(static_cast<std::size_t>(m * l * p * 2));  // (M, L, P, 2)
    for (std::int64_t h = 0; h < m; ++h) {
      const double theta = 2.0 * std::numbers::pi * static_cast<double>(h) / static_cast<double>(m);
      const double cx = std::cos(theta), cy = std::sin(theta);
      const double norm = std::max(std::abs(cx), std::abs(cy));
      for (std::int64_t lv = 0; lv < l; ++lv) {
        for (std::int64_t k = 0; k < p; ++k) {
          const std::size_t at = static_cast<std::size_t>(((h * l + lv) * p + k) * 2);
          grid[at] = static_cast<T>(cx / norm * static_cast<double>(k + 1));
          grid[at + 1] = static_cast<T>(cy / norm * static_cast<double>(k + 1));
        }
      }
    }
    sampling_offsets.weight =
        Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({m * l * p * 2, c}));  // (M*L*P*2, C)
    sampling_offsets.bias = Var<T, Dev>::parameter(
        Tensor<T, Dev>::from_data(std::span<const T>(grid), Shape{m * l * p * 2}));  // (M*L*P*2)
    attention_weights.weight =
        Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({m * l * p, c}));  // (M*L*P, C)
    attention_weights.bias = Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({m * l * p}));  // (M*L*P)
    value_proj.weight =
        Var<T, Dev>::parameter(nn::init::xavier_uniform<T, Dev>({c, c}, c, c, rng));  // (C, C)
    value_proj.bias = Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({c}));             // (C)
    output_proj.weight =
        Var<T, Dev>::parameter(nn::init::xavier_uniform<T, Dev>({c, c}, c, c, rng));  // (C, C)
    output_proj.bias = Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({c}));            // (C)
  }

  MSDeformAttnConfig config_;
};

}  // namespace psalm::models::deformable
