// psalm/models/swin/block.hpp — SwinBlock, one Swin Transformer block as in the paper's
// figure: x = x + DropPath(W-MSA or SW-MSA(LN1(x))), x = x + DropPath(MLP(LN2(x))), MLP =
// fc1 (C -> 4C), exact GELU, fc2. The window attention runs on the LN1 output zero-padded to a
// multiple of the window and (odd blocks) cyclically shifted; padded tokens are ordinary keys,
// as upstream. Names as Mask2Former's `blocks.{b}.{norm1, attn, norm2, mlp.fc1, mlp.fc2}`.
// Depends on: nn, models/swin/{window, window_attention}. Test: tests/swin/test_swin_parts.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/ops/activation.hpp"
#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/models/swin/window.hpp"
#include "psalm/models/swin/window_attention.hpp"
#include "psalm/nn/dropout.hpp"
#include "psalm/nn/layer_norm.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::models::swin {

using autograd::Real;
using autograd::Var;

// Letters: B batch, H x W token map, C channels, Bw = B * nW windows, N tokens per window.

/// fc1 (C -> hidden), GELU (erf), fc2 (hidden -> C). ref: Mask2Former swin.py Mlp.
template <Real T, Device Dev = cpu>
class SwinMlp : public nn::Module<T, Dev> {
 public:
  SwinMlp() = default;
  SwinMlp(std::int64_t dim, std::int64_t hidden, nn::InitRng& rng)
      : fc1(dim, hidden, rng), fc2(hidden, dim, rng) {}
  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("fc1", fc1);
    v.child("fc2", fc2);
  }
  /// x (..., C) -> (..., C).
  Var<T, Dev> operator()(const Var<T, Dev>& x) const { return fc2(autograd::gelu(fc1(x))); }
  nn::Linear<T, Dev> fc1, fc2;
};

/// What a block needs besides its weights.
struct SwinBlockOptions {
  std::int64_t dim = 0, heads = 0, window = 7;
  std::int64_t shift = 0;  ///< 0 (W-MSA) or window / 2 (SW-MSA)
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double drop_path = 0.0;            ///< stochastic depth probability of this block
  std::uint64_t drop_path_seed = 0;  ///< its own Philox key: one mask stream per block
  double eps = 1e-5;
};

template <Real T, Device Dev = cpu>
class SwinBlock : public nn::Module<T, Dev> {
 public:
  SwinBlock() = default;
  SwinBlock(const SwinBlockOptions& o, nn::InitRng& rng)
      : norm1(o.dim, o.eps),
        attn(o.dim, o.window, o.heads, o.qkv_bias, rng),
        drop_path(o.drop_path, o.drop_path_seed),
        norm2(o.dim, o.eps),
        mlp(o.dim, static_cast<std::int64_t>(static_cast<double>(o.dim) * o.mlp_ratio), rng),
        shift_(o.shift) {
    PSALM_CHECK(o.shift >= 0 && o.shift < o.window, "SwinBlock: shift ", o.shift,
                " must be in [0, window ", o.window, ")");
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("norm1", norm1);
    v.child("attn", attn);
    v.child("drop_path", drop_path);  // no tensors: listed so train() / eval() reach it
    v.child("norm2", norm2);
    v.child("mlp", mlp);
  }

  /// x (B, H, W, C) -> (B, H, W, C). `regions` (nW, N): window_regions of this block's grid
  /// (shifted blocks only; the stage computes it once for all of them).
  Var<T, Dev> operator()(const Var<T, Dev>& x, const Tensor<std::uint8_t, Dev>& regions = {}) {
    const WindowGrid grid(x.size(1), x.size(2), attn.window(), shift_);
    const Var<T, Dev> windows = window_partition(norm1(x), grid);  // (Bw, N, C)
    const Var<T, Dev> attended = attn(windows, shift_ > 0 ? regions : Tensor<std::uint8_t, Dev>());
    const Var<T, Dev> y = x + drop_path(window_reverse(attended, grid));  // (B, H, W, C)
    return y + drop_path(mlp(norm2(y)));                                  // (B, H, W, C)
  }

  std::int64_t shift() const { return shift_; }

  nn::LayerNorm<T, Dev> norm1;
  WindowAttention<T, Dev> attn;
  nn::DropPath<T, Dev> drop_path;  // one module, two draws per forward (as upstream)
  nn::LayerNorm<T, Dev> norm2;
  SwinMlp<T, Dev> mlp;

 private:
  std::int64_t shift_ = 0;
};

}  // namespace psalm::models::swin
