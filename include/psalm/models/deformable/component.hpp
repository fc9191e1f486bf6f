// psalm/models/deformable/component.hpp — two `psalm forward` components (nn::Component):
// `ms_deform_attn`, the bare op on inputs named as the arguments of ms_deform_attn_core_pytorch,
// and `pixel_decoder`, PSALM's MSDeformAttnPixelDecoder on res2..res5 (config as
// docs/pixel_decoder.md plus `weight_names`: "psalm" or "mask2former"), without gradients.
// Depends on: models/deformable, nn/component. Test: tests/msda/test_component.cpp,
// tests/pixel_decoder/test_component.cpp.
// Host code: a component runs on the CPU backend (psalm/tensor.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/autograd/ops/ms_deform_attn.hpp"
#include "psalm/models/deformable/pixel_decoder.hpp"
#include "psalm/nn/component.hpp"
#include "psalm/nn/feature_maps.hpp"
#include "psalm/tensor.hpp"  // the CPU backend: a component runs on the CPU

namespace psalm::models::deformable {

// Letters: B batch, S value tokens, Q queries, M heads, D head_dim, L levels, P points.

/// The op alone (no config, no weights), so its output can be compared with the PyTorch
/// reference (or the compiled CUDA op of Deformable DETR / Mask2Former) on the same tensors.
inline nn::Component ms_deform_attn_component() {
  return {
      "ms_deform_attn",
      "multi-scale deformable attention op (Deformable DETR / Mask2Former), no weights",
      "value (B, S, heads, head_dim) float32, spatial_shapes (levels, 2) int64 as (H, W), "
      "level_start_index (levels) int64, sampling_locations (B, Q, heads, levels, points, 2), "
      "attention_weights (B, Q, heads, levels, points)",
      "output (B, Q, heads*head_dim)", [](const nn::ComponentRequest& req) {
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
        nn::ComponentOutputs out;
        out.insert("output", autograd::ms_deform_attn(value, spatial_shapes,
                                                      start.contiguous().to_vector(), loc, attn)
                                 .value()
                                 .contiguous());  // (B, Q, M*D)
        return out;
      }};
}

/// The pixel decoder, weights strict under --prefix (pixel_decoder. for the released checkpoint;
/// `weight_names` "mask2former" reads Mask2Former's FPN names through
/// Mask2FormerPixelDecoderNames).
inline nn::Component pixel_decoder_component() {
  return {"pixel_decoder",
          "Mask2Former's deformable-attention pixel decoder as PSALM configures it (spec 3.1)",
          "res2 (B, C2, H/4, W/4), res3 (B, C3, H/8, W/8), res4 (B, C4, H/16, W/16), "
          "res5 (B, C5, H/32, W/32) float32",
          "mask_features (B, mask_dim, H/4, W/4), multi_scale_0 (B, conv_dim, H/32, W/32), "
          "multi_scale_1 (B, conv_dim, H/16, W/16), multi_scale_2 (B, conv_dim, H/8, W/8)",
          [](const nn::ComponentRequest& req) {
            const io::ConfigReader& cfg = req.require_config();
            const PixelDecoderConfig config = PixelDecoderConfig::from_json(cfg);
            const std::string names = cfg.optional<std::string>("weight_names", "psalm");
            PSALM_CHECK(names == "psalm" || names == "mask2former", cfg.source(),
                        ": weight_names must be \"psalm\" or \"mask2former\", got \"", names, "\"");
            nn::InitRng rng{0};  // every value is overwritten by the strict load below
            PixelDecoder<float> decoder(config, rng);
            if (names == "psalm") {
              req.load_for_eval(decoder);
            } else {
              nn::load_state_dict(
                  decoder, Mask2FormerPixelDecoderNames(req.require_weights(), req.weights_prefix),
                  {.prefix = req.weights_prefix});
              decoder.eval();
            }
            const autograd::NoGrad no_grad;
            nn::FeatureMaps<float> features;
            for (int k = 2; k <= 5; ++k)
              features.set(k, nn::Var<float>(req.input<float>("res" + std::to_string(k))));
            const PixelDecoderOutput<float> y = decoder(features);
            nn::ComponentOutputs out;
            out.insert("mask_features", y.mask_features.value().contiguous());  // (B, Cm, H4, W4)
            for (int l = 0; l < 3; ++l)  // upstream's order: 1/32, 1/16, 1/8
              out.insert("multi_scale_" + std::to_string(l),
                         y.multi_scale.res(5 - l).value().contiguous());  // (B, C, H_l, W_l)
            return out;
          }};
}

}  // namespace psalm::models::deformable
