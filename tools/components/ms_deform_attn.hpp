// tools/components/ms_deform_attn.hpp — `psalm forward --component ms_deform_attn`: the bare
// multi-scale deformable attention op (no config, no weights) on inputs named as the arguments
// of the PyTorch reference ms_deform_attn_core_pytorch, so its output can be compared with the
// reference (or the compiled CUDA op of Deformable DETR / Mask2Former) on the same tensors.
// Test: tests/msda/test_component.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "components/component.hpp"
#include "psalm/autograd/no_grad.hpp"
#include "psalm/autograd/ops/ms_deform_attn.hpp"

namespace psalm::cli {

inline Component ms_deform_attn_component() {
  return {
      "ms_deform_attn",
      "multi-scale deformable attention op (Deformable DETR / Mask2Former), no weights",
      "value (B, S, heads, head_dim) float32, spatial_shapes (levels, 2) int64 as (H, W), "
      "level_start_index (levels) int64, sampling_locations (B, Q, heads, levels, points, 2), "
      "attention_weights (B, Q, heads, levels, points)",
      "output (B, Q, heads*head_dim)", [](const ComponentRequest& req) {
        const Tensor<std::int64_t> shapes = req.input<std::int64_t>("spatial_shapes");  // (L, 2)
        PSALM_CHECK(shapes.rank() == 2 && shapes.size(1) == 2, req.component,
                    ": spatial_shapes must be (levels, 2) as (H, W), got ", shapes.shape());
        const std::vector<std::int64_t> hw = shapes.contiguous().to_vector();
        std::vector<std::array<std::int64_t, 2>> spatial_shapes;
        for (std::size_t l = 0; l + 1 < hw.size(); l += 2)
          spatial_shapes.push_back({hw[l], hw[l + 1]});
        const Tensor<std::int64_t> start = req.input<std::int64_t>("level_start_index");  // (L)
        PSALM_CHECK(start.rank() == 1, req.component, ": level_start_index must be (levels), got ",
                    start.shape());
        const autograd::NoGrad no_grad;
        const autograd::Var<float> value(req.input<float>("value"));  // (B, S, M, D)
        const autograd::Var<float> loc(
            req.input<float>("sampling_locations"));  // (B, Q, M, L, P, 2)
        const autograd::Var<float> attn(req.input<float>("attention_weights"));  // (B, Q, M, L, P)
        ComponentOutputs out;
        out.insert("output", autograd::ms_deform_attn(value, spatial_shapes,
                                                      start.contiguous().to_vector(), loc, attn)
                                 .value()
                                 .contiguous());  // (B, Q, M*D)
        return out;
      }};
}

}  // namespace psalm::cli
