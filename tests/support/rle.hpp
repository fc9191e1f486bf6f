// Test support: the run-length encodings the committed fixtures and the `psalm` program write,
// decoded for comparison. Fixture runs ([value, count, value, count, ...] over row-major
// pixels, written by tools/reference/{referring,semantic,video}_fixtures.py) hold masks and
// label maps; COCO RLE goes through psalm/io/rle.hpp. Depends on Catch2, nlohmann::json.
// Test: tests/eval/test_video.cpp (masks and label maps), tests/cli/test_segment.cpp (COCO RLE)
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "psalm/io/rle.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::testing {

/// Fixture runs [value, count, value, count, ...] expanded to `expected` elements of T.
template <class T = std::uint8_t>
std::vector<T> decode_rle(const nlohmann::json& runs, std::size_t expected) {
  std::vector<T> out;
  for (std::size_t i = 0; i + 1 < runs.size(); i += 2)
    out.insert(out.end(), runs[i + 1].get<std::size_t>(), runs[i].get<T>());
  REQUIRE(out.size() == expected);
  return out;
}

/// A fixture sample {"height", "width", "pred_rle", "gt_rle"} decoded: prediction and ground
/// truth as row-major (height, width) maps of T.
template <class T = std::uint8_t>
struct DecodedPair {
  std::int64_t height = 0, width = 0;
  std::vector<T> pred, gt;
};

template <class T = std::uint8_t>
DecodedPair<T> decode_pair(const nlohmann::json& sample) {
  DecodedPair<T> p;
  p.height = sample.at("height").get<std::int64_t>();
  p.width = sample.at("width").get<std::int64_t>();
  const auto n = static_cast<std::size_t>(p.height * p.width);
  p.pred = decode_rle<T>(sample.at("pred_rle"), n);
  p.gt = decode_rle<T>(sample.at("gt_rle"), n);
  return p;
}

/// A COCO RLE object {"size": [h, w], "counts": ...} as an (h, w) 0/1 mask.
inline Tensor<std::uint8_t> decode_coco_rle(const nlohmann::json& segmentation) {
  const io::Rle rle = io::rle_from_json(segmentation);
  Tensor<std::uint8_t> m(Shape{rle.height, rle.width});  // (h, w)
  io::rle_decode_into(rle, m.data());
  return m;
}

}  // namespace psalm::testing
