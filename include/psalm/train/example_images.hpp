// psalm/train/example_images.hpp — what every dataset reader's Example needs: the image decoded
// as (H0, W0, 3) RGB and checked against the size its annotation declares, and masks stacked
// as (N, H0, W0) 0 / 1 tensors from RLEs or label maps. Host code.
// Depends on: io/image, io/rle, tensor. Test: tests/data/test_coco_instances.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/image.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/tensor.hpp"

namespace psalm::train {

// Letters: H0 W0 the image, N masks.

/// The RGB image at `path`, (H0, W0, 3); it must be `height` x `width` as `context` (the
/// annotation naming it) says. Gray and RGBA files are converted (as detectron2's read_image
/// with format "RGB").
inline Tensor<std::uint8_t> load_example_image(const std::filesystem::path& path,
                                               std::int64_t height, std::int64_t width,
                                               std::string_view context) {
  io::ImageLoadOptions opt;
  opt.channels = 3;
  Tensor<std::uint8_t> image = io::load_image(path, opt);  // (H0, W0, 3)
  PSALM_CHECK(image.size(0) == height && image.size(1) == width, path.string(), ": image of ",
              image.size(0), " x ", image.size(1), " but ", context, " says ", height, " x ",
              width);
  return image;
}

/// RLEs of one size stacked as (N, H0, W0) 0 / 1 masks (N may be 0).
inline Tensor<std::uint8_t> stack_rles(const std::vector<io::Rle>& rles, std::int64_t height,
                                       std::int64_t width) {
  Tensor<std::uint8_t> out(
      Shape{static_cast<std::int64_t>(rles.size()), height, width});  // (N, H0, W0)
  for (std::size_t n = 0; n < rles.size(); ++n) {
    PSALM_CHECK(rles[n].height == height && rles[n].width == width, "stack_rles: mask ", n, " is ",
                rles[n].height, " x ", rles[n].width, ", not ", height, " x ", width);
    io::rle_decode_into(rles[n], out.data() + static_cast<std::int64_t>(n) * height * width);
  }
  return out;
}

/// One (N, H0, W0) 0 / 1 mask per value of `values`: pixels of `labels` (H0, W0) equal to it.
inline Tensor<std::uint8_t> label_masks(const Tensor<std::int32_t>& labels,
                                        const std::vector<std::int64_t>& values) {
  const std::int64_t h = labels.size(0), w = labels.size(1);
  Tensor<std::uint8_t> out(Shape{static_cast<std::int64_t>(values.size()), h, w});  // (N, H0, W0)
  const std::int32_t* l = labels.data();
  for (std::size_t n = 0; n < values.size(); ++n) {
    std::uint8_t* m = out.data() + static_cast<std::int64_t>(n) * h * w;
    for (std::int64_t p = 0; p < h * w; ++p) m[p] = l[p] == values[n] ? 1 : 0;
  }
  return out;
}

}  // namespace psalm::train
