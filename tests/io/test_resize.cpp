// Tests for psalm/io/resize.hpp: bit-exact agreement with Pillow's Image.resize (BILINEAR and
// NEAREST, modes L, RGB, I and F) on the fixtures of tools/reference/image_fixtures.py, plus
// PSALM's preprocessing arithmetic (detectron2 shortest-edge sizes, mean/std normalisation).
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "psalm/io/image.hpp"
#include "psalm/io/resize.hpp"
#include "psalm/tensor.hpp"
#include "support/fixtures.hpp"

namespace {

using psalm::Shape;
using psalm::Tensor;
namespace io = psalm::io;
namespace fs = std::filesystem;

const fs::path kDir = fs::path(PSALM_TEST_FIXTURES_DIR) / "image";

std::string fnv_hex(const void* data, std::size_t n) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<float> read_f32(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> out(raw.size() / 4);
  std::memcpy(out.data(), raw.data(), out.size() * 4);  // little-endian host
  return out;
}

/// Row and column sums of an (OH, OW[, C]) tensor, to locate a mismatch the hash reports.
template <class T>
std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> sums(const Tensor<T>& t) {
  const std::int64_t h = t.size(0), w = t.size(1), c = t.rank() == 3 ? t.size(2) : 1;
  const auto v = t.to_vector();
  std::vector<std::int64_t> rows(static_cast<std::size_t>(h), 0),
      cols(static_cast<std::size_t>(w), 0);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t k = 0; k < c; ++k) {
        rows[static_cast<std::size_t>(y)] += v[static_cast<std::size_t>((y * w + x) * c + k)];
        cols[static_cast<std::size_t>(x)] += v[static_cast<std::size_t>((y * w + x) * c + k)];
      }
  return {rows, cols};
}

template <class T>
void check_against_pillow(const Tensor<T>& got, const nlohmann::json& c) {
  const auto out = c.at("out").get<std::vector<std::int64_t>>();
  REQUIRE(got.size(0) == out[0]);
  REQUIRE(got.size(1) == out[1]);
  const auto [rows, cols] = sums(got);
  CHECK(rows == c.at("row_sums").get<std::vector<std::int64_t>>());
  CHECK(cols == c.at("col_sums").get<std::vector<std::int64_t>>());
  const auto v = got.to_vector();
  CHECK(fnv_hex(v.data(), v.size() * sizeof(T)) == c.at("fnv").get<std::string>());
}

}  // namespace

TEST_CASE("resize: uint8 L and RGB match Pillow bit-exactly (BILINEAR and NEAREST)",
          "[io][resize]") {
  const auto cases = psalm::testing::load_json("image/cases.json");
  std::map<std::string, Tensor<std::uint8_t>> inputs;
  int checked = 0;
  for (const auto& c : cases.at("resize")) {
    const std::string mode = c.at("mode"), input = c.at("input"), filter = c.at("filter");
    if (mode != "L" && mode != "RGB") continue;
    const auto out = c.at("out").get<std::vector<std::int64_t>>();
    INFO(input << " (" << mode << ") -> " << out[1] << "x" << out[0] << " " << filter);
    if (!inputs.count(input)) inputs[input] = io::load_image(kDir / input);
    Tensor<std::uint8_t> src = inputs[input];  // (H, W, C)
    if (mode == "L") src = src.reshape({src.size(0), src.size(1)});
    const Tensor<std::uint8_t> got = io::resize(
        src, out[0], out[1], filter == "nearest" ? io::Resample::nearest : io::Resample::bilinear);
    CHECK(got.rank() == src.rank());
    check_against_pillow(got, c);
    ++checked;
  }
  CHECK(checked == 48);
}

TEST_CASE("resize: int32 label maps (Pillow mode I) match Pillow NEAREST", "[io][resize]") {
  const auto cases = psalm::testing::load_json("image/cases.json");
  const Tensor<std::int32_t> labels = io::load_label_png(kDir / "labels16_45x31.png");  // (H, W)
  int checked = 0;
  for (const auto& c : cases.at("resize")) {
    if (c.at("mode") != "I") continue;
    const auto out = c.at("out").get<std::vector<std::int64_t>>();
    INFO("-> " << out[1] << "x" << out[0]);
    check_against_pillow(io::resize_nearest(labels, out[0], out[1]), c);
    ++checked;
  }
  CHECK(checked == 5);
}

