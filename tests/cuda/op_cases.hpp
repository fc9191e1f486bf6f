// tests/cuda/op_cases.hpp — one list of small cases covering every differentiable op and the
// optimizer bodies, written once against Var<T, Dev>: each case runs forward and backward (with
// a seeded upstream gradient) and returns the output and every input gradient as host numbers.
// tests/cuda/test_autograd_parity.cu runs the list on the host and on a GPU and compares;
// tests/autograd/test_op_cases.cpp runs it in float and in double on the CPU backend.
// Includes only the backend-free headers: the including program provides Executor / Gemm.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "psalm/autograd/ops.hpp"
#include "psalm/core/rng.hpp"
#include "psalm/kernels/optimizer.hpp"
#include "support/tolerances.hpp"

namespace psalm::op_cases {

namespace tol = testing::tol;

using autograd::Var;

/// The numbers one case produced: output first, then input gradients (empty when none).
struct CaseResult {
  std::string name;
  double tol;  // relative-or-absolute tolerance between two runs of the case
  std::vector<std::vector<double>> tensors;
};

/// Deterministic normal values (seeded Philox), scaled and shifted.
inline std::vector<double> normal_values(std::int64_t n, std::uint64_t seed, double scale = 1.0,
                                         double shift = 0.0) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[i] = CounterRng{seed, 0}.normal(static_cast<std::uint64_t>(i)) * scale + shift;
  return v;
}

template <class T, class Dev>
Tensor<T, Dev> tensor_of(const std::vector<double>& values, const Shape& shape) {
  std::vector<T> v(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) v[i] = static_cast<T>(values[i]);
  return Tensor<T, Dev>::from_data(std::span<const T>(v), shape);
}

template <class T, class Dev>
Tensor<T, Dev> randn(const Shape& shape, std::uint64_t seed, double scale = 1.0,
                     double shift = 0.0) {
  return tensor_of<T, Dev>(normal_values(shape.numel(), seed, scale, shift), shape);
}

template <class T, class Dev>
Var<T, Dev> param(const Shape& shape, std::uint64_t seed, double scale = 1.0, double shift = 0.0) {
  return Var<T, Dev>::parameter(randn<T, Dev>(shape, seed, scale, shift));
}

template <class I, class Dev>
Tensor<I, Dev> ints(const std::vector<I>& values, const Shape& shape) {
  return Tensor<I, Dev>::from_data(std::span<const I>(values), shape);
}

template <class T, class Dev>
std::vector<double> host(const Tensor<T, Dev>& t) {
  if (!t.defined()) return {};
  const std::vector<T> v = t.contiguous().to_vector();
  return std::vector<double>(v.begin(), v.end());
}

/// Runs y = f(inputs), then backward with a seeded upstream gradient of y's shape.
template <class T, class Dev, class F>
CaseResult run_case(const char* name, double tol, std::vector<Var<T, Dev>> inputs, const F& f) {
  const Var<T, Dev> y = f(inputs);
  CaseResult r{name, tol, {host(y.value())}};
  autograd::backward(y, randn<T, Dev>(y.shape(), 999));
  for (const auto& v : inputs) r.tensors.push_back(host(v.grad()));
  return r;
}

