// psalm/models/mask2former/component.hpp — `psalm forward --component mask_decoder`
// (nn::Component): PSALM's masked-attention decoder without gradients; config keys as the
// upstream constructor arguments (docs/mask_decoder.md), weights strict under --prefix
// (predictor.), region conditions stacked with per-sample counts. Depends on:
// models/mask2former, nn/component. Test: tests/mask2former/test_component.cpp.
// Host code: a component runs on the CPU backend (psalm/tensor.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/models/mask2former.hpp"
#include "psalm/nn/component.hpp"
#include "psalm/nn/feature_maps.hpp"
#include "psalm/tensor.hpp"  // the CPU backend

namespace psalm::models::mask2former {

/// Writes one prediction set's tensors as "<prefix>pred_...": the masks, and the logits of the
/// conditions that were given.
inline void insert_prediction(nn::ComponentOutputs& out, const std::string& prefix,
                              const Prediction<float>& p) {
  out.insert(prefix + "pred_masks", p.masks.value().contiguous());  // (B, Q, Hm, Wm)
  if (p.class_logits.defined())
    out.insert(prefix + "pred_class_logits", p.class_logits.value().contiguous());  // (B, Q, C)
  if (p.seg_logits.defined())
    out.insert(prefix + "pred_seg_logits", p.seg_logits.value().contiguous());  // (B, Q, 1)
  if (!p.region_logits.empty())
    out.insert(prefix + "pred_region_logits",
               autograd::concat(p.region_logits, 0).value().contiguous());  // (K_total, Q)
}

/// Writes the decoder's prediction sets (deep supervision) as component outputs: the last one
/// as "pred_...", set i before it as "aux_<i>_pred_..." (i = 0: the initial queries). Every
/// component that ends in the masked-attention decoder names its outputs this way.
inline void insert_prediction_sets(nn::ComponentOutputs& out,
                                   const std::vector<Prediction<float>>& sets) {
  PSALM_CHECK(!sets.empty(), "insert_prediction_sets: no prediction set");
  insert_prediction(out, "", sets.back());
  for (std::size_t i = 0; i + 1 < sets.size(); ++i)
    insert_prediction(out, "aux_" + std::to_string(i) + "_", sets[i]);
}

namespace detail {

/// Splits region_conditions (K_total, D) into per-sample (K_b, D) views by region_counts (B).
inline std::vector<nn::Var<float>> split_region_conditions(const nn::ComponentRequest& req,
                                                           std::int64_t batch) {
  const Tensor<float> stacked = req.input<float>("region_conditions");  // (K_total, D)
  PSALM_CHECK(stacked.rank() == 2, req.component, ": region_conditions must be (K_total, D), got ",
              stacked.shape());
  const std::vector<std::int64_t> counts =
      req.row_counts("region_counts", "region_conditions", stacked.size(0), batch);
  std::vector<nn::Var<float>> out;
  std::int64_t start = 0;
  for (const std::int64_t k : counts) {
    out.emplace_back(stacked.narrow(0, start, k));  // (K_b, D)
    start += k;
  }
  return out;
}

}  // namespace detail

inline nn::Component mask_decoder_component() {
  return {
      "mask_decoder",
      "PSALM's masked-attention transformer decoder (Mask2Former-style, deep supervision)",
      "queries (B, Q, D), mask_features (B, M, H/4, W/4), multi_scale_0/1/2 (B, D, H_l, W_l) at "
      "1/32, 1/16, 1/8; optional class_conditions (B, C, D), referring_conditions (B, 1, D), "
      "region_conditions (K_total, D) with region_counts (B) (sample b's rows follow sample "
      "b-1's)",
      "pred_masks (B, Q, H/4, W/4), pred_class_logits (B, Q, C), pred_seg_logits (B, Q, 1), "
      "pred_region_logits (K_total, Q) of the last layer (those whose conditions were given), "
      "and aux_<i>_pred_... for the sets i = 0 (initial queries) .. dec_layers - 1",
      [](const nn::ComponentRequest& req) {
        const MaskDecoderConfig config = MaskDecoderConfig::from_json(req.require_config());
        const auto decoder = req.load_model<MaskedAttentionDecoder<float>>(config);
        const autograd::NoGrad no_grad;
        const nn::Var<float> queries(req.input<float>("queries"));  // (B, Q, D)
        PSALM_CHECK(queries.rank() == 3, req.component, ": queries must be (B, Q, D), got ",
                    queries.shape());
        nn::FeatureMaps<float> multi_scale;  // multi_scale_0 (1/32) is res5, _1 res4, _2 res3
        for (int l = 0; l < 3; ++l)
          multi_scale.set(5 - l,
                          nn::Var<float>(req.input<float>("multi_scale_" + std::to_string(l))));
        const nn::Var<float> mask_features(req.input<float>("mask_features"));  // (B, M, Hm, Wm)
        Conditions<float> cond;
        if (req.has_input("class_conditions"))
          cond.class_conditions = nn::Var<float>(req.input<float>("class_conditions"));
        if (req.has_input("referring_conditions"))
          cond.referring_conditions = nn::Var<float>(req.input<float>("referring_conditions"));
        if (req.has_input("region_conditions"))
          cond.region_conditions = detail::split_region_conditions(req, queries.size(0));
        const auto result = decoder(queries, multi_scale, mask_features, cond);
        nn::ComponentOutputs out;
        insert_prediction_sets(out, result.predictions);
        return out;
      }};
}

}  // namespace psalm::models::mask2former
