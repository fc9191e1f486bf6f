// psalm/core/rng.hpp — Philox 4x32-10, a counter-based random number generator
// (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011). A draw is a pure
// function of (seed, stream, element index), so the CPU and CUDA executors produce the same
// numbers for the same element whatever the thread layout.
// Depends on: std. Test: tests/core/test_rng.cpp (known-answer vectors from Random123).
#pragma once

#include <cmath>
#include <cstdint>

#include "psalm/core/macros.hpp"

namespace psalm {

struct Philox4x32 {
  std::uint32_t v[4];
};

/// Philox 4x32 with 10 rounds applied to `counter` under `key` (two 32-bit words).
PSALM_HD_INLINE Philox4x32 philox4x32_10(Philox4x32 counter, std::uint32_t key0,
                                         std::uint32_t key1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * counter.v[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * counter.v[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    counter = Philox4x32{{hi1 ^ counter.v[1] ^ key0, lo1, hi0 ^ counter.v[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

/// A stream of random numbers addressed by element index. `seed` picks the key; `stream`
/// separates independent uses under one seed (e.g. one stream per dropout layer and step).
struct CounterRng {
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;

  /// The four raw 32-bit words for element `index`.
  PSALM_HD Philox4x32 raw(std::uint64_t index) const {
    const Philox4x32 counter{
        {static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
         static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)}};
    return philox4x32_10(counter, static_cast<std::uint32_t>(seed),
                         static_cast<std::uint32_t>(seed >> 32));
  }

  /// Uniform in [0, 1) with 24 random bits (every value exactly representable in float).
  PSALM_HD float uniform(std::uint64_t index) const {
    return static_cast<float>(raw(index).v[0] >> 8) * (1.0f / 16777216.0f);
  }

  /// Uniform in [0, 1) with 53 random bits.
  PSALM_HD double uniform_double(std::uint64_t index) const {
    const Philox4x32 r = raw(index);
    const std::uint64_t bits = (static_cast<std::uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
    return static_cast<double>(bits & ((std::uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
  }

  /// Standard normal by the Box-Muller transform of two words of the same block.
  PSALM_HD double normal(std::uint64_t index) const {
    const Philox4x32 r = raw(index);
    const double u1 = (static_cast<double>(r.v[0]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
    const double u2 = static_cast<double>(r.v[1]) * (1.0 / 4294967296.0);          // [0, 1)
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  /// True with probability p.
  PSALM_HD bool bernoulli(std::uint64_t index, float p) const { return uniform(index) < p; }
};

}  // namespace psalm
