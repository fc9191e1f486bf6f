// Tests for psalm/psalm/postprocess.hpp against eval_seg's F.interpolate + detectron2's
// sem_seg_postprocess written in torch (tools/reference/preprocess_fixtures.py): 1/4-resolution
// logits and the full-resolution preprocessed pixels brought back to real-sized originals
// (640x480, 500x375, 333x500, 50x37, 256x192) at targets 128, 256, 1024; leading axes; the
// identity case; errors.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "formulas.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/psalm/postprocess.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using testing::ImageCase;
using testing::kImageCases;

namespace {

Tensor<float> samples(const Tensor<float>& t) {  // t[:, ::23, ::19]
  return t.slice(1, 0, t.size(1), 23).slice(2, 0, t.size(2), 19);
}

}  // namespace

TEST_CASE("postprocess_to_original: matches F.interpolate + detectron2 sem_seg_postprocess",
          "[postprocess]") {
  for (const ImageCase& c : kImageCases) {
    const io::SafetensorsFile f = io::SafetensorsFile::open(
        std::string(PSALM_TEST_FIXTURES_DIR) + "/preprocess/" + c.name + ".safetensors");
    for (const std::int64_t target : {128, 256, 1024}) {
      INFO(c.name << " at target " << target);
      const std::string k = "t" + std::to_string(target) + ".";
      const ImageGeometry g = image_geometry(c.h, c.w, target);
      // Mask logits at 1/4 of the padded input (256 x 256 for 1024).
      const Tensor<float> logits = testing::formula_logits(3, target / 4, target / 4);
      const Tensor<float> back = postprocess_to_original(logits, g);  // (3, H0, W0)
      REQUIRE(back.shape() == Shape{3, c.h, c.w});
      testing::require_close(samples(back), f.load<float>(k + "post_samples"), tol::f32_sum_rtol,
                             tol::f32_sum_atol);
      if (f.contains(k + "post"))
        testing::require_close(back, f.load<float>(k + "post"), tol::f32_sum_rtol,
                               tol::f32_sum_atol);
      const auto sums = f.load<double>(k + "post_sum").to_vector();
      const auto v = back.to_vector();
      for (std::int64_t q = 0; q < 3; ++q) {
        double s = 0;
        for (std::int64_t i = 0; i < c.h * c.w; ++i) s += v[q * c.h * c.w + i];
        CHECK(s == Approx(sums[q]).margin(tol::f32_atol * double(c.h * c.w)));  // 1e-6 per pixel
      }
      // Round trip of the image itself: preprocessed pixels (full resolution) back to the
      // original size (only the crop and the final resize run).
      const PreprocessedImage p =
          preprocess_image(testing::formula_image(c.h, c.w, c.seed), {.target = target});
      // psalm's bilinear source coordinate is (dst + 0.5) * in / out - 0.5 in float, ATen's
      // float(in / out) * (dst + 0.5) - 0.5: a few ulp of a coordinate near 1000, times the
      // steepest edge of the test image (~4 per pixel), allows ~2e-4.
      testing::require_close(samples(postprocess_to_original(p.pixels, p.geometry)),
                             f.load<float>(k + "pixels_back_samples"), tol::f32_sum_rtol,
                             tol::f32_resampled_edge_atol);
    }
  }
}

TEST_CASE("postprocess_to_original: keeps leading axes; identity when nothing is resized",
          "[postprocess]") {
  const Tensor<float> logits = testing::formula_logits(6, 8, 8).view({2, 3, 8, 8});
  const ImageGeometry g{20, 10, 8, 4, 8, 8};  // original 10x20 shown as 4x8 in an 8x8 input
  const Tensor<float> four = postprocess_to_original(logits, g);  // (2, 3, 20, 10)
  REQUIRE(four.shape() == Shape{2, 3, 20, 10});
  const Tensor<float> flat = postprocess_to_original(logits.view({6, 8, 8}), g);
  testing::require_close(four.view({6, 20, 10}), flat, 0.0, 0.0);
  const Tensor<float> plane = postprocess_to_original(logits.select(0, 1).select(0, 2), g);
  testing::require_close(plane, flat.select(0, 5), 0.0, 0.0);
  // Unpadded input at the original size: every resize is the identity.
  const ImageGeometry same{8, 8, 8, 8, 8, 8};
  testing::require_close(postprocess_to_original(logits, same), logits, 0.0, 0.0);
  // The crop drops the padded rows: a large value there never reaches the output.
  Tensor<float> padded = Tensor<float>::zeros({1, 8, 8});
  padded.slice(1, 4, 8).assign(Tensor<float>::full({1, 4, 8}, 1000.0f));
  const ImageGeometry half{4, 8, 4, 8, 8, 8};
  const auto out = postprocess_to_original(padded, half).to_vector();
  for (float x : out) CHECK(x == 0.0f);
}

TEST_CASE("postprocess_to_original: rejects bad geometry and inputs", "[postprocess]") {
  const Tensor<float> logits = Tensor<float>::zeros({2, 8, 8});
  CHECK_THROWS_AS(postprocess_to_original(logits, ImageGeometry{10, 10, 9, 8, 8, 8}), Error);
  CHECK_THROWS_AS(postprocess_to_original(logits, ImageGeometry{0, 10, 8, 8, 8, 8}), Error);
  CHECK_THROWS_AS(postprocess_to_original(Tensor<float>::zeros({8}), image_geometry(8, 8, 8)),
                  Error);
}
