// Tests for psalm/psalm/preprocess.hpp against Pillow + PyTorch
// (tools/reference/preprocess_fixtures.py, tests/fixtures/preprocess/): real-sized images (640x480,
// 500x375, a 333x500 portrait, a small 50x37 upscaled, a 256x192 left unresized) at targets
// 128, 256 and 1024 — resized extent, the resized uint8 image (checksum, in full where
// stored), the normalised padded pixels (sums, strided samples, in full at 128), the padding
// mask; plus grey / RGBA inputs and errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "formulas.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/psalm/preprocess.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using testing::ImageCase;
using testing::kImageCases;

namespace {

io::SafetensorsFile open_case(const ImageCase& c) {
  return io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) + "/preprocess/" + c.name +
                                   ".safetensors");
}

/// The resized uint8 image read back from the normalised pixels inside the valid extent.
std::vector<std::uint8_t> recover_resized(const PreprocessedImage& p) {
  const io::PixelNormalization norm;
  const std::int64_t t = p.geometry.padded_height, h = p.geometry.valid_height,
                     w = p.geometry.valid_width;
  const float* px = p.pixels.data();
  std::vector<std::uint8_t> out(static_cast<std::size_t>(h * w * 3));
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t c = 0; c < 3; ++c) {
        const auto k = static_cast<std::size_t>(c);
        const float v = px[(c * t + y) * t + x] * norm.std[k] + norm.mean[k];
        out[static_cast<std::size_t>((y * w + x) * 3 + c)] =
            static_cast<std::uint8_t>(std::lround(v));
      }
  return out;
}

}  // namespace

TEST_CASE("preprocess_image: matches Pillow BILINEAR + pad 128 + torch normalisation",
          "[preprocess]") {
  for (const ImageCase& c : kImageCases) {
    const io::SafetensorsFile f = open_case(c);
    const Tensor<std::uint8_t> image = testing::formula_image(c.h, c.w, c.seed);
    for (const std::int64_t target : {128, 256, 1024}) {
      INFO(c.name << " at target " << target);
      const std::string k = "t" + std::to_string(target) + ".";
      const PreprocessedImage p = preprocess_image(image, {.target = target});
      const auto extent = f.load<double>(k + "extent").to_vector();
      const ImageGeometry& g = p.geometry;
      CHECK(g.valid_height == std::int64_t(extent[0]));
      CHECK(g.valid_width == std::int64_t(extent[1]));
      CHECK(std::max(g.valid_height, g.valid_width) == target);
      CHECK(g.original_height == c.h);
      CHECK(g.original_width == c.w);
      REQUIRE(p.pixels.shape() == Shape{3, target, target});
      REQUIRE(p.padding_mask.shape() == Shape{target, target});

      const std::vector<std::uint8_t> resized = recover_resized(p);
      CHECK(testing::weighted_checksum(resized) ==
            f.load<double>(k + "resized_checksum").item({0}));
      if (f.contains(k + "resized")) {
        const auto want = f.load<std::uint8_t>(k + "resized").to_vector();
        CHECK(resized == want);
      }
      // Bit-identical float32 arithmetic: (v - mean) / std, padding (128 - mean) / std.
      const std::int64_t s = std::max<std::int64_t>(1, target / 32);
      const Tensor<float> sampled = p.pixels.slice(1, 0, target, s).slice(2, 0, target, s);
      testing::require_close(sampled, f.load<float>(k + "pixels_samples"), 0.0, 0.0);
      if (f.contains(k + "pixels"))
        testing::require_close(p.pixels, f.load<float>(k + "pixels"), 0.0, 0.0);
      const auto sums = f.load<double>(k + "pixels_sum").to_vector();
      const auto px = p.pixels.to_vector();
      for (std::int64_t ch = 0; ch < 3; ++ch) {
        double sum = 0;
        for (std::int64_t i = 0; i < target * target; ++i) sum += px[ch * target * target + i];
        CHECK(sum == Approx(sums[ch]).epsilon(tol::f64_sum_of_f32_rtol).margin(tol::f32_atol));
      }
      const auto mask = p.padding_mask.to_vector();
      double masked = 0;
      for (std::uint8_t m : mask) masked += m;
      CHECK(masked == f.load<double>(k + "mask_sum").item({0}));
      CHECK(p.padding_mask.item({g.valid_height - 1, g.valid_width - 1}) == 0);
      if (g.valid_height < target) CHECK(p.padding_mask.item({g.valid_height, 0}) == 1);
      if (g.valid_width < target) CHECK(p.padding_mask.item({0, g.valid_width}) == 1);
      const auto [vh, vw] = valid_extent(p.padding_mask);
      CHECK(vh == g.valid_height);
      CHECK(vw == g.valid_width);
    }
  }
}

TEST_CASE("preprocess_image: grey and RGBA images convert as PIL's convert(\"RGB\")",
          "[preprocess]") {
  const Tensor<std::uint8_t> rgb = testing::formula_image(30, 20, 7);  // (30, 20, 3)
  const Tensor<std::uint8_t> grey = rgb.select(2, 1).contiguous();     // (30, 20)
  const PreprocessedImage from_grey = preprocess_image(grey, {.target = 64});
  const PreprocessedImage from_rgb =
      preprocess_image(grey.unsqueeze(2).expand(Shape{30, 20, 3}).contiguous(), {.target = 64});
  testing::require_close(from_grey.pixels, from_rgb.pixels, 0.0, 0.0);
  Tensor<std::uint8_t> rgba(Shape{30, 20, 4});  // (30, 20, 4): alpha is dropped
  rgba.assign(Tensor<std::uint8_t>::full({30, 20, 4}, 9));
  rgba.slice(2, 0, 3).assign(rgb);
  testing::require_close(preprocess_image(rgba, {.target = 64}).pixels,
                         preprocess_image(rgb, {.target = 64}).pixels, 0.0, 0.0);
}

TEST_CASE("preprocess_image: geometry helpers and bad inputs", "[preprocess]") {
  const ImageGeometry g = image_geometry(480, 640);
  CHECK(g.valid_height == 768);
  CHECK(g.valid_width == 1024);
  CHECK(g.padded_height == 1024);
  CHECK(image_geometry(500, 333, 128).valid_width == 85);  // int(333 * 128 / 500 + 0.5)
  CHECK_THROWS_AS(preprocess_image(Tensor<std::uint8_t>::zeros({4, 4, 2})), Error);
  CHECK_THROWS_AS(preprocess_image(Tensor<std::uint8_t>::zeros({0, 4, 3})), Error);
  CHECK_THROWS_AS(preprocess_image(Tensor<std::uint8_t>::zeros({4, 4, 3}), {.target = 0}), Error);
  CHECK_THROWS_AS(valid_extent(Tensor<std::uint8_t>::ones({4, 4})), Error);
}
