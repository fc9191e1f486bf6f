// psalm/autograd/ops/window.hpp — the window geometry of (shifted-)window attention (Swin): a
// (H, W) token map zero-padded (bottom / right) to a multiple of the window, cyclically shifted
// by -shift, cut into windows (WindowGrid); window_partition / window_reverse as differentiable
// ops that do pad + roll + partition (and the inverse with the crop) in one gather each
// (kernels/window.hpp); and the shifted-window region ids and -100 mask, computed on the padded
// size, that window_self_attention (autograd/ops/window_attention.hpp) reads.
// Depends on: autograd/tape, kernels/window. Test: tests/autograd/test_window.cpp.
#pragma once

#include <cstdint>
#include <utility>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/window.hpp"

namespace psalm::autograd {

// Letters: B batch, H x W token map, Hp x Wp padded map, w window, N = w * w tokens per window,
// nW windows per image, C channels.

/// Where the windows of one (H, W) map lie. ref: Mask2Former swin.py SwinTransformerBlock
/// (F.pad to a multiple of the window, torch.roll by -shift, window_partition).
struct WindowGrid {
  std::int64_t height = 0, width = 0;                // H, W
  std::int64_t window = 0, shift = 0;                // w, shift (0 for W-MSA, w / 2 for SW-MSA)
  std::int64_t padded_height = 0, padded_width = 0;  // Hp, Wp

