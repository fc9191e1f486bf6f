// psalm/kernels/ms_deform_attn.hpp — the bodies of multi-scale deformable attention (Deformable
// DETR / Mask2Former): forward "output element (b, q, h, channel chunk)" and backward "gradient
// contributions of query (b, q, h)", bilinear sampling with zero padding in the
// grid_sample(align_corners=False) convention (pixel = loc * W - 0.5). Run by the CPU executor
// and the CUDA grid-stride launcher alike. Depends on: std, core, kernels/atomic.
// Test: tests/msda/test_kernel.cpp (host), tests/cuda/test_ms_deform_attn.cu (CPU vs CUDA).
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/kernels/atomic.hpp"

// A vectorised sum over channels on the host (OpenMP simd reduction: floating-point sums are
// not reordered otherwise); nothing on CUDA, where one thread runs one chain anyway.
#if defined(_OPENMP) && !defined(__CUDACC__)
#define PSALM_MSDA_SIMD_SUM(var) _Pragma(PSALM_STRINGIFY(omp simd reduction(+ : var)))
#else
#define PSALM_MSDA_SIMD_SUM(var)
#endif

namespace psalm::kernels {

// Letters: B batch, S value tokens (all levels), Q queries, M heads, D head_dim,
// L levels, P points per level.

/// The level table carried by value inside the bodies (no device memory needed).
struct MSDeformLevels {
  static constexpr int kMaxLevels = 16;
  int count = 0;
  std::int64_t height[kMaxLevels] = {};
  std::int64_t width[kMaxLevels] = {};
  std::int64_t start[kMaxLevels] = {};  // first token of each level in S
};

/// One bilinear sample position: the four corner token offsets (-1 = outside, reads zero) and
/// their weights, plus the derivatives of the weights along x and y (per pixel).
template <class C>
struct MSDeformCorners {
  std::int64_t token[4];  // token index in S, or -1
  C weight[4];            // bilinear weight of each corner
  C d_weight_dx[4];       // d weight / d x (pixel units)
  C d_weight_dy[4];       // d weight / d y (pixel units)
};

/// Corners of the sample at normalised location (lx, ly) on level l, in grid_sample's
/// align_corners=False convention. Returns false when no corner lies inside the level (then
/// the sample and all its gradients are zero).
/// ref: Deformable-DETR models/ops/src/cuda/ms_deform_im2col_cuda.cuh (ms_deform_attn_im2col_
/// bilinear) skips h_im <= -1 as well; we follow grid_sample, which reads a zero corner there,
/// so that the pure-PyTorch reference and its gradients are matched exactly on borders.
template <class C>
PSALM_HD_INLINE bool ms_deform_corners(const MSDeformLevels& lv, int l, C lx, C ly,
                                       MSDeformCorners<C>& out) {
  const std::int64_t h = lv.height[l], w = lv.width[l];
  const C x = lx * static_cast<C>(w) - C(0.5);
  const C y = ly * static_cast<C>(h) - C(0.5);
  if (!(x >= C(-1) && y >= C(-1) && x < static_cast<C>(w) && y < static_cast<C>(h)))
    return false;  // also rejects NaN
  const C fx = std::floor(x), fy = std::floor(y);
  const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy);
  const C tx = x - fx, ty = y - fy;
  for (int k = 0; k < 4; ++k) {
    const int dy = k >> 1, dx = k & 1;
    const std::int64_t yy = y0 + dy, xx = x0 + dx;
    const C wy = dy ? ty : C(1) - ty, wx = dx ? tx : C(1) - tx;
    const bool inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
    out.token[k] = inside ? lv.start[l] + yy * w + xx : -1;
    out.weight[k] = wy * wx;
    out.d_weight_dx[k] = dx ? wy : -wy;
    out.d_weight_dy[k] = dy ? wx : -wx;
  }
  return true;
}

