// CPU-vs-CUDA parity of post-processing (psalm/postprocess.hpp, which claims to run on any
// device): mask logits at 1/4 of the padded input, and at the padded size (crop only), are
// brought back to the original image size by the host loop and by the GPU, and compared.
#include <cstdio>

#include "cuda/host_backend.cuh"
#include "cuda/parity.cuh"
#include "psalm/cuda.cuh"
#include "psalm/psalm/postprocess.hpp"

namespace psalm::parity {

void run_postprocess_cases() {
  const ImageGeometry g = image_geometry(37, 50, 64);  // shown as 47x64 in a 64x64 input
  const Tensor<float> quarter = Tensor<float>::randn({3, 16, 16}, 31);  // (Q, T/4, T/4)
  const Tensor<float> padded = Tensor<float>::randn({2, 64, 64}, 32);   // (Q, T, T)
  expect_close("postprocess_to_original from 1/4 resolution",
               postprocess_to_original(quarter.to<cuda>(), g).to_vector(),
               postprocess_to_original(quarter, g).to_vector());
  expect_close("postprocess_to_original from the padded size (crop, resize)",
               postprocess_to_original(padded.to<cuda>(), g).to_vector(),
               postprocess_to_original(padded, g).to_vector());
}

}  // namespace psalm::parity
