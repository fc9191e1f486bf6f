// psalm/models/swin/window_attention.hpp — WindowAttention, Swin's W-MSA / SW-MSA module:
// fused qkv Linear, the learned relative position bias table [(2w-1)^2, heads] read through
// the relative position index, attention over all windows in one batched call, output proj.
// Names as Mask2Former's `attn.{qkv, proj, relative_position_bias_table,
// relative_position_index}`. Depends on: nn, autograd/ops/window_attention, models/swin/window.
// Test: tests/swin/test_swin_parts.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "psalm/autograd/ops/embedding.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/autograd/ops/window_attention.hpp"
#include "psalm/models/swin/window.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::models::swin {

using autograd::Real;
using autograd::Var;
using autograd::window_self_attention;

// Letters: Bw windows (all images), N = w * w tokens per window, H heads, C channels.

template <Real T, Device Dev = cpu>
class WindowAttention : public nn::Module<T, Dev> {
 public:
  WindowAttention() = default;
  WindowAttention(std::int64_t dim, std::int64_t window, std::int64_t heads, bool qkv_bias,
                  nn::InitRng& rng)
      : qkv(dim, 3 * dim, rng, qkv_bias), proj(dim, dim, rng), window_(window), heads_(heads) {
    PSALM_CHECK(heads > 0 && dim % heads == 0, "WindowAttention: ", heads, " heads do not divide ",
                dim, " channels");
    const std::int64_t span = 2 * window - 1;
    relative_position_bias_table = Var<T, Dev>::parameter(
        nn::init::trunc_normal<T, Dev>({span * span, heads}, 0.02, rng));  // ((2w-1)^2, H)
    relative_position_index = to_device(
        Tensor<T>(cast<T>(swin::relative_position_index<std::int64_t>(window))));  // (N, N)
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.parameter("relative_position_bias_table", relative_position_bias_table);
    // ref: Mask2Former registers it as a buffer (saved); it only depends on the window size.
    v.buffer("relative_position_index", relative_position_index, nn::BufferKind::recomputable);
    v.child("qkv", qkv);
    v.child("proj", proj);
  }

  /// The bias every window adds to its scores: table[index] as (H, N, N).
  Var<T, Dev> relative_position_bias() const {
    const std::int64_t n = window_ * window_;
    const Tensor<std::int32_t, Dev> index(
        cast<std::int32_t>(relative_position_index.reshape({n * n})));                  // (N*N)
    const Var<T, Dev> rows = autograd::embedding(index, relative_position_bias_table);  // (N*N, H)
    return autograd::permute(autograd::reshape(rows, {n, n, heads_}), {2, 0, 1});       // (H, N, N)
  }

  /// windows (Bw, N, C); regions (nW, N) of a shifted grid (window_regions) or undefined.
  Var<T, Dev> operator()(const Var<T, Dev>& windows,
                         const Tensor<std::uint8_t, Dev>& regions = {}) const {
    const Var<T, Dev> qkv_rows = qkv(windows);  // (Bw, N, 3C)
    const Var<T, Dev> heads_out =
        window_self_attention(qkv_rows, relative_position_bias(), regions, heads_);  // (Bw, N, C)
    return proj(heads_out);                                                          // (Bw, N, C)
  }

  std::int64_t window() const { return window_; }
  std::int64_t heads() const { return heads_; }

  nn::Linear<T, Dev> qkv;                    // (3C, C): rows q | k | v, heads contiguous
  nn::Linear<T, Dev> proj;                   // (C, C)
  Var<T, Dev> relative_position_bias_table;  // ((2w-1)^2, H)
  Tensor<T, Dev> relative_position_index;    // (N, N), integer values

 private:
  static Tensor<T, Dev> to_device(Tensor<T> t) {
    if constexpr (std::is_same_v<Dev, cpu>) {
      return t;
    } else {
      return t.template to<Dev>();
    }
  }

  std::int64_t window_ = 0, heads_ = 0;
};

}  // namespace psalm::models::swin
