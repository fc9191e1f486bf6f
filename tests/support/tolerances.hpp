// Test support: every tolerance the suite uses, in one table, so a change of precision is a
// one-line, reviewable decision.
#pragma once

namespace psalm::testing::tol {

// float32 results against float64 references.
inline constexpr double f32_rtol = 2e-6, f32_atol = 1e-6;
// float32 results that sum over long rows (reductions, GEMM with k ~ 100).
inline constexpr double f32_sum_rtol = 1e-5, f32_sum_atol = 1e-5;
// float64 results against float64 references computed in another order.
inline constexpr double f64_rtol = 1e-12, f64_atol = 1e-12;
// bf16 operands (8 mantissa bits) with f32 accumulation.
inline constexpr double bf16_rtol = 2e-2, bf16_atol = 2e-2;
// Central finite differences in double: step and acceptance.
inline constexpr double fd_step = 1e-6, fd_rtol = 1e-6, fd_atol = 1e-7;

// A whole float32 model (PSALM: Swin, projector, Phi, both decoders) against PyTorch in float32:
// relative to each tensor's largest magnitude, plus an absolute floor for tensors near zero.
inline constexpr double psalm_forward_rtol = 1e-5, psalm_forward_atol = 1e-5;
// Its gradients (through the criterion, the decoders, Phi and Swin) against PyTorch's.
inline constexpr double psalm_grad_rtol = 1e-4, psalm_grad_atol = 1e-6;

// Scores of a prompt whose shared prefix came from Phi's key/value cache against the full
// sequence's (psalm/segmenter.hpp): the same float32 math, GEMMs of fewer rows.
inline constexpr double segmenter_prefix_cache_rtol = 1e-5;

}  // namespace psalm::testing::tol
