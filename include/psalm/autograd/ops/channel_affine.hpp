// psalm/autograd/ops/channel_affine.hpp — the per-channel scale and shift shared by the
// normalisation ops over (N, C, S) layouts (batch_norm2d, group_norm): out = in * w[c] + b[c],
// either of w and b optional. A forward helper only; the ops own their backward passes.
// Depends on: autograd/var, tensor/expr. Test: tests/autograd/test_batch_norm.cpp,
// tests/autograd/test_group_norm.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/var.hpp"
#include "psalm/tensor/assign.hpp"

namespace psalm::autograd::detail {

/// out (N, C, S) = in (N, C, S) * weight (C) + bias (C); weight / bias may be undefined Vars.
/// `out` may be `in` itself (same layout: an elementwise update in place).
template <Real T, Device Dev>
void assign_channel_affine(Tensor<T, Dev>& out, const Tensor<T, Dev>& in, const Var<T, Dev>& weight,
                           const Var<T, Dev>& bias, std::int64_t channels) {
  if (weight.defined() && bias.defined())
    out.assign(in * weight.value().view({channels, 1}) + bias.value().view({channels, 1}));
  else if (weight.defined())
    out.assign(in * weight.value().view({channels, 1}));
  else if (bias.defined())
    out.assign(in + bias.value().view({channels, 1}));
  else if (out.data() != in.data())
    out.assign(in);
}

}  // namespace psalm::autograd::detail
