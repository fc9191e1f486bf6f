// psalm/kernels/dropout.hpp — the masking body of dropout and drop_path (stochastic depth):
// out[i] = in[i] / keep where the draw for i's group is kept, else 0. The draw is
// CounterRng(seed, stream).uniform(i / group), a pure function of the element index, so the
// CPU and CUDA executors (and the backward pass, which re-applies the body to the gradient)
// see the same mask. Depends on: core (rng). Test: tests/kernels/test_dropout.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/core/macros.hpp"
#include "psalm/core/rng.hpp"

namespace psalm::kernels {

/// out[i] = keep(i / group) ? in[i] * scale : 0, where keep(k) = rng.uniform(k) >= p
/// (probability 1 - p). group = 1 is dropout; group = elements per sample is drop_path.
/// requires: in, out contiguous (may alias); scale = 1 / (1 - p) for p < 1.
template <class T>
struct DropoutMask {
  const T* in;
  T* out;
  CounterRng rng;
  float p;
  T scale;
  std::int64_t group;

  PSALM_HD bool kept(std::int64_t i) const {
    return rng.uniform(static_cast<std::uint64_t>(i / group)) >= p;
  }
  PSALM_HD void operator()(std::int64_t i) const { out[i] = kept(i) ? in[i] * scale : T(0); }
};

}  // namespace psalm::kernels
