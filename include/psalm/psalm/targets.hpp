// psalm/psalm/targets.hpp — the ground truth of one training sample as the matcher and the
// criterion read it (PSALM_SPEC §4.2): binary masks at the padded input resolution and, for
// class-conditioned tasks, their canonical class indices. Depends on: tensor.
// Test: tests/psalm/test_criterion.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/tensor/tensor.hpp"

namespace psalm {

// Letters: N target masks of one sample, T padded input side.

/// One sample's targets. N may be 0 (a no-target referring expression, an image without
/// annotations): every query is then trained towards "no object".
/// - classes task: one mask per non-crowd segment, `labels[n]` its canonical class index
///   (0 .. C-2; C-1 is "background");
/// - referring / gres: the referent masks, `labels` empty;
/// - interactive: one mask per prompted region, in region order, `labels` empty.
template <Device Dev = cpu>
struct SampleTargets {
  Tensor<float, Dev> masks;          ///< (N, T, T), 0 / 1, padding 0
  std::vector<std::int64_t> labels;  ///< (N) for class-conditioned tasks, else empty

  std::int64_t count() const { return masks.defined() ? masks.size(0) : 0; }
};

}  // namespace psalm
