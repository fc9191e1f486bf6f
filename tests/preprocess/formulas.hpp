// Test images and logits shared with tools/reference/preprocess_fixtures.py (image_pixel,
// logit_value): the fixtures store only what the reference computed from them.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "psalm/tensor/tensor.hpp"

namespace psalm::testing {

/// The images preprocess_fixtures.py's IMAGES names (its fixture file, height, width, formula
/// seed): landscape, COCO-sized, portrait, a small one upscaled, one left unresized.
struct ImageCase {
  std::string name;
  std::int64_t h, w, seed;
};
inline const std::vector<ImageCase> kImageCases = {{"landscape_480x640", 480, 640, 1},
                                                   {"coco_375x500", 375, 500, 2},
                                                   {"portrait_500x333", 500, 333, 3},
                                                   {"small_37x50", 37, 50, 4},
                                                   {"exact_192x256", 192, 256, 5}};

/// (H, W, 3) uint8: ramps, a 16-pixel checkerboard with hard edges, a radial pattern.
inline Tensor<std::uint8_t> formula_image(std::int64_t h, std::int64_t w, std::int64_t seed) {
  Tensor<std::uint8_t> img(Shape{h, w, 3});  // (H, W, 3)
  std::uint8_t* p = img.data();
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      std::uint8_t* px = p + (y * w + x) * 3;
      px[0] = static_cast<std::uint8_t>((x * 3 + y * 2 + seed * 17 + (x * y) / 7) % 256);
      px[1] = static_cast<std::uint8_t>(((x + 4096 - y) * 5 + ((x / 16 + y / 16) % 2) * 64) % 256);
      px[2] = static_cast<std::uint8_t>(((x * x + 3 * y * y) / 13 + seed * 31) % 256);
    }
  return img;
}

/// (P, h, w) float logits: smooth waves plus a small high-frequency term.
inline Tensor<float> formula_logits(std::int64_t planes, std::int64_t h, std::int64_t w) {
  Tensor<float> t(Shape{planes, h, w});  // (P, h, w)
  float* p = t.data();
  for (std::int64_t q = 0; q < planes; ++q)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) {
        const double hf = static_cast<double>((x * 31 + y * 17 + q * 7) % 101);
        const double v = std::sin(0.05 * double(x + 1) * double(q + 1)) +
                         std::cos(0.031 * double(y) * double(q + 2)) + 0.001 * hf;
        p[(q * h + y) * w + x] = static_cast<float>(v);
      }
  return t;
}

/// sum of value * (i mod 997 + 1) over the flat array (exact in double below 2^53).
inline double weighted_checksum(const std::vector<std::uint8_t>& v) {
  double s = 0;
  for (std::size_t i = 0; i < v.size(); ++i) s += double(v[i]) * double(i % 997 + 1);
  return s;
}

}  // namespace psalm::testing
