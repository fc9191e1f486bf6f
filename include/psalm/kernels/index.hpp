// psalm/kernels/index.hpp — reads and scatter-adds by integer indices: index_select along an
// axis (embedding lookup is index_select of rows) and torch.gather along an axis, each with
// the atomic scatter-add that is its gradient (several outputs may read the same input).
// Indices are validated by the caller before launch. Depends on: core, kernels/atomic.
// Test: tests/kernels/test_index.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/macros.hpp"
#include "psalm/core/shape.hpp"
#include "psalm/kernels/atomic.hpp"

namespace psalm::kernels {

/// out[o, j, i] = in[o, index[j], i] for in (outer, len, inner) and out (outer, count, inner),
/// both contiguous; one body call per output element.
template <class T, class I>
struct IndexSelect {
  const T* in;
  const I* index;  // (count)
  T* out;
  std::int64_t len, count, inner;

  PSALM_HD void operator()(std::int64_t e) const {
    const std::int64_t i = e % inner, j = (e / inner) % count, o = e / (inner * count);
    out[e] = in[(o * len + static_cast<std::int64_t>(index[j])) * inner + i];
  }
};

/// d_in[o, index[j], i] += d_out[o, j, i] (atomically: repeated indices add up); entries whose
/// index equals `skip` add nothing (embedding's padding_idx; pass -1 for none).
/// requires: d_in (outer, len, inner) and d_out (outer, count, inner) contiguous.
template <class T, class I>
struct IndexAdd {
  const T* d_out;
  const I* index;
  T* d_in;
  std::int64_t len, count, inner;
  std::int64_t skip;

  PSALM_HD void operator()(std::int64_t e) const {
    const std::int64_t i = e % inner, j = (e / inner) % count, o = e / (inner * count);
    const auto k = static_cast<std::int64_t>(index[j]);
    if (k == skip) return;
    atomic_add(d_in + (o * len + k) * inner + i, d_out[e]);
  }
};

/// torch.gather: out[c] = in[c with axis coordinate replaced by index[c]] for every coordinate
/// c of `index` (rank r, contiguous); `in` is read through its strides. One call per element.
template <class T, class I>
struct GatherAxis {
  const T* in;
  const I* index;
  T* out;
  Dims extents;     // of index and out
  Dims in_strides;  // of in
  int axis;

  PSALM_HD void operator()(std::int64_t e) const {
    std::int64_t off = 0, rem = e;
    for (int d = extents.rank - 1; d >= 0; --d) {
      const std::int64_t coord = rem % extents[d];
      rem /= extents[d];
      off += (d == axis ? static_cast<std::int64_t>(index[e]) : coord) * in_strides[d];
    }
    out[e] = in[off];
  }
};

/// The gradient of GatherAxis: d_in[c with axis replaced by index[c]] += d_out[c]
/// (atomically). requires: d_in contiguous with strides `in_strides`; d_out, index contiguous.
template <class T, class I>
struct ScatterAddAxis {
  const T* d_out;
  const I* index;
  T* d_in;
  Dims extents;
  Dims in_strides;
  int axis;

  PSALM_HD void operator()(std::int64_t e) const {
    std::int64_t off = 0, rem = e;
    for (int d = extents.rank - 1; d >= 0; --d) {
      const std::int64_t coord = rem % extents[d];
      rem /= extents[d];
      off += (d == axis ? static_cast<std::int64_t>(index[e]) : coord) * in_strides[d];
    }
    atomic_add(d_in + off, d_out[e]);
  }
};

}  // namespace psalm::kernels