/// Every case, on device Dev in precision T.
template <class T, class Dev>
std::vector<CaseResult> collect() {
  using namespace psalm::autograd;
  using V = Var<T, Dev>;
  using Vs = std::vector<V>;
  std::vector<CaseResult> out;

  // ---- elementwise, broadcasting, reductions, views --------------------------------------
  out.push_back(run_case<T, Dev>("activations (gelu, gelu_tanh, sigmoid, tanh, softplus, relu)",
                                 tol::device_f32, Vs{param<T, Dev>({4, 33}, 1, 3.0)}, [](Vs& v) {
                                   return gelu(v[0]) + gelu_tanh(v[0]) * sigmoid(v[0]) +
                                          tanh(v[0]) - softplus(v[0]) + relu(v[0]);  // (4, 33)
                                 }));
  out.push_back(run_case<T, Dev>("broadcast arithmetic and axis reductions", tol::device_f32,
                                 Vs{param<T, Dev>({3, 1, 5}, 2), param<T, Dev>({4, 5}, 3)},
                                 [](Vs& v) {
                                   const V y = v[0] * v[1] - v[0] / (exp(v[1]) + 1.0);  // (3, 4, 5)
                                   return sum(y, 1) * max(y, 1) + mean(y, 1);           // (3, 5)
                                 }));
  out.push_back(
      run_case<T, Dev>("views, concat, stack, pad, masked_fill, where", tol::device_f32_few_ops,
                       Vs{param<T, Dev>({2, 3, 4}, 4)}, [](Vs& v) {
                         const V p = permute(v[0], {2, 0, 1});               // (4, 2, 3)
                         const V s = slice(p, 0, 1, 4, 2);                   // (2, 2, 3)
                         const V c = concat(std::vector<V>{s, s * 2.0}, 1);  // (2, 4, 3)
                         const V st = stack(std::vector<V>{c, c * 1.5}, 0);  // (2, 2, 4, 3)
                         const V pd = pad(st, {1, 2}, 0.5);                  // (2, 2, 4, 6)
                         std::vector<std::uint8_t> m(24);
                         for (int i = 0; i < 24; ++i) m[i] = static_cast<std::uint8_t>(i % 5 == 0);
                         const auto mask = ints<std::uint8_t, Dev>(m, {4, 6});
                         return where(mask, pd * 3.0, masked_fill(pd, mask, -1.0));  // (2, 2, 4, 6)
                       }));
  out.push_back(run_case<T, Dev>("matmul (batched) and linear", tol::device_f32,
                                 Vs{param<T, Dev>({2, 3, 5, 7}, 5), param<T, Dev>({2, 3, 7, 4}, 6),
                                    param<T, Dev>({4, 7}, 7), param<T, Dev>({4}, 8)},
                                 [](Vs& v) {
                                   return matmul(v[0], v[1]) +
                                          linear(v[0], v[2], v[3]);  // (2, 3, 5, 4)
                                 }));

  // ---- normalisations ----------------------------------------------------------------------
  out.push_back(run_case<T, Dev>(
      "layer_norm with weight and bias", tol::device_f32,
      Vs{param<T, Dev>({6, 37}, 9, 2.0, 1.0), param<T, Dev>({37}, 10), param<T, Dev>({37}, 11)},
      [](Vs& v) { return layer_norm(v[0], v[1], v[2]); }));
  out.push_back(run_case<T, Dev>("layer_norm of a transposed view, no affine", tol::device_f32,
                                 Vs{param<T, Dev>({70, 3}, 12)},
                                 [](Vs& v) { return layer_norm(transpose(v[0], 0, 1)); }));
  out.push_back(run_case<T, Dev>(
      "group_norm", tol::device_f32,
      Vs{param<T, Dev>({2, 6, 5, 4}, 13), param<T, Dev>({6}, 14), param<T, Dev>({6}, 15)},
      [](Vs& v) { return group_norm(v[0], 3, v[1], v[2]); }));
  {
    auto rm = randn<T, Dev>({4}, 16, 0.1), rv = randn<T, Dev>({4}, 17, 0.1, 1.0);
    CaseResult r = run_case<T, Dev>(
        "batch_norm2d train (and its running statistics)", tol::device_f32,
        Vs{param<T, Dev>({3, 4, 5, 2}, 18), param<T, Dev>({4}, 19), param<T, Dev>({4}, 20)},
        [&](Vs& v) { return batch_norm2d(v[0], v[1], v[2], rm, rv, {.training = true}); });
    r.tensors.push_back(host(rm));
    r.tensors.push_back(host(rv));
    out.push_back(std::move(r));
    out.push_back(run_case<T, Dev>(
        "batch_norm2d eval", tol::device_f32,
        Vs{param<T, Dev>({3, 4, 5, 2}, 21), param<T, Dev>({4}, 22), param<T, Dev>({4}, 23)},
        [&](Vs& v) { return batch_norm2d(v[0], v[1], v[2], rm, rv, {.training = false}); }));
  }

  // ---- softmax and attention ---------------------------------------------------------------
  {
    std::vector<double> m = normal_values(3 * 9, 24, 0.5);
    for (int i = 0; i < 9; ++i) m[9 + i] = -INFINITY;  // a fully masked row
    m[2] = -INFINITY;
    const auto trailing = tensor_of<T, Dev>(m, {3, 9});
    out.push_back(run_case<T, Dev>("softmax with a trailing additive mask", tol::device_f32,
                                   Vs{param<T, Dev>({2, 3, 9}, 25, 3.0)},
                                   [&](Vs& v) { return softmax(v[0], trailing); }));
    const auto broadcast = randn<T, Dev>({2, 1, 9}, 26);
    out.push_back(run_case<T, Dev>("log_softmax with a broadcast mask", tol::device_f32,
                                   Vs{param<T, Dev>({2, 3, 9}, 27, 3.0)},
                                   [&](Vs& v) { return log_softmax(v[0], broadcast); }));
  }
  {
    AttentionMask<T, Dev> mask;
    mask.additive = randn<T, Dev>({7, 9}, 28, 0.5);
    std::vector<std::uint8_t> blocked(2 * 9, 0);
    blocked[3] = blocked[9 + 0] = blocked[9 + 8] = 1;
    mask.blocked = ints<std::uint8_t, Dev>(blocked, {2, 1, 1, 9});
    out.push_back(run_case<T, Dev>(
        "attention with additive and boolean masks", tol::device_f32,
        Vs{param<T, Dev>({2, 3, 7, 8}, 29), param<T, Dev>({2, 3, 9, 8}, 30),
           param<T, Dev>({2, 3, 9, 5}, 31)},
        [&](Vs& v) {
          return scaled_dot_product_attention(v[0], v[1], v[2], mask);  // (2, 3, 7, 5)
        }));
  }

  // ---- Swin windows, rotary position embedding, dense copies, checkpointing ---------------
  {
    const WindowGrid g(5, 4, 3, 1);  // padded to 6 x 6, shifted: 4 windows of 9 tokens
    out.push_back(run_case<T, Dev>(
        "window_partition and window_reverse, shifted and padded", tol::device_f32_few_ops,
        Vs{param<T, Dev>({2, 5, 4, 3}, 53)}, [&](Vs& v) {
          const V w = window_partition(v[0], g);    // (8, 9, 3)
          const V back = window_reverse(w * w, g);  // (2, 5, 4, 3)
          return concat(std::vector<V>{reshape(w, {216}), reshape(back, {120})}, 0);  // (336)
        }));
    const Tensor<std::uint8_t, Dev> regions = window_regions(g).template to<Dev>();  // (4, 9)
    for (bool shifted : {false, true})
      out.push_back(run_case<T, Dev>(
          shifted ? "window_self_attention with the shifted-window mask" : "window_self_attention",
          tol::device_f32, Vs{param<T, Dev>({8, 9, 12}, 54), param<T, Dev>({2, 9, 9}, 55)},
          [&](Vs& v) {
            return window_self_attention(v[0], v[1],
                                         shifted ? regions : Tensor<std::uint8_t, Dev>(),
                                         2);  // (8, 9, 4)
          }));
  }
  {
    const auto tables = RotaryTables<T, Dev>::make(6, 10000.0, 3, 5);  // positions 3..7, (5, 3)
    out.push_back(run_case<T, Dev>("apply_rotary, 6 of 8 features per head", tol::device_f32,
                                   Vs{param<T, Dev>({2, 5, 3, 8}, 56)},
                                   [&](Vs& v) { return apply_rotary(v[0], tables); }));
  }
  out.push_back(run_case<T, Dev>("contiguous copy of a permuted view", tol::device_f32_exact,
                                 Vs{param<T, Dev>({3, 4, 5}, 57)}, [](Vs& v) {
                                   return contiguous(permute(v[0], {2, 0, 1})) * 2.0;  // (5, 3, 4)
                                 }));
  out.push_back(
      run_case<T, Dev>("checkpoint of a block (recomputed in backward)", tol::device_f32,
                       Vs{param<T, Dev>({4, 6}, 58), param<T, Dev>({6, 5}, 59)}, [](Vs& v) {
                         const V w = v[1];
                         return checkpoint([w](const V& x) { return tanh(matmul(x, w)) * 2.0; },
                                           v[0], std::vector<V>{w});  // (4, 5)
                       }));

  // ---- convolution, resampling -------------------------------------------------------------
  out.push_back(run_case<T, Dev>(
      "conv2d 3x3, stride 2, padding 1, dilation 2, groups 2", tol::device_f32,
      Vs{param<T, Dev>({2, 4, 9, 8}, 32), param<T, Dev>({6, 2, 3, 3}, 33), param<T, Dev>({6}, 34)},
      [](Vs& v) {
        return conv2d(v[0], v[1], v[2],
                      {.stride = {2, 2},
                       .padding = {1, 1},
                       .dilation = {2, 1},
                       .groups = 2});  // (2, 6, 3, 4)
      }));
  out.push_back(run_case<T, Dev>(
      "conv2d 1x1 and 4x4 stride 4", tol::device_f32,
      Vs{param<T, Dev>({1, 3, 8, 8}, 35), param<T, Dev>({5, 3, 1, 1}, 36),
         param<T, Dev>({5, 3, 4, 4}, 37)},
      [](Vs& v) {
        const V a = conv2d(v[0], v[1]);                                         // (1, 5, 8, 8)
        const V b = conv2d(v[0], v[2], {}, {.stride = {4, 4}});                 // (1, 5, 2, 2)
        return concat(std::vector<V>{reshape(a, {320}), reshape(b, {20})}, 0);  // (340)
      }));
  for (int mode = 0; mode < 3; ++mode) {
    static const char* names[] = {"interpolate bilinear", "interpolate bilinear, align_corners",
                                  "interpolate nearest"};
    const InterpolateOptions opt{mode == 2 ? InterpolateMode::nearest : InterpolateMode::bilinear,
                                 mode == 1};
    out.push_back(run_case<T, Dev>(names[mode], tol::device_f32,
                                   Vs{param<T, Dev>({2, 3, 5, 6}, 38)},
                                   [&](Vs& v) { return interpolate(v[0], 7, 4, opt); }));
  }
  for (bool align : {false, true})
    out.push_back(
        run_case<T, Dev>(align ? "grid_sample, align_corners" : "grid_sample", tol::device_f32,
                         Vs{param<T, Dev>({2, 3, 5, 6}, 39), param<T, Dev>({2, 4, 7, 2}, 40, 0.7)},
                         [&](Vs& v) { return grid_sample(v[0], v[1], align); }));
  out.push_back(
      run_case<T, Dev>("point_sample", tol::device_f32,
                       Vs{param<T, Dev>({2, 3, 5, 6}, 41), param<T, Dev>({2, 11, 2}, 42, 0.3, 0.5)},
                       [](Vs& v) { return point_sample(v[0], v[1]); }));

  // ---- indexing with scatter-add backward (atomics on a GPU) -------------------------------
  out.push_back(run_case<T, Dev>(
      "embedding, index_select, gather with repeated indices", tol::device_f32_few_ops,
      Vs{param<T, Dev>({6, 4}, 43), param<T, Dev>({3, 5}, 44)}, [](Vs& v) {
        const auto ids = ints<std::int64_t, Dev>({0, 3, 3, 5, 2, 3, 0, 0, 1, 2}, {2, 5});
        const auto rows = ints<std::int64_t, Dev>({4, 1, 4, 4, 0}, {5});
        const auto cols = ints<std::int64_t, Dev>({1, 1, 4, 0, 2, 2, 2, 3, 0, 0, 4, 1}, {3, 4});
        const V e = embedding(ids, v[0], 2);      // (2, 5, 4)
        const V s = index_select(v[1], 1, rows);  // (3, 5)
        const V g = gather(v[1], 1, cols);        // (3, 4)
        return concat(std::vector<V>{reshape(e, {40}), reshape(s, {15}), reshape(g, {12})},
                      0);  // (67)
      }));

  // ---- dropout masks: the same Philox stream everywhere --------------------------------------
  out.push_back(run_case<T, Dev>(
      "dropout and drop_path masks", tol::device_f32_exact,
      Vs{param<T, Dev>({4, 50}, 45), param<T, Dev>({4, 3, 5}, 46)}, [](Vs& v) {
        const V d = dropout(v[0], {.p = 0.3, .training = true, .rng = {11, 3}});    // (4, 50)
        const V p = drop_path(v[1], {.p = 0.5, .training = true, .rng = {12, 1}});  // (4, 3, 5)
        return concat(std::vector<V>{d, reshape(p, {4, 15})}, 1);                   // (4, 65)
      }));

  // ---- losses ------------------------------------------------------------------------------
  {
    CrossEntropyOptions<T, Dev> opt;
    opt.weight = randn<T, Dev>({5}, 47, 0.2, 1.0);
    opt.ignore_index = -100;
    const auto target = ints<std::int64_t, Dev>({0, 4, -100, 2, 2, 1}, {6});
    out.push_back(run_case<T, Dev>("cross_entropy with class weights and ignore_index",
                                   tol::device_f32, Vs{param<T, Dev>({6, 5}, 48, 2.0)},
                                   [&](Vs& v) { return cross_entropy(v[0], target, opt); }));
  }
  {
    std::vector<double> t(28);
    for (int i = 0; i < 28; ++i) t[i] = (i * 7) % 3 == 0 ? 1.0 : 0.0;
    const auto target = tensor_of<T, Dev>(t, {4, 7});
    BceOptions<T, Dev> bce;
    bce.pos_weight = randn<T, Dev>({7}, 49, 0.3, 1.5);
    out.push_back(run_case<T, Dev>(
        "bce with logits and pos_weight, focal, dice", tol::device_f32,
        Vs{param<T, Dev>({4, 7}, 50, 2.0)}, [&](Vs& v) {
          const V a = binary_cross_entropy_with_logits(v[0], target, bce);               // ()
          const V f = sigmoid_focal_loss(v[0], target, {.reduction = Reduction::mean});  // ()
          const V d = dice_loss(v[0], target, {.reduction = Reduction::mean, .num_masks = 3.0});
          return a + f * 2.0 + d * 3.0;  // ()
        }));
  }

  // ---- optimizer bodies: three fused steps -----------------------------------------------------
  {
    Tensor<T, Dev> p = randn<T, Dev>({37}, 51), m = Tensor<T, Dev>::zeros({37}),
                   s = Tensor<T, Dev>::zeros({37}), q = randn<T, Dev>({37}, 52),
                   buf = Tensor<T, Dev>::zeros({37});
    for (int step = 1; step <= 3; ++step) {
      const Tensor<T, Dev> g = randn<T, Dev>({37}, 60 + step);
      const double lr = 1e-2, b1 = 0.9, b2 = 0.999;
      Executor<Dev>::launch(
          37, kernels::AdamWUpdate<T>{p.data(), g.data(), m.data(), s.data(), 1 - lr * 0.05, b1, b2,
                                      lr / (1 - std::pow(b1, step)),
                                      std::sqrt(1 - std::pow(b2, step)), 1e-8});
      Executor<Dev>::launch(37, kernels::SgdUpdate<T>{q.data(), g.data(), buf.data(), 0.1, 1e-3,
                                                      0.9, 0.0, step == 1, true});
    }
    out.push_back(CaseResult{"AdamW and SGD (Nesterov) update bodies, three steps",
                             tol::device_f32_few_ops,
                             {host(p), host(m), host(s), host(q), host(buf)}});
  }
  return out;
}

/// "" when every tensor of a matches b within a's tolerance times tol_scale:
/// |x - y| <= tol (1 + |y|); otherwise the first mismatch, described.
inline std::string compare(const CaseResult& a, const CaseResult& b, double tol_scale = 1.0) {
  if (a.tensors.size() != b.tensors.size()) return "different numbers of tensors";
  for (std::size_t t = 0; t < a.tensors.size(); ++t) {
    if (a.tensors[t].size() != b.tensors[t].size())
      return "tensor " + std::to_string(t) + ": sizes " + std::to_string(a.tensors[t].size()) +
             " and " + std::to_string(b.tensors[t].size());
    for (std::size_t i = 0; i < a.tensors[t].size(); ++i) {
      const double x = a.tensors[t][i], y = b.tensors[t][i];
      const bool same_special = (std::isnan(x) && std::isnan(y)) || (std::isinf(x) && x == y);
      if (!same_special && !(std::fabs(x - y) <= a.tol * tol_scale * (1.0 + std::fabs(y)))) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "tensor %zu element %zu: %.9g vs %.9g", t, i, x, y);
        return buf;
      }
    }
  }
  return "";
}

}  // namespace psalm::op_cases