  WindowGrid() = default;
  WindowGrid(std::int64_t h, std::int64_t w, std::int64_t window, std::int64_t shift)
      : height(h), width(w), window(window), shift(shift) {
    PSALM_CHECK(h > 0 && w > 0 && window > 0 && shift >= 0 && shift < window,
                "WindowGrid: needs a non-empty map and 0 <= shift < window, got ", h, "x", w,
                ", window ", window, ", shift ", shift);
    padded_height = (h + window - 1) / window * window;
    padded_width = (w + window - 1) / window * window;
  }
  std::int64_t windows_y() const { return padded_height / window; }
  std::int64_t windows_x() const { return padded_width / window; }
  std::int64_t num_windows() const { return windows_y() * windows_x(); }  // nW
  std::int64_t window_tokens() const { return window * window; }          // N
};

namespace detail {

/// out (out_shape, rows of C) = the gather `Body` of src over grid g.
template <Scalar T, Device Dev, template <class> class Body>
Tensor<T, Dev> run_window_gather(const Tensor<T, Dev>& src, const Shape& out_shape,
                                 const WindowGrid& g) {
  const Tensor<T, Dev> in = src.contiguous();
  Tensor<T, Dev> out(out_shape);  // (B*nW, N, C) or (B, H, W, C)
  const std::int64_t c = out_shape[out_shape.rank() - 1];
  if (out.numel() > 0)
    Executor<Dev>::launch(
        out.numel() / c,
        Body<T>{in.data(), out.data(),
                psalm::kernels::WindowLayout{c, g.height, g.width, g.window, g.shift,
                                             g.padded_height, g.padded_width}},
        grain_for(c));
  return out;
}

template <Real T, Device Dev>
struct WindowContext {
  GradRef<T, Dev> x;
  WindowGrid grid;
};

/// x -> the gather Forward of x into out_shape, recorded; the backward is the gather Backward
/// of the gradient back into x's shape (each window gather is the other's adjoint).
template <template <class> class Forward, template <class> class Backward, Real T, Device Dev>
Var<T, Dev> window_gather_op(const Var<T, Dev>& x, const WindowGrid& g, const Shape& out_shape) {
  Tensor<T, Dev> y = run_window_gather<T, Dev, Forward>(x.value(), out_shape, g);
  return record(
      std::move(y), should_record(x), WindowContext<T, Dev>{x.grad_ref(), g},
      [](WindowContext<T, Dev>& ctx, const Tensor<T, Dev>& d_y) {
        ctx.x.accumulate(run_window_gather<T, Dev, Backward>(d_y, ctx.x.shape(), ctx.grid));
      });
}

}  // namespace detail

/// x (B, H, W, C) -> windows (B * nW, N, C): zero-pad to (Hp, Wp), roll by -shift, partition.
template <Real T, Device Dev>
Var<T, Dev> window_partition(const Var<T, Dev>& x, const WindowGrid& g) {
  PSALM_CHECK(x.rank() == 4 && x.size(1) == g.height && x.size(2) == g.width,
              "window_partition: input must be (B, ", g.height, ", ", g.width, ", C), got ",
              x.shape());
  return detail::window_gather_op<psalm::kernels::WindowPartitionRows,
                                  psalm::kernels::WindowReverseRows>(
      x, g, Shape{x.size(0) * g.num_windows(), g.window_tokens(), x.size(3)});  // (B*nW, N, C)
}

/// windows (B * nW, N, C) -> (B, H, W, C): merge windows, roll by +shift, crop the padding.
template <Real T, Device Dev>
Var<T, Dev> window_reverse(const Var<T, Dev>& windows, const WindowGrid& g) {
  const std::int64_t nw = g.num_windows(), n = g.window_tokens();
  PSALM_CHECK(windows.rank() == 3 && windows.size(1) == n && windows.size(0) % nw == 0,
              "window_reverse: windows must be (B * ", nw, ", ", n, ", C), got ", windows.shape());
  return detail::window_gather_op<psalm::kernels::WindowReverseRows,
                                  psalm::kernels::WindowPartitionRows>(
      windows, g, Shape{windows.size(0) / nw, g.height, g.width, windows.size(2)});  // (B,H,W,C)
}

/// The shifted-window region of every window token, (nW, N) as bytes in 0..8: each axis of the
/// padded map splits into [0, P - w), [P - w, P - shift), [P - shift, P) and the id is
/// 3 * row_region + column_region (regions are per axis of the padded map, so they are
/// computed on Hp x Wp). All zero when shift is 0. ref: Mask2Former swin.py BasicLayer.
inline Tensor<std::uint8_t> window_regions(const WindowGrid& g) {
  const std::int64_t n = g.window_tokens(), nwx = g.windows_x();
  Tensor<std::uint8_t> ids(Shape{g.num_windows(), n});  // (nW, N)
  std::uint8_t* out = ids.data();
  auto region = [&](std::int64_t p, std::int64_t size) -> int {
    if (g.shift == 0) return 0;
    return (p >= size - g.window ? 1 : 0) + (p >= size - g.shift ? 1 : 0);
  };
  for (std::int64_t win = 0; win < g.num_windows(); ++win)
    for (std::int64_t t = 0; t < n; ++t) {
      const std::int64_t py = (win / nwx) * g.window + t / g.window;
      const std::int64_t px = (win % nwx) * g.window + t % g.window;
      out[win * n + t] =
          static_cast<std::uint8_t>(3 * region(py, g.padded_height) + region(px, g.padded_width));
    }
  return ids;
}

/// The additive shifted-window mask (nW, N, N): -100 between tokens of different regions, else
/// 0 (what Swin's WindowAttention adds; materialised here for tests and for users, the
/// attention kernel derives it from window_regions on the fly).
template <Scalar T = float>
Tensor<T> shifted_window_mask(const WindowGrid& g) {
  const Tensor<std::uint8_t> ids = window_regions(g);  // (nW, N)
  const std::int64_t n = g.window_tokens(), nw = g.num_windows();
  Tensor<T> mask(Shape{nw, n, n});  // (nW, N, N)
  const std::uint8_t* id = ids.data();
  T* m = mask.data();
  for (std::int64_t win = 0; win < nw; ++win)
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        m[(win * n + i) * n + j] = id[win * n + i] == id[win * n + j] ? T(0) : T(-100);
  return mask;
}

}  // namespace psalm::autograd
