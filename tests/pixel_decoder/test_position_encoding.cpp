// Tests of nn::sine_position_encoding (include/psalm/nn/position_encoding.hpp) against a float64
// and a float32 PyTorch transcription of Mask2Former's PositionEmbeddingSine and against
// transformers' Mask2FormerSinePositionEmbedding (tools/reference/pixel_decoder_fixtures.py);
// nn::SinePositionEncoding, its per-size cache.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <string>

#include "psalm/io/safetensors.hpp"
#include "psalm/nn/position_encoding.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

namespace {
io::SafetensorsFile fixture() {
  return io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) +
                                   "/pixel_decoder/position_encoding.safetensors");
}
struct Case {
  std::int64_t h, w, f;
  bool normalize;
  std::string name() const {
    return std::to_string(h) + "x" + std::to_string(w) + "_f" + std::to_string(f) +
           (normalize ? "_norm" : "_raw");
  }
};
const Case kCases[] = {
    {4, 6, 8, true}, {7, 5, 16, true}, {1, 3, 4, true}, {3, 4, 8, false}, {4, 4, 128, true}};
}  // namespace

TEST_CASE("sine_position_encoding: double matches the float64 PyTorch transcription",
          "[pixel_decoder]") {
  const auto file = fixture();
  for (const Case& c : kCases) {
    INFO(c.name());
    const Tensor<double> got =
        nn::sine_position_encoding<double>(c.h, c.w, c.f, 10000.0, c.normalize);  // (1, 2F, H, W)
    testing::require_close(got, file.load<double>(c.name() + ".f64"), tol::f64_rtol, tol::f64_atol);
  }
}

TEST_CASE("sine_position_encoding: float matches upstream's float32 and transformers' module",
          "[pixel_decoder]") {
  const auto file = fixture();
  for (const Case& c : kCases) {
    INFO(c.name());
    const Tensor<float> got =
        nn::sine_position_encoding<float>(c.h, c.w, c.f, 10000.0, c.normalize);  // (1, 2F, H, W)
    // Upstream rounds the angle to float32 before sin/cos: up to ~1 ulp of 2*pi apart from us.
    const double atol = c.normalize ? tol::f32_angle_atol
                                    : tol::f32_angle_atol * static_cast<double>(std::max(c.h, c.w));
    testing::require_close(got, file.load<float>(c.name() + ".f32"), 0.0, atol);
    if (c.normalize) testing::require_close(got, file.load<float>(c.name() + ".hf"), 0.0, atol);
  }
}

TEST_CASE("sine_position_encoding: layout is pos_y then pos_x, sin/cos interleaved",
          "[pixel_decoder]") {
  const Tensor<double> pos = nn::sine_position_encoding<double>(3, 5, 4);  // (1, 8, 3, 5)
  REQUIRE(pos.shape() == Shape{1, 8, 3, 5});
  const double s = 2 * std::numbers::pi;
  const double ey = 2.0 / (3 + 1e-6) * s, ex = 4.0 / (5 + 1e-6) * s;  // row 1, column 3
  const double d2 = std::pow(10000.0, 2.0 / 4.0);
  CHECK(pos.item({0, 0, 1, 3}) == Approx(std::sin(ey)).margin(tol::f64_short));
  CHECK(pos.item({0, 1, 1, 3}) == Approx(std::cos(ey)).margin(tol::f64_short));
  CHECK(pos.item({0, 2, 1, 3}) == Approx(std::sin(ey / d2)).margin(tol::f64_short));
  CHECK(pos.item({0, 3, 1, 3}) == Approx(std::cos(ey / d2)).margin(tol::f64_short));
  CHECK(pos.item({0, 4, 1, 3}) == Approx(std::sin(ex)).margin(tol::f64_short));
  CHECK(pos.item({0, 7, 1, 3}) == Approx(std::cos(ex / d2)).margin(tol::f64_short));
}

TEST_CASE("sine_position_encoding: rejects odd feature counts and empty maps", "[pixel_decoder]") {
  CHECK_THROWS_AS(nn::sine_position_encoding<float>(2, 2, 3), Error);
  CHECK_THROWS_AS(nn::sine_position_encoding<float>(0, 2, 4), Error);
  CHECK_THROWS_WITH(nn::sine_position_encoding<float>(2, 2, 3),
                    Catch::Contains("must be positive and even"));
}

TEST_CASE("SinePositionEncoding: computed once per map size, equal to the function, bounded",
          "[pixel_decoder]") {
  const nn::SinePositionEncoding<double> pos(8);
  CHECK(pos.cached_sizes() == 0);
  const Tensor<double> a = pos(3, 5);  // (1, 16, 3, 5)
  testing::require_close(a, nn::sine_position_encoding<double>(3, 5, 8), 0.0, 0.0);
  const Tensor<double> again = pos(3, 5);
  CHECK(again.data() == a.data());  // the cached tensor, not a new one
  CHECK(pos.cached_sizes() == 1);
  testing::require_close(pos(5, 3), nn::sine_position_encoding<double>(5, 3, 8), 0.0, 0.0);
  CHECK(pos.cached_sizes() == 2);
  for (std::int64_t h = 1; h <= 20; ++h) (void)pos(h, 1);
  CHECK(pos.cached_sizes() == nn::SinePositionEncoding<double>::kMaxSizes);
  CHECK_THROWS_WITH(nn::SinePositionEncoding<float>(3)(2, 2),
                    Catch::Contains("must be positive and even"));
}
