// psalm/kernels/reduce.hpp — reduction bodies over one axis of a contiguous (outer, len, inner)
// layout: output element (o, i) folds input[o, 0..len, i]. Float sums accumulate in double so
// long rows keep full float precision on every device.
// Depends on: core. Test: tests/kernels/test_reduce.cpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"

namespace psalm::kernels {

/// The accumulator of a sum: double for floating types, int64 for integers.
template <class T>
using sum_accumulator_t = std::conditional_t<std::is_integral_v<T>, std::int64_t, double>;

enum class ReduceOp { sum, mean, max, min, argmax, argmin };

/// out[o * inner + i] = fold over k of in[(o * len + k) * inner + i].
template <class In, class Out, ReduceOp Op>
struct ReduceAxis {
  const In* in;
  Out* out;
  std::int64_t len, inner;

  PSALM_HD void operator()(std::int64_t idx) const {
    using C = compute_type_t<In>;
    const std::int64_t o = idx / inner, i = idx % inner;
    const In* p = in + o * len * inner + i;
    if constexpr (Op == ReduceOp::sum || Op == ReduceOp::mean) {
      sum_accumulator_t<C> acc = 0;
      for (std::int64_t k = 0; k < len; ++k)
        acc += static_cast<sum_accumulator_t<C>>(convert<C>(p[k * inner]));
      if constexpr (Op == ReduceOp::mean) {
        out[idx] = convert<Out>(static_cast<double>(acc) / static_cast<double>(len));
      } else {
        out[idx] = convert<Out>(acc);
      }
    } else {
      C best = convert<C>(p[0]);
      std::int64_t best_k = 0;
      for (std::int64_t k = 1; k < len; ++k) {
        const C v = convert<C>(p[k * inner]);
        if (best != best) break;  // NaN wins, as in PyTorch
        const bool better = (Op == ReduceOp::max || Op == ReduceOp::argmax) ? (v > best || v != v)
                                                                            : (v < best || v != v);
        if (better) {
          best = v;
          best_k = k;
        }
      }
      if constexpr (Op == ReduceOp::argmax || Op == ReduceOp::argmin) {
        out[idx] = static_cast<Out>(best_k);
      } else {
        out[idx] = convert<Out>(best);
      }
    }
  }
};

}  // namespace psalm::kernels