/// Forward: out[b, q, h*D + c] = sum over (l, p) of attn[b, q, h, l, p] * bilinear(value[b, :,
/// h, c] on level l at loc[b, q, h, l, p]). One call per (b, q, h, chunk) with chunk covering
/// `chunk` channels (the CPU uses chunk = D so the channel loop vectorises; CUDA uses 1).
/// Channels accumulate in registers, kBlock at a time, then are written once.
/// requires: value (B, S, M, D), loc (B, Q, M, L, P, 2), attn (B, Q, M, L, P), out (B, Q, M*D),
/// all contiguous; out is overwritten.
template <class T>
struct MSDeformAttnForward {
  static constexpr int kBlock = 64;  // channels accumulated at once on the CPU path

  const T* value;
  const T* loc;
  const T* attn;
  T* out;
  MSDeformLevels levels;
  std::int64_t tokens, queries, heads, head_dim, points, chunk;

  PSALM_HD void operator()(std::int64_t i) const {
    const std::int64_t n_chunks = (head_dim + chunk - 1) / chunk;
    const std::int64_t c0 = (i % n_chunks) * chunk;
    const std::int64_t c1 = c0 + chunk < head_dim ? c0 + chunk : head_dim;
    const std::int64_t bqh = i / n_chunks;  // (b * Q + q) * M + h
    if (chunk == 1) {
      sample_block<1>(bqh, c0, 1);
      return;
    }
    for (std::int64_t cb = c0; cb < c1; cb += kBlock)
      sample_block<kBlock>(bqh, cb, c1 - cb < kBlock ? c1 - cb : kBlock);
  }

  /// Writes channels [cb, cb + n) of query/head bqh, n <= N.
  template <int N>
  PSALM_HD void sample_block(std::int64_t bqh, std::int64_t cb, std::int64_t n) const {
    using C = compute_type_t<T>;
    const std::int64_t h = bqh % heads, b = bqh / (heads * queries);
    const std::int64_t row = heads * head_dim;  // stride of one token in value
    const T* v_b = value + b * tokens * row + h * head_dim + cb;
    C acc[N];
    for (int c = 0; c < N; ++c) acc[c] = C(0);
    const std::int64_t lp0 = bqh * levels.count * points;  // first (l, p) of this query/head
    for (int l = 0; l < levels.count; ++l) {
      for (std::int64_t p = 0; p < points; ++p) {
        const std::int64_t lp = lp0 + l * points + p;
        MSDeformCorners<C> k;
        if (!ms_deform_corners(levels, l, convert<C>(loc[2 * lp]), convert<C>(loc[2 * lp + 1]), k))
          continue;
        const C a = convert<C>(attn[lp]);
        for (int corner = 0; corner < 4; ++corner) {
          if (k.token[corner] < 0) continue;
          const C cw = a * k.weight[corner];
          const T* v = v_b + k.token[corner] * row;
          for (std::int64_t c = 0; c < n; ++c) acc[c] += cw * convert<C>(v[c]);
        }
      }
    }
    T* o = out + bqh * head_dim + cb;
    for (std::int64_t c = 0; c < n; ++c) o[c] = convert<T>(acc[c]);
  }
};

