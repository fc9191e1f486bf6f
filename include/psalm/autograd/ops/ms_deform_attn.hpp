// psalm/autograd/ops/ms_deform_attn.hpp — differentiable multi-scale deformable attention, the
// op of Deformable DETR / Mask2Former (ms_deform_attn_core_pytorch), device-generic through
// Executor<Dev>::launch: the same bodies (kernels/ms_deform_attn.hpp) run on the CPU and CUDA,
// with nothing to compile separately. Backward accumulates into value, sampling locations and
// attention weights. Depends on: autograd/tape, kernels/ms_deform_attn.
// Test: tests/msda/test_op.cpp, tests/cuda/test_ms_deform_attn.cu.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/ms_deform_attn.hpp"

namespace psalm::autograd {

// Letters: B batch, S value tokens (all levels), Q queries, M heads, D head_dim,
// L levels, P points per level.

/// How the CPU backward avoids races on d_value: `automatic` partitions by (batch, head)
/// (plain adds) when there are at least as many pairs as threads, else uses atomic adds.
enum class MSDeformBackwardMode { automatic, atomic, by_head };

struct MSDeformAttnOptions {
  MSDeformBackwardMode backward = MSDeformBackwardMode::automatic;
};

/// Checks spatial shapes (H, W) per level against the level start index and the token count S,
/// and packs them into the table the kernel bodies carry.
inline kernels::MSDeformLevels ms_deform_levels(
    const std::vector<std::array<std::int64_t, 2>>& spatial_shapes,
    const std::vector<std::int64_t>& level_start_index, std::int64_t tokens) {
  const auto n = static_cast<std::int64_t>(spatial_shapes.size());
  PSALM_CHECK(n >= 1 && n <= kernels::MSDeformLevels::kMaxLevels,
              "ms_deform_attn: number of levels must be in [1, ",
              kernels::MSDeformLevels::kMaxLevels, "], got ", n);
  PSALM_CHECK(static_cast<std::int64_t>(level_start_index.size()) == n,
              "ms_deform_attn: level_start_index has ", level_start_index.size(), " entries for ",
              n, " levels");
  kernels::MSDeformLevels lv;
  lv.count = static_cast<int>(n);
  std::int64_t start = 0;
  for (std::int64_t l = 0; l < n; ++l) {
    const auto [h, w] = spatial_shapes[static_cast<std::size_t>(l)];
    PSALM_CHECK(h > 0 && w > 0, "ms_deform_attn: level ", l, " has spatial shape (", h, ", ", w,
                "); both must be positive");
    PSALM_CHECK(level_start_index[static_cast<std::size_t>(l)] == start,
                "ms_deform_attn: level_start_index[", l, "] is ",
                level_start_index[static_cast<std::size_t>(l)], ", expected ", start,
                " (sum of H*W of the levels before)");
    lv.height[l] = h;
    lv.width[l] = w;
    lv.start[l] = start;
    start += h * w;
  }
  PSALM_CHECK(start == tokens, "ms_deform_attn: value has ", tokens,
              " tokens but the spatial shapes sum to ", start);
  return lv;
}

/// Context of ms_deform_attn: the three inputs (contiguous) and the level table.
template <Real T, Device Dev>
struct MSDeformAttnContext {
  GradRef<T, Dev> value, loc, attn;
  Tensor<T, Dev> value_v;  // (B, S, M, D)
  Tensor<T, Dev> loc_v;    // (B, Q, M, L, P, 2)
  Tensor<T, Dev> attn_v;   // (B, Q, M, L, P)
  kernels::MSDeformLevels levels;
  MSDeformBackwardMode mode;
};

/// value (B, S, M, D); spatial_shapes (H, W) per level; level_start_index per level;
/// sampling_locations (B, Q, M, L, P, 2) as (x, y) in [0, 1] (outside reads zeros);
/// attention_weights (B, Q, M, L, P) -> (B, Q, M*D).
/// ref: Deformable-DETR models/ops/functions/ms_deform_attn_func.py (ms_deform_attn_core_pytorch):
/// grid_sample(value_l, 2 * loc - 1, bilinear, zeros, align_corners=False) weighted and summed.
template <Real T, Device Dev>
Var<T, Dev> ms_deform_attn(const Var<T, Dev>& value,
                           const std::vector<std::array<std::int64_t, 2>>& spatial_shapes,
                           const std::vector<std::int64_t>& level_start_index,
                           const Var<T, Dev>& sampling_locations,
                           const Var<T, Dev>& attention_weights, MSDeformAttnOptions opt = {}) {
  PSALM_CHECK(value.rank() == 4, "ms_deform_attn: value must be (B, S, heads, head_dim), got ",
              value.shape());
  const std::int64_t b = value.size(0), s = value.size(1), m = value.size(2), d = value.size(3);
  const kernels::MSDeformLevels lv = ms_deform_levels(spatial_shapes, level_start_index, s);
  const Var<T, Dev>& loc = sampling_locations;
  const Var<T, Dev>& attn = attention_weights;
  PSALM_CHECK(loc.rank() == 6 && loc.size(0) == b && loc.size(2) == m && loc.size(3) == lv.count &&
                  loc.size(5) == 2,
              "ms_deform_attn: sampling_locations must be (", b, ", Q, ", m, ", ", lv.count,
              ", P, 2), got ", loc.shape());
  const std::int64_t q = loc.size(1), p = loc.size(4);
  PSALM_CHECK((attn.shape() == Shape{b, q, m, lv.count, p}),
              "ms_deform_attn: attention_weights must be (", b, ", ", q, ", ", m, ", ", lv.count,
              ", ", p, "), got ", attn.shape());
  const Tensor<T, Dev> v = value.value().contiguous();  // (B, S, M, D)
  const Tensor<T, Dev> l = loc.value().contiguous();    // (B, Q, M, L, P, 2)
  const Tensor<T, Dev> a = attn.value().contiguous();   // (B, Q, M, L, P)
  Tensor<T, Dev> y(Shape{b, q, m * d});                 // (B, Q, M*D)
  const std::int64_t chunk = std::is_same_v<Dev, cpu> ? std::max<std::int64_t>(d, 1) : 1;
  const std::int64_t calls = b * q * m * ((d + chunk - 1) / chunk);
  if (y.numel() > 0)
    Executor<Dev>::launch(calls,
                          kernels::MSDeformAttnForward<T>{v.data(), l.data(), a.data(), y.data(),
                                                          lv, s, q, m, d, p, chunk},
                          grain_for(d * lv.count * p, 1 << 12));
  MSDeformAttnContext<T, Dev> ctx{value.grad_ref(), loc.grad_ref(), attn.grad_ref(), v, l, a, lv,
                                  opt.backward};
  return record(std::move(y), should_record(value, loc, attn), std::move(ctx),
                [](MSDeformAttnContext<T, Dev>& k, const Tensor<T, Dev>& d_y) {
                  const Tensor<T, Dev> g = d_y.contiguous();  // (B, Q, M*D)
                  const Shape& vs = k.value_v.shape();
                  const std::int64_t b = vs[0], s = vs[1], m = vs[2], d = vs[3];
                  const std::int64_t q = k.loc_v.size(1), p = k.loc_v.size(4);
                  Tensor<T, Dev> d_value, d_loc, d_attn;
                  if (k.value.needed()) d_value = Tensor<T, Dev>::zeros(vs);  // (B, S, M, D)
                  if (k.loc.needed())
                    d_loc = Tensor<T, Dev>(k.loc_v.shape());  // (B, Q, M, L, P, 2)
                  if (k.attn.needed())
                    d_attn = Tensor<T, Dev>(k.attn_v.shape());  // (B, Q, M, L, P)
                  T* dv = d_value.defined() ? d_value.data() : nullptr;
                  T* dl = d_loc.defined() ? d_loc.data() : nullptr;
                  T* da = d_attn.defined() ? d_attn.data() : nullptr;
                  bool by_head = false;
                  if constexpr (std::is_same_v<Dev, cpu>) {
                    by_head = k.mode == MSDeformBackwardMode::by_head ||
                              (k.mode == MSDeformBackwardMode::automatic &&
                               b * m >= Executor<Dev>::max_threads());
                  }
                  if (b * q * m > 0 && d > 0) {
                    if (by_head) {
                      Executor<Dev>::launch(b * m,
                                            kernels::MSDeformAttnBackwardByHead<T>{
                                                k.value_v.data(), k.loc_v.data(), k.attn_v.data(),
                                                g.data(), dv, dl, da, k.levels, s, q, m, d, p},
                                            1);
                    } else {
                      Executor<Dev>::launch(b * q * m,
                                            kernels::MSDeformAttnBackward<T>{
                                                k.value_v.data(), k.loc_v.data(), k.attn_v.data(),
                                                g.data(), dv, dl, da, k.levels, s, q, m, d, p},
                                            grain_for(d * k.levels.count * p, 1 << 12));
                    }
                  } else {  // nothing sampled: the location and weight gradients are zero
                    if (d_loc.defined()) d_loc = Tensor<T, Dev>::zeros(k.loc_v.shape());
                    if (d_attn.defined()) d_attn = Tensor<T, Dev>::zeros(k.attn_v.shape());
                  }
                  if (k.value.needed()) k.value.accumulate(std::move(d_value));
                  if (k.loc.needed()) k.loc.accumulate(std::move(d_loc));
                  if (k.attn.needed()) k.attn.accumulate(std::move(d_attn));
                });
}

}  // namespace psalm::autograd
