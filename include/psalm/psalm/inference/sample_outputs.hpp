// psalm/psalm/inference/sample_outputs.hpp — one sample's share of the last prediction set
// (values only, float, on the CPU): what every task's post-processing reads, and its mask
// logits brought back to the original image (eval_seg's resize + sem_seg_postprocess).
// Depends on: models/mask2former/prediction_head (Prediction), psalm/postprocess.
// Test: tests/psalm/test_inference.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/error.hpp"
#include "psalm/models/mask2former/prediction_head.hpp"
#include "psalm/psalm/postprocess.hpp"
#include "psalm/psalm/preprocess.hpp"
#include "psalm/tensor.hpp"

namespace psalm {

// Letters: B batch, Q queries, C class conditions (background last), K regions of the sample,
// Hm Wm the decoder's mask plane, H0 W0 original image.

/// One sample's outputs of the final decoder layer; a head that did not run stays undefined.
struct SampleOutputs {
  Tensor<float> masks;          ///< (Q, Hm, Wm) mask logits at the decoder's resolution
  Tensor<float> class_logits;   ///< (Q, C) class-name logits, or undefined
  Tensor<float> seg_logits;     ///< (Q) referring logits, or undefined
  Tensor<float> region_logits;  ///< (K, Q) region logits (K may be 0), or undefined
};

namespace detail {

/// x on any device and real type -> contiguous float on the CPU.
template <class T, Device Dev>
Tensor<float> to_cpu_float(const Tensor<T, Dev>& x) {
  const Tensor<T> host = x.template to<cpu>().contiguous();
  if constexpr (std::is_same_v<T, float>)
    return host;
  else
    return Tensor<float>(psalm::cast<float>(host));
}

}  // namespace detail

/// Sample `b` of a prediction set (use the last one: the final layer), copied to float on the
/// CPU. No tape is touched: only the values are read.
template <class T, Device Dev>
SampleOutputs sample_outputs(const models::mask2former::Prediction<T, Dev>& p, std::int64_t b) {
  PSALM_CHECK(p.masks.defined() && p.masks.value().rank() == 4,
              "sample_outputs: the prediction has no (B, Q, Hm, Wm) masks");
  const Tensor<T, Dev>& masks = p.masks.value();
  const std::int64_t batch = masks.size(0), q = masks.size(1);
  PSALM_CHECK(b >= 0 && b < batch, "sample_outputs: sample ", b, " outside the batch of ", batch);
  SampleOutputs s;
  s.masks = detail::to_cpu_float(masks.select(0, b));  // (Q, Hm, Wm)
  if (p.class_logits.defined())
    s.class_logits = detail::to_cpu_float(p.class_logits.value().select(0, b));  // (Q, C)
  if (p.seg_logits.defined())
    s.seg_logits = detail::to_cpu_float(p.seg_logits.value().select(0, b)).view({q});  // (Q)
  if (!p.region_logits.empty()) {
    PSALM_CHECK(static_cast<std::int64_t>(p.region_logits.size()) == batch,
                "sample_outputs: ", p.region_logits.size(),
                " region logit matrices for a batch of ", batch);
    s.region_logits =
        detail::to_cpu_float(p.region_logits[static_cast<std::size_t>(b)].value());  // (K, Q)
  }
  return s;
}

/// The sample's mask logits at the original image size (PSALM_SPEC §5: resize to the padded
/// input, crop the valid extent, resize to H0 x W0). (Q, H0, W0)
inline Tensor<float> masks_at_original(const SampleOutputs& s, const ImageGeometry& g) {
  PSALM_CHECK(s.masks.defined() && s.masks.rank() == 3,
              "masks_at_original: expected (Q, Hm, Wm) mask logits");
  return postprocess_to_original(s.masks, g);  // (Q, H0, W0)
}

}  // namespace psalm