/// The gradient contributions of one (b, q, h): d_value[b, token, h, :] += attn * corner
/// weight * d_out (atomically when `atomic`, since other queries hit the same tokens; plainly
/// when the launcher gives each (b, h) to one thread), and overwrites d_loc[b, q, h, :, :, :]
/// and d_attn[b, q, h, :, :]. Any of the gradient pointers may be nullptr when not needed.
/// requires: as MSDeformAttnForward; d_out (B, Q, M*D), d_value (B, S, M, D) zero-initialised
/// by the caller, d_loc as loc, d_attn as attn.
template <class T>
PSALM_HD void ms_deform_attn_backward_query(const T* value, const T* loc, const T* attn,
                                            const T* d_out, T* d_value, T* d_loc, T* d_attn,
                                            const MSDeformLevels& levels, std::int64_t tokens,
                                            std::int64_t queries, std::int64_t heads,
                                            std::int64_t head_dim, std::int64_t points,
                                            std::int64_t bqh, bool atomic) {
  using C = compute_type_t<T>;
  const std::int64_t h = bqh % heads, b = bqh / (heads * queries);
  const std::int64_t row = heads * head_dim;
  const std::int64_t v_off = b * tokens * row + h * head_dim;
  const T* g = d_out + bqh * head_dim;
  const std::int64_t lp0 = bqh * levels.count * points;
  for (int l = 0; l < levels.count; ++l) {
    const C w_l = static_cast<C>(levels.width[l]), h_l = static_cast<C>(levels.height[l]);
    for (std::int64_t p = 0; p < points; ++p) {
      const std::int64_t lp = lp0 + l * points + p;
      MSDeformCorners<C> k;
      const bool any =
          ms_deform_corners(levels, l, convert<C>(loc[2 * lp]), convert<C>(loc[2 * lp + 1]), k);
      const C a = convert<C>(attn[lp]);
      C d_a = 0, d_x = 0, d_y = 0;  // d_x, d_y in pixel units, before the factor a
      if (any) {
        for (int corner = 0; corner < 4; ++corner) {
          if (k.token[corner] < 0) continue;
          const std::int64_t off = v_off + k.token[corner] * row;
          if (d_attn || d_loc) {
            const T* v = value + off;
            C dot = 0;  // sum over channels of d_out * value at this corner
            PSALM_MSDA_SIMD_SUM(dot)
            for (std::int64_t c = 0; c < head_dim; ++c) dot += convert<C>(g[c]) * convert<C>(v[c]);
            d_a += k.weight[corner] * dot;
            d_x += k.d_weight_dx[corner] * dot;
            d_y += k.d_weight_dy[corner] * dot;
          }
          if (d_value) {
            const C cw = a * k.weight[corner];
            T* dv = d_value + off;
            if (atomic) {
              for (std::int64_t c = 0; c < head_dim; ++c)
                atomic_add(dv + c, convert<T>(cw * convert<C>(g[c])));
            } else {
              for (std::int64_t c = 0; c < head_dim; ++c)
                dv[c] = convert<T>(convert<C>(dv[c]) + cw * convert<C>(g[c]));
            }
          }
        }
      }
      if (d_attn) d_attn[lp] = convert<T>(d_a);
      if (d_loc) {  // chain rule through x = loc_x * W - 0.5, y = loc_y * H - 0.5
        d_loc[2 * lp] = convert<T>(a * d_x * w_l);
        d_loc[2 * lp + 1] = convert<T>(a * d_y * h_l);
      }
    }
  }
}

/// Backward, one call per (b, q, h), with atomic adds into d_value (the CUDA launch, and the
/// CPU one when there are fewer (b, h) pairs than threads).
template <class T>
struct MSDeformAttnBackward {
  const T* value;
  const T* loc;
  const T* attn;
  const T* d_out;
  T* d_value;
  T* d_loc;
  T* d_attn;
  MSDeformLevels levels;
  std::int64_t tokens, queries, heads, head_dim, points;

  PSALM_HD void operator()(std::int64_t bqh) const {
    ms_deform_attn_backward_query(value, loc, attn, d_out, d_value, d_loc, d_attn, levels, tokens,
                                  queries, heads, head_dim, points, bqh, true);
  }
};

/// Backward, one call per (b, h) looping over all queries: the d_value slice [b, :, h, :] is
/// written by this call alone, so no atomics are needed (the partitioned CPU launch).
template <class T>
struct MSDeformAttnBackwardByHead {
  const T* value;
  const T* loc;
  const T* attn;
  const T* d_out;
  T* d_value;
  T* d_loc;
  T* d_attn;
  MSDeformLevels levels;
  std::int64_t tokens, queries, heads, head_dim, points;

  PSALM_HD void operator()(std::int64_t bh) const {
    const std::int64_t b = bh / heads, h = bh % heads;
    for (std::int64_t q = 0; q < queries; ++q)
      ms_deform_attn_backward_query(value, loc, attn, d_out, d_value, d_loc, d_attn, levels, tokens,
                                    queries, heads, head_dim, points, (b * queries + q) * heads + h,
                                    false);
  }
};

}  // namespace psalm::kernels
