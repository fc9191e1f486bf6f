// Test support: every tolerance the suite uses, in one table, so a change of precision is a
// one-line, reviewable decision. Grouped by precision: float64, float32, bf16, finite
// differences, whole models, hand-written accuracy bounds of single functions.
#pragma once

namespace psalm::testing::tol {

// ---- float64 -----------------------------------------------------------------------------
// A few double operations against a closed form: a few ulps (2^-52 = 2.2e-16).
inline constexpr double f64_ulps = 1e-15;
// Tens of double operations (exp / log / sin chains, short sums) against a closed form.
inline constexpr double f64_short = 1e-14;
// A row of double exponentials (softmax / attention probabilities, bilinear weights).
inline constexpr double f64_row = 1e-13;
// float64 results against float64 references computed in another order.
inline constexpr double f64_rtol = 1e-12, f64_atol = 1e-12;
// Gradients of bilinear sampling positions in double: differences of products of neighbours.
inline constexpr double f64_grid_grad_rtol = 1e-11;
// A whole module in double (MSDA op, pixel decoder) against PyTorch's float64: thousands of
// operations in another order.
inline constexpr double f64_module = 1e-10;
// The MSDA module in double (projections around the sampling op, softmax over points).
inline constexpr double f64_msda_module = 1e-9;
// Sums of float32 pixels accumulated in double, against numpy's double sums.
inline constexpr double f64_sum_of_f32_rtol = 1e-9;
// Values that are exactly zero in exact arithmetic, computed through a double cosine.
inline constexpr double f64_zero = 1e-16;
// Losses that are zero up to exp underflow (BCE of saturated logits).
inline constexpr double f64_underflow = 1e-30;
// A margin that forgives only a denormal: keeps a relative check meaningful at exactly 0.
inline constexpr double denormal_margin = 1e-300;

// ---- float32 -----------------------------------------------------------------------------
// A float32 result of a few operations against a closed form in double (~8 ulps of 2^-23).
inline constexpr double f32_ulps = 1e-6;
// About one float32 ulp at 1 (2^-23 = 1.2e-7): float32 optimizer states, exact-by-design maps.
inline constexpr double f32_one_ulp = 1e-7;
// float32 results against float64 references.
inline constexpr double f32_rtol = 2e-6, f32_atol = 1e-6;
// float32 results that sum over long rows (reductions, GEMM with k ~ 100), and float32 modules
// (projector, Swin, pixel decoder, postprocess) against PyTorch.
inline constexpr double f32_sum_rtol = 1e-5, f32_sum_atol = 1e-5;
// One differentiable op, forward and backward in float32, against PyTorch in float64.
inline constexpr double f32_op_rtol = 2e-5, f32_op_atol = 2e-5;
// Ops that sum over a window or a group (conv2d, group norm), forward and backward.
inline constexpr double f32_window_rtol = 5e-5, f32_window_atol = 5e-5;
// Phi in float32 against transformers: hidden states grow through the layers.
inline constexpr double f32_phi_atol = 2e-5;
// sin / cos of an angle that upstream rounds to float32: ~1 ulp of 2 pi apart.
inline constexpr double f32_angle_atol = 2e-6;
// Bilinear resampling back to the original size: source coordinates a few ulp apart near 1000,
// times the steepest edge of the test image (~4 per pixel).
inline constexpr double f32_resampled_edge_atol = 2e-4;
// float32 gradients through whole modules (backward sums again over every output), and
// float32 quantities built from such sums (a loss over a vocabulary, a normalised variance).
inline constexpr double f32_grad_rtol = 1e-4, f32_grad_atol = 1e-4;
// A float32 weight gradient summed over a batch in another order (entries of ~100).
inline constexpr double f32_batch_sum_atol = 1e-3;
// The op cases of tests/cuda/op_cases.hpp run twice (two devices, or float against double):
// ops that reduce or take transcendental functions ...
inline constexpr double device_f32 = 1e-4;
// ... views, windows, gathers and optimizer bodies: a few operations per element ...
inline constexpr double device_f32_few_ops = 1e-5;
// ... copies and dropout masks: equal but for the rounding of the seeded upstream gradient.
inline constexpr double device_f32_exact = 1e-6;

// ---- bf16 --------------------------------------------------------------------------------
// bf16 operands (8 mantissa bits) with f32 accumulation.
inline constexpr double bf16_rtol = 2e-2, bf16_atol = 2e-2;

// ---- finite differences ------------------------------------------------------------------
// Central finite differences in double: step and acceptance.
inline constexpr double fd_step = 1e-6, fd_rtol = 1e-6, fd_atol = 1e-7;
// A scalar function's derivative against its central difference (step fd_step): O(step^2).
inline constexpr double fd_scalar_atol = 1e-8;
// Whole modules (tens of layers, kinks of ReLU / sampling) against finite differences.
inline constexpr double fd_module_rtol = 1e-5, fd_module_atol = 1e-6;

// ---- whole models ------------------------------------------------------------------------
// A whole float32 model (PSALM: Swin, projector, Phi, both decoders) against PyTorch in float32:
// relative to each tensor's largest magnitude, plus an absolute floor for tensors near zero.
inline constexpr double psalm_forward_rtol = 1e-5, psalm_forward_atol = 1e-5;
// Its gradients (through the criterion, the decoders, Phi and Swin) against PyTorch's.
inline constexpr double psalm_grad_rtol = 1e-4, psalm_grad_atol = 1e-6;
// Scores of a prompt whose shared prefix came from Phi's key/value cache against the full
// sequence's (psalm/segmenter.hpp): the same float32 math, GEMMs of fewer rows.
inline constexpr double segmenter_prefix_cache_rtol = 1e-5;
// A score the `psalm segment` program wrote against Segmenter's in this process: the same
// float32 model, run in another process (other threads, the image read back from a file).
inline constexpr double segment_program_score_rtol = 1e-4;

// ---- accuracy bounds of single float32 functions (kernels/fast_math.hpp) ------------------
// exp_f32: 2 ulp relative (one float ulp at 1 is 5.97e-8) ...
inline constexpr double exp_f32_rtol = 2.0 * 5.97e-8;
// ... and, for subnormal results, two subnormal steps (1.5e-45) plus 1e-7 relative.
inline constexpr double exp_f32_subnormal_atol = 2.0 * 1.5e-45, exp_f32_subnormal_rtol = 1e-7;
// normal_cdf_f32: a few ulp for |x| <= 2 (4e-7), 1.5e-6 at x = -4; over the whole lower tail
// the float exponent -z^2 + P(t) costs z^2 * 6e-8 relative (3e-5 at x = -12).
inline constexpr double normal_cdf_f32_rtol = 4e-7, normal_cdf_f32_rtol_at_minus_4 = 1.5e-6,
                        normal_cdf_f32_tail_rtol = 3e-5;
// sigmoid_f32: 3e-7 relative, with 1e-38 absolute where the result underflows to 0.
inline constexpr double sigmoid_f32_rtol = 3e-7, sigmoid_f32_atol = 1e-38;

}  // namespace psalm::testing::tol
