// tools/components/pixel_decoder.hpp — `psalm forward --component pixel_decoder`: PSALM's
// MSDeformAttnPixelDecoder on backbone features res2..res5 (no gradient). The config uses the
// field names of docs/pixel_decoder.md (PixelDecoderConfig), plus `weight_names` ("psalm" or
// "mask2former"); the weights load strictly under --prefix (pixel_decoder. for the released
// checkpoint). Test: tests/pixel_decoder/test_component.cpp.
#pragma once

#include <string>

#include "components/component.hpp"
#include "psalm/autograd/no_grad.hpp"
#include "psalm/models/deformable/pixel_decoder.hpp"

namespace psalm::cli {

inline Component pixel_decoder_component() {
  return {"pixel_decoder",
          "Mask2Former's deformable-attention pixel decoder as PSALM configures it (spec 3.1)",
          "res2 (B, C2, H/4, W/4), res3 (B, C3, H/8, W/8), res4 (B, C4, H/16, W/16), "
          "res5 (B, C5, H/32, W/32) float32",
          "mask_features (B, mask_dim, H/4, W/4), multi_scale_0 (B, conv_dim, H/32, W/32), "
          "multi_scale_1 (B, conv_dim, H/16, W/16), multi_scale_2 (B, conv_dim, H/8, W/8)",
          [](const ComponentRequest& req) {
            using namespace models::deformable;
            const io::ConfigReader& cfg = req.require_config();
            const PixelDecoderConfig config = PixelDecoderConfig::from_config(cfg);
            const std::string names = cfg.optional<std::string>("weight_names", "psalm");
            PSALM_CHECK(names == "psalm" || names == "mask2former", cfg.source(),
                        ": weight_names must be \"psalm\" or \"mask2former\", got \"", names, "\"");
            nn::InitRng rng{0};  // every value is overwritten by the strict load below
            PixelDecoder<float> decoder(config, rng);
            load_pixel_decoder(decoder, req.require_weights(),
                               {.prefix = req.weights_prefix,
                                .names = names == "psalm" ? PixelDecoderNames::psalm
                                                          : PixelDecoderNames::mask2former});
            decoder.eval();
            const autograd::NoGrad no_grad;
            const PixelDecoderOutput<float> y = decoder({nn::Var<float>(req.input<float>("res2")),
                                                         nn::Var<float>(req.input<float>("res3")),
                                                         nn::Var<float>(req.input<float>("res4")),
                                                         nn::Var<float>(req.input<float>("res5"))});
            ComponentOutputs out;
            out.insert("mask_features", y.mask_features.value().contiguous());  // (B, Cm, H4, W4)
            for (int l = 0; l < 3; ++l)
              out.insert("multi_scale_" + std::to_string(l),
                         y.multi_scale[l].value().contiguous());  // (B, C, H_l, W_l)
            return out;
          }};
}

}  // namespace psalm::cli