TEST_CASE("resize: float images (Pillow mode F) match Pillow BILINEAR exactly", "[io][resize]") {
  const auto cases = psalm::testing::load_json("image/cases.json");
  int checked = 0;
  for (const auto& c : cases.at("resize")) {
    if (c.at("mode") != "F") continue;
    const auto in_shape = c.at("in_shape").get<std::vector<std::int64_t>>();
    const auto out = c.at("out").get<std::vector<std::int64_t>>();
    INFO("-> " << out[1] << "x" << out[0]);
    const Tensor<float> src = Tensor<float>::from_data(
        read_f32(kDir / c.at("input").get<std::string>()), Shape{in_shape[0], in_shape[1]});
    const Tensor<float> want = Tensor<float>::from_data(
        read_f32(kDir / c.at("output").get<std::string>()), Shape{out[0], out[1]});
    const Tensor<float> got = io::resize_bilinear(src, out[0], out[1]);
    psalm::testing::require_close(got, want, 0.0, 0.0);
    ++checked;
  }
  CHECK(checked == 6);
}

TEST_CASE("resize: bilinear of a constant image is constant; channels are independent",
          "[io][resize]") {
  const Tensor<std::uint8_t> flat = Tensor<std::uint8_t>::full(Shape{17, 9, 3}, 201);
  for (auto [oh, ow] : {std::pair{5, 40}, std::pair{40, 5}, std::pair{1, 1}, std::pair{100, 3}}) {
    const auto v = io::resize_bilinear(flat, oh, ow).to_vector();
    CHECK(std::all_of(v.begin(), v.end(), [](std::uint8_t x) { return x == 201; }));
  }
  // Channel k of an RGB resize equals the L resize of channel k.
  const Tensor<std::uint8_t> rgb = io::load_image(kDir / "rgb_37x23.png");
  const Tensor<std::uint8_t> big = io::resize_bilinear(rgb, 50, 29);
  for (int k = 0; k < 3; ++k) {
    const Tensor<std::uint8_t> plane = rgb.select(2, k).contiguous();
    CHECK(io::resize_bilinear(plane, 50, 29).to_vector() ==
          big.select(2, k).contiguous().to_vector());
  }
}

TEST_CASE("resize: bad sizes and element types are refused", "[io][resize]") {
  const Tensor<std::uint8_t> img = Tensor<std::uint8_t>::zeros(Shape{4, 4, 3});
  CHECK_THROWS_AS(io::resize_bilinear(img, 0, 3), psalm::Error);
  CHECK_THROWS_AS(io::resize_nearest(img, 3, -1), psalm::Error);
  CHECK_THROWS_AS(io::resize_bilinear(Tensor<std::uint8_t>::zeros(Shape{4}), 3, 3), psalm::Error);
  CHECK_THROWS_AS(io::resize_bilinear(Tensor<std::uint8_t>::zeros(Shape{0, 4, 3}), 3, 3),
                  psalm::Error);
  CHECK_THROWS_WITH(
      io::resize(Tensor<std::int32_t>::zeros(Shape{2, 2}), 3, 3, io::Resample::bilinear),
      Catch::Contains("uint8 and float"));
}

TEST_CASE("resize: shortest_edge_size follows detectron2 ResizeShortestEdge(1024, 1024)",
          "[io][resize]") {
  const auto cases = psalm::testing::load_json("image/cases.json").at("shortest_edge");
  REQUIRE(cases.size() >= 10);
  for (const auto& c : cases) {
    const auto v = c.get<std::vector<std::int64_t>>();
    INFO(v[1] << "x" << v[0]);
    const auto [oh, ow] = io::shortest_edge_size(v[0], v[1]);
    CHECK(oh == v[2]);
    CHECK(ow == v[3]);
  }
  CHECK_THROWS_AS(io::shortest_edge_size(0, 5), psalm::Error);
}

TEST_CASE("resize: normalize_image gives (3, PH, PW) (x - mean) / std with 128 padding",
          "[io][resize]") {
  const auto c = psalm::testing::load_json("image/cases.json").at("normalize");
  const Tensor<std::uint8_t> rgb = io::load_image(kDir / c.at("input").get<std::string>());
  const auto pad = c.at("pad").get<std::vector<std::int64_t>>();
  const Tensor<float> x = io::normalize_image(rgb, {}, pad[0], pad[1]);
  REQUIRE(x.shape() == Shape{3, pad[0], pad[1]});
  const auto v = x.to_vector();
  for (const auto& s : c.at("samples")) {
    const std::int64_t ch = s[0], y = s[1], xx = s[2];
    CHECK(v[static_cast<std::size_t>((ch * pad[0] + y) * pad[1] + xx)] == s[3].get<float>());
  }
  CHECK(io::normalize_image(rgb).shape() == Shape{3, 5, 7});
  CHECK_THROWS_AS(io::normalize_image(rgb, {}, 4, 7), psalm::Error);
  CHECK_THROWS_AS(io::normalize_image(Tensor<std::uint8_t>::zeros(Shape{2, 2, 4})), psalm::Error);
}
