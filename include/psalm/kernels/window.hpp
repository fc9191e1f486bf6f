// psalm/kernels/window.hpp — the gathers of (shifted-)window attention on a (B, H, W, C) token
// map: the map zero-padded (bottom / right) to Hp x Wp, cyclically shifted by -shift and cut
// into w x w windows (WindowPartitionRows), and the inverse that merges the windows, shifts
// back and crops the padding (WindowReverseRows); one row of C channels per body call.
// Depends on: core. Test: tests/kernels/test_window.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/macros.hpp"

namespace psalm::kernels {

// Letters: B batch, H x W map, Hp x Wp padded map (multiples of w), w window, N = w * w tokens
// per window, nW = (Hp / w) * (Wp / w) windows per image, C channels.

/// The geometry both gathers read: rows of C channels, an H x W map padded to Hp x Wp, window w,
/// shift. Window rows are ordered (b, window_y, window_x, iy, ix); window position p in the
/// shifted padded map holds the unshifted position (p + shift) mod Hp (resp. Wp).
struct WindowLayout {
  std::int64_t c, h, w, win, shift, hp, wp;

  /// Row r of the windows (B * nW * N rows) -> the row of the (B, H, W) map it reads, or -1
  /// for a padded position.
  PSALM_HD std::int64_t source(std::int64_t r) const {
    const std::int64_t n = win * win, nwx = wp / win, nw = (hp / win) * nwx;
    const std::int64_t t = r % n, window = (r / n) % nw, b = r / (n * nw);
    const std::int64_t py = (window / nwx) * win + t / win, px = (window % nwx) * win + t % win;
    const std::int64_t y = (py + shift) % hp, x = (px + shift) % wp;
    return (y < h && x < w) ? (b * h + y) * w + x : -1;
  }

  /// Row r of the (B, H, W) map -> the window row that holds it (the inverse of source()).
  PSALM_HD std::int64_t window_row(std::int64_t r) const {
    const std::int64_t x = r % w, y = (r / w) % h, b = r / (h * w);
    const std::int64_t py = (y - shift + hp) % hp, px = (x - shift + wp) % wp;
    const std::int64_t nwx = wp / win, nw = (hp / win) * nwx;
    const std::int64_t window = (py / win) * nwx + px / win;
    return (b * nw + window) * win * win + (py % win) * win + px % win;
  }
};

/// out[0, c) = in[0, c), or zeros when `in` is null (a padded position).
template <class T>
PSALM_HD_INLINE void copy_row(T* out, const T* in, std::int64_t c) {
  for (std::int64_t j = 0; j < c; ++j) out[j] = in ? in[j] : T(0);
}

/// windows[r, :] = map[source(r), :] or 0 on padding.
/// requires: map (B, H, W, C) and windows (B * nW, N, C) contiguous.
template <class T>
struct WindowPartitionRows {
  const T* map;
  T* windows;
  WindowLayout at;
  PSALM_HD void operator()(std::int64_t r) const {
    const std::int64_t src = at.source(r);
    copy_row(windows + r * at.c, src < 0 ? nullptr : map + src * at.c, at.c);
  }
};

/// map[r, :] = windows[window_row(r), :] (the inverse gather: padded positions are dropped).
/// requires: windows (B * nW, N, C) and map (B, H, W, C) contiguous.
template <class T>
struct WindowReverseRows {
  const T* windows;
  T* map;
  WindowLayout at;
  PSALM_HD void operator()(std::int64_t r) const {
    copy_row(map + r * at.c, windows + at.window_row(r) * at.c, at.c);
  }
};

}  // namespace psalm::kernels
