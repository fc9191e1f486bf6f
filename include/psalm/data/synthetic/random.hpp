// psalm/data/synthetic/random.hpp — the one source of randomness of the synthetic scenes: a
// sequence of draws from psalm::CounterRng, addressed by (seed, scene index, purpose), so a scene
// is a pure function of (seed, index) on every platform (no std distributions).
// Depends on: core/rng. Test: tests/data/test_synthetic_scene.cpp (determinism).
#pragma once

#include <cstdint>

#include "psalm/core/rng.hpp"

namespace psalm::data::synthetic {

/// Independent uses of randomness within one scene; each gets its own Philox stream.
enum class Purpose : std::uint64_t {
  layout,
  objects,
  pixels,
  referring,
  prompts,
  motion,
  noise_lattice,
  extra,
  task_sample,  ///< which referent / expression / prompt kinds a task example uses
  caption       ///< which question a conversation example asks
};

/// Sequential draws from one Philox stream.
class Draws {
 public:
  Draws(std::uint64_t seed, std::uint64_t index, Purpose purpose)
      : rng_{seed, index * 16 + static_cast<std::uint64_t>(purpose)} {}

  /// Uniform in [0, 1).
  double uniform() { return rng_.uniform_double(next_++); }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi] (inclusive).
  int integer(int lo, int hi) {
    const int span = hi - lo + 1;
    int v = lo + static_cast<int>(uniform() * span);
    return v > hi ? hi : v;
  }
  bool chance(double p) { return uniform() < p; }
  /// The raw generator and its position, for per-pixel noise keyed by pixel index.
  const CounterRng& rng() const { return rng_; }

 private:
  CounterRng rng_;
  std::uint64_t next_ = 0;
};

}  // namespace psalm::data::synthetic
