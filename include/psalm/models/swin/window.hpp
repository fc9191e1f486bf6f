// psalm/models/swin/window.hpp — the window geometry of Swin attention: a (H, W) token map
// zero-padded (bottom / right) to a multiple of the window, cyclically shifted by -shift, cut
// into windows; the shifted-window region ids and the -100 mask computed on the padded size;
// the relative position index; and window_partition / window_reverse as differentiable ops
// that do pad + roll + partition (and their inverse) in one gather each.
// Depends on: autograd/tape, tensor. Test: tests/swin/test_swin_parts.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "psalm/autograd/tape.hpp"
#include "psalm/core/macros.hpp"

namespace psalm::models::swin {

using autograd::Real;
using autograd::Var;

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

namespace kernels {

/// Row r of the windows (B * nW * N rows of C) <-> row of the (B, H, W) map it reads, or -1
/// for a padded position. Window rows are ordered (b, window_y, window_x, iy, ix); window
/// position p in the shifted padded map reads the unshifted position (p + shift) mod Hp.
PSALM_HD_INLINE std::int64_t window_row_source(std::int64_t r, std::int64_t h, std::int64_t w,
                                               std::int64_t win, std::int64_t shift,
                                               std::int64_t hp, std::int64_t wp) {
  const std::int64_t n = win * win, nwx = wp / win, nw = (hp / win) * nwx;
  const std::int64_t t = r % n, window = (r / n) % nw, b = r / (n * nw);
  const std::int64_t py = (window / nwx) * win + t / win, px = (window % nwx) * win + t % win;
  const std::int64_t y = (py + shift) % hp, x = (px + shift) % wp;
  return (y < h && x < w) ? (b * h + y) * w + x : -1;
}

/// windows[r, :] = map[source(r), :] or 0 on padding. requires: both contiguous rows of C.
template <class T>
struct WindowPartitionRows {
  const T* map;
  T* windows;
  std::int64_t c, h, w, win, shift, hp, wp;
  PSALM_HD void operator()(std::int64_t r) const {
    const std::int64_t src = window_row_source(r, h, w, win, shift, hp, wp);
    T* out = windows + r * c;
    if (src < 0) {
      for (std::int64_t j = 0; j < c; ++j) out[j] = T(0);
    } else {
      const T* in = map + src * c;
      for (std::int64_t j = 0; j < c; ++j) out[j] = in[j];
    }
  }
};

/// map[r, :] = windows[row holding map position r, :] (the inverse gather: padded positions
/// are dropped). requires: both contiguous rows of C.
template <class T>
struct WindowReverseRows {
  const T* windows;
  T* map;
  std::int64_t c, h, w, win, shift, hp, wp;
  PSALM_HD void operator()(std::int64_t r) const {
    const std::int64_t x = r % w, y = (r / w) % h, b = r / (h * w);
    const std::int64_t py = (y - shift + hp) % hp, px = (x - shift + wp) % wp;
    const std::int64_t nwx = wp / win, nw = (hp / win) * nwx;
    const std::int64_t window = (py / win) * nwx + px / win;
    const std::int64_t row = (b * nw + window) * win * win + (py % win) * win + px % win;
    const T* in = windows + row * c;
    T* out = map + r * c;
    for (std::int64_t j = 0; j < c; ++j) out[j] = in[j];
  }
};

}  // namespace kernels

namespace detail {

template <Scalar T, Device Dev, template <class> class Body>
Tensor<T, Dev> run_window_gather(const Tensor<T, Dev>& src, const Shape& out_shape,
                                 const WindowGrid& g, std::int64_t rows, std::int64_t c) {
  const Tensor<T, Dev> in = src.contiguous();
  Tensor<T, Dev> out(out_shape);
  if (rows > 0 && c > 0)
    Executor<Dev>::launch(rows,
                          Body<T>{in.data(), out.data(), c, g.height, g.width, g.window, g.shift,
                                  g.padded_height, g.padded_width},
                          std::max<std::int64_t>(1, (1 << 14) / c));
  return out;
}

template <Real T, Device Dev>
struct WindowContext {
  autograd::GradRef<T, Dev> x;
  WindowGrid grid;
  std::int64_t batch;
};

}  // namespace detail

/// x (B, H, W, C) -> windows (B * nW, N, C): zero-pad to (Hp, Wp), roll by -shift, partition.
template <Real T, Device Dev>
autograd::Var<T, Dev> window_partition(const autograd::Var<T, Dev>& x, const WindowGrid& g) {
  PSALM_CHECK(x.rank() == 4 && x.size(1) == g.height && x.size(2) == g.width,
              "window_partition: input must be (B, ", g.height, ", ", g.width, ", C), got ",
              x.shape());
  const std::int64_t b = x.size(0), c = x.size(3), n = g.window_tokens();
  const std::int64_t rows = b * g.num_windows() * n;
  Tensor<T, Dev> y = detail::run_window_gather<T, Dev, kernels::WindowPartitionRows>(
      x.value(), Shape{b * g.num_windows(), n, c}, g, rows, c);  // (B*nW, N, C)
  return autograd::record(
      std::move(y), autograd::should_record(x), detail::WindowContext<T, Dev>{x.grad_ref(), g, b},
      [](detail::WindowContext<T, Dev>& ctx, const Tensor<T, Dev>& d_y) {
        const std::int64_t ch = d_y.size(2);
        const WindowGrid& gr = ctx.grid;
        ctx.x.accumulate(detail::run_window_gather<T, Dev, kernels::WindowReverseRows>(
            d_y, Shape{ctx.batch, gr.height, gr.width, ch}, gr, ctx.batch * gr.height * gr.width,
            ch));  // (B, H, W, C)
      });
}

/// windows (B * nW, N, C) -> (B, H, W, C): merge windows, roll by +shift, crop the padding.
template <Real T, Device Dev>
autograd::Var<T, Dev> window_reverse(const autograd::Var<T, Dev>& windows, const WindowGrid& g) {
  const std::int64_t nw = g.num_windows(), n = g.window_tokens();
  PSALM_CHECK(windows.rank() == 3 && windows.size(1) == n && windows.size(0) % nw == 0,
              "window_reverse: windows must be (B * ", nw, ", ", n, ", C), got ", windows.shape());
  const std::int64_t b = windows.size(0) / nw, c = windows.size(2);
  Tensor<T, Dev> y = detail::run_window_gather<T, Dev, kernels::WindowReverseRows>(
      windows.value(), Shape{b, g.height, g.width, c}, g, b * g.height * g.width,
      c);  // (B, H, W, C)
  return autograd::record(
      std::move(y), autograd::should_record(windows),
      detail::WindowContext<T, Dev>{windows.grad_ref(), g, b},
      [](detail::WindowContext<T, Dev>& ctx, const Tensor<T, Dev>& d_y) {
        const std::int64_t ch = d_y.size(3);
        const WindowGrid& gr = ctx.grid;
        ctx.x.accumulate(detail::run_window_gather<T, Dev, kernels::WindowPartitionRows>(
            d_y, Shape{ctx.batch * gr.num_windows(), gr.window_tokens(), ch}, gr,
            ctx.batch * gr.num_windows() * gr.window_tokens(), ch));  // (B*nW, N, C)
      });
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
/// 0 (what WindowAttention adds; materialised here for tests and for users, the attention
/// kernel derives it from window_regions on the fly).
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

/// Relative position index (N, N) of a w x w window: for tokens i = (yi, xi), j = (yj, xj),
/// (yi - yj + w - 1) * (2w - 1) + (xi - xj + w - 1), a row of the (2w - 1)^2 bias table.
template <Scalar I = std::int64_t>
Tensor<I> relative_position_index(std::int64_t window) {
  const std::int64_t n = window * window, span = 2 * window - 1;
  Tensor<I> index(Shape{n, n});  // (N, N)
  I* out = index.data();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t dy = i / window - j / window + window - 1;
      const std::int64_t dx = i % window - j % window + window - 1;
      out[i * n + j] = static_cast<I>(dy * span + dx);
    }
  return index;
}

}  // namespace psalm::models::swin
