// tests/cuda/parity.cuh — shared by the .cu files of the GPU parity executable: the failure
// count, a host-vs-device comparison that prints one line per check, and the suites the other
// files define (main() in test_parity.cu runs them all).
#pragma once

#include <cmath>
#include <cstdio>
#include <vector>

namespace psalm::parity {

inline int& failures() {
  static int count = 0;
  return count;
}

/// Prints "ok" or the first element where |got - want| > tol (1 + |want|), and counts failures.
inline void expect_close(const char* what, const std::vector<float>& got,
                         const std::vector<float>& want, float tol = 1e-5f) {
  if (got.size() != want.size()) {
    std::printf("FAIL %s: size %zu vs %zu\n", what, got.size(), want.size());
    ++failures();
    return;
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
    const bool same_inf = std::isinf(want[i]) && got[i] == want[i];
    const bool within = std::fabs(got[i] - want[i]) <= tol * (1.0f + std::fabs(want[i]));
    if (!both_nan && !same_inf && !within) {
      std::printf("FAIL %s: element %zu: cuda %g vs cpu %g\n", what, i, got[i], want[i]);
      ++failures();
      return;
    }
  }
  std::printf("ok   %s\n", what);
}

/// Every differentiable op forward and backward, and the optimizer bodies, on the host and
/// on the GPU (tests/cuda/test_autograd_parity.cu).
void run_autograd_cases();

/// Multi-scale deformable attention forward and its three gradients, incl. an atomic stress
/// case (tests/cuda/test_ms_deform_attn.cu).
void run_ms_deform_attn_cases();

/// Phi, Swin, the projector, the pixel decoder and the mask decoder at small configs, forward
/// and backward (tests/cuda/test_models.cu).
void run_model_cases();

/// Post-processing (psalm/postprocess.hpp) of mask logits back to the original image size
/// (tests/cuda/test_postprocess.cu).
void run_postprocess_cases();

}  // namespace psalm::parity
