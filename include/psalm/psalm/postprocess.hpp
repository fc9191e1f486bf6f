// psalm/psalm/postprocess.hpp — predictions back onto the original image (PSALM_SPEC §5):
// mask logits at any resolution of the padded input (1/4: 256 x 256 for 1024) are resized
// bilinearly (align_corners false) to the padded size, cropped to the valid region and resized
// bilinearly to the original size — eval_seg's F.interpolate followed by detectron2's
// sem_seg_postprocess (the crop fused into the first resize). Runs on any device through
// kernels/interpolate.hpp's ResizeBilinearWindow body; no tape.
// Depends on: kernels/interpolate, tensor, psalm/preprocess (ImageGeometry).
// Test: tests/preprocess/test_postprocess.cpp. Docs: docs/preprocessing.md.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/kernels/interpolate.hpp"
#include "psalm/psalm/preprocess.hpp"
#include "psalm/tensor/assign.hpp"  // contiguous(); the program picks the backend

namespace psalm {

// Letters: P planes (masks / classes, any leading axes), m n predicted map, T T padded input,
// h w valid extent, H0 W0 original image.

namespace detail {

/// planes (P, H, W) contiguous -> the (win_h, win_w) top-left window of their bilinear resize
/// to (out_h, out_w); the whole resize when the window is the full size.
template <Scalar T, Device Dev>
Tensor<T, Dev> resize_planes_bilinear(const Tensor<T, Dev>& planes, std::int64_t out_h,
                                      std::int64_t out_w, std::int64_t win_h, std::int64_t win_w) {
  Tensor<T, Dev> out(Shape{planes.size(0), win_h, win_w});  // (P, win_h, win_w)
  if (out.numel() > 0)
    Executor<Dev>::launch(out.numel(), kernels::ResizeBilinearWindow<T>{
                                           planes.data(), out.data(), planes.size(1),
                                           planes.size(2), out_h, out_w, win_h, win_w, false});
  return out;
}

}  // namespace detail

/// logits (..., m, n) -> (..., H0, W0). Leading axes are kept (e.g. (Q, m, n) masks or
/// (C, m, n) class scores). Predictions at the padded size (m n = T T) are only cropped.
template <Scalar T, Device Dev>
Tensor<T, Dev> postprocess_to_original(const Tensor<T, Dev>& logits, const ImageGeometry& g) {
  g.validate("postprocess_to_original");
  PSALM_CHECK(logits.rank() >= 2 && logits.size(-1) >= 1 && logits.size(-2) >= 1,
              "postprocess_to_original: expected (..., H, W) predictions, got ", logits.shape());
  const std::int64_t m = logits.size(-2), n = logits.size(-1);
  const std::int64_t p = logits.numel() / (m * n);
  const Tensor<T, Dev> planes = logits.contiguous().view({p, m, n});  // (P, m, n)
  const std::int64_t h = g.valid_height, w = g.valid_width;
  // ref: PSALM llava_phi.py eval_seg: F.interpolate(pred_masks, size=padded, bilinear, False),
  // then detectron2 modeling/postprocessing.py sem_seg_postprocess: crop [:h, :w], resize.
  // The crop is fused into the first resize; at the padded size that resize is the identity.
  const Tensor<T, Dev> valid =
      (m == g.padded_height && n == g.padded_width)
          ? planes.slice(1, 0, h).slice(2, 0, w).contiguous()  // (P, h, w)
          : detail::resize_planes_bilinear(planes, g.padded_height, g.padded_width, h,
                                           w);  // (P, h, w)
  const Tensor<T, Dev> out =
      detail::resize_planes_bilinear(valid, g.original_height, g.original_width, g.original_height,
                                     g.original_width);  // (P, H0, W0)
  std::vector<std::int64_t> extents(logits.shape().dims().v.begin(),
                                    logits.shape().dims().v.begin() + logits.rank());
  extents[extents.size() - 2] = g.original_height;
  extents.back() = g.original_width;
  return out.view(extents);  // (..., H0, W0)
}

}  // namespace psalm
