// Tests for psalm/io/image.hpp: decoding against Pillow (tools/reference/image_fixtures.py,
// fixtures in tests/fixtures/image/), PNG/JPEG saving, indexed and 16-bit label PNGs, masks,
// panoptic ids, and malformed files (tests/fixtures/malformed/image/manifest.json).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/io/image.hpp"
#include "psalm/tensor.hpp"
#include "support/error_of.hpp"
#include "support/fixtures.hpp"

using psalm::testing::error_of;

namespace {

using psalm::Shape;
using psalm::Tensor;
namespace io = psalm::io;
namespace fs = std::filesystem;

const fs::path kDir = fs::path(PSALM_TEST_FIXTURES_DIR) / "image";
const fs::path kBadDir = fs::path(PSALM_TEST_FIXTURES_DIR) / "malformed" / "image";

std::string fnv_hex(const std::uint8_t* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<std::uint8_t> file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::int64_t> dims(const Tensor<std::uint8_t>& t) {
  std::vector<std::int64_t> d;
  for (int i = 0; i < t.rank(); ++i) d.push_back(t.size(i));
  return d;
}

/// A scratch folder under the system temp dir, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("psalm_img_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("image: PNG, BMP, GIF decode bit-exactly like Pillow, with stb channel conversion",
          "[io][image]") {
  const auto cases = psalm::testing::load_json("image/cases.json");
  int checked = 0;
  for (const auto& c : cases.at("decode")) {
    if (!c.at("exact").get<bool>()) continue;
    const std::string file = c.at("file");
    INFO(file << " channels " << c.at("channels").get<int>());
    const Tensor<std::uint8_t> img =
        io::load_image(kDir / file, {.channels = c.at("channels").get<int>()});
    REQUIRE(dims(img) == c.at("shape").get<std::vector<std::int64_t>>());
    const Tensor<std::uint8_t> dense = img.contiguous();
    CHECK(fnv_hex(dense.data(), static_cast<std::size_t>(dense.numel())) ==
          c.at("fnv").get<std::string>());
    ++checked;
  }
  CHECK(checked >= 10);
}

TEST_CASE("image: JPEG decodes within 2 levels of libjpeg (Pillow)", "[io][image]") {
  const auto cases = psalm::testing::load_json("image/cases.json");
  int checked = 0;
  for (const auto& c : cases.at("decode")) {
    if (c.at("exact").get<bool>()) continue;
    const std::string file = c.at("file");
    INFO(file);
    const int channels = c.at("channels").get<int>();
    const Tensor<std::uint8_t> img = io::load_image(kDir / file, {.channels = channels});
    const Tensor<std::uint8_t> ref =
        io::load_image(kDir / c.at("reference").get<std::string>(), {.channels = channels});
    REQUIRE(dims(img) == c.at("shape").get<std::vector<std::int64_t>>());
    REQUIRE(img.shape() == ref.shape());
    const auto a = img.to_vector(), b = ref.to_vector();
    double total = 0;
    int worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const int d = std::abs(int{a[i]} - int{b[i]});
      total += d;
      worst = std::max(worst, d);
    }
    // stb's IDCT and chroma upsampling differ from libjpeg's in the last bits.
    CHECK(total / static_cast<double>(a.size()) < 1.0);
    CHECK(worst <= 8);
    ++checked;
  }
  CHECK(checked == 2);
}

TEST_CASE("image: probe_image reads the header without decoding", "[io][image]") {
  const auto bytes = file_bytes(kDir / "rgb_500x333.png");
  const io::ImageInfo info = io::probe_image(bytes);
  CHECK(info.width == 500);
  CHECK(info.height == 333);
  CHECK(info.channels == 3);
  CHECK_FALSE(info.is_16bit);
  CHECK(io::probe_image(file_bytes(kDir / "labels16_17x11.png")).is_16bit);
}

TEST_CASE("image: the pixel limit is checked before decoding", "[io][image]") {
  const auto bytes = file_bytes(kDir / "rgb_500x333.png");
  CHECK(io::decode_image(bytes, {.max_pixels = 500 * 333}).numel() == 500 * 333 * 3);
  const std::string msg =
      error_of([&] { io::decode_image(bytes, {.max_pixels = 500 * 333 - 1}, "x.png"); });
  CHECK_THAT(msg, Catch::Contains("x.png") && Catch::Contains("exceeds the limit of 166499"));
  CHECK_THAT(error_of([&] { io::decode_indexed_png(file_bytes(kDir / "davis_40x30.png"), 1199); }),
             Catch::Contains("exceeds the limit"));
  CHECK_THAT(error_of([&] { io::load_image(kDir / "rgb_37x23.png", {.max_file_bytes = 100}); }),
             Catch::Contains("exceeds the limit of 100 bytes"));
  CHECK_THAT(error_of([&] { io::decode_image(bytes, {.channels = 5}); }),
             Catch::Contains("5 channels"));
}

TEST_CASE("image: missing files and folders are named in the error", "[io][image]") {
  const fs::path missing = kDir / "no_such_image.png";
  CHECK_THAT(error_of([&] { io::load_image(missing); }),
             Catch::Contains(missing.string()) && Catch::Contains("not found"));
  CHECK_THAT(error_of([&] { io::load_indexed_png(missing); }), Catch::Contains("not found"));
  CHECK_THAT(error_of([&] { io::load_image(kDir); }), Catch::Contains("is a folder"));
}

TEST_CASE("image: malformed files fail with the expected psalm::Error naming the file",
          "[io][image]") {
  std::ifstream in(kBadDir / "manifest.json");
  REQUIRE(in.good());
  const auto manifest = nlohmann::json::parse(in);
  REQUIRE(manifest.size() >= 20);
  for (const auto& entry : manifest) {
    const std::string file = entry.at("file"), loader = entry.at("loader");
    const fs::path path = kBadDir / file;
    INFO(file << " via " << loader);
    const std::string msg = error_of([&] {
      if (loader == "image")
        io::load_image(path);
      else if (loader == "indexed")
        io::load_indexed_png(path);
      else if (loader == "label")
        io::load_label_png(path);
      else if (loader == "mask")
        io::load_binary_mask(path);
      else
        FAIL("unknown loader " << loader);
    });
    CHECK_THAT(msg, Catch::Contains(entry.at("expect").get<std::string>()));
    CHECK_THAT(msg, Catch::Contains(file));
  }
}

TEST_CASE("image: PNG round trip for gray, gray+alpha, RGB, RGBA, and rank-2 input",
          "[io][image]") {
  TempDir tmp;
  for (int c : {1, 2, 3, 4}) {
    INFO("channels " << c);
    const Tensor<std::uint8_t> src =
        psalm::cast<std::uint8_t>(Tensor<float>::rand(Shape{13, 17, c}, 7 + c) * 255.0f);
    const fs::path path = tmp.path / ("rt" + std::to_string(c) + ".png");
    io::save_png(path, src);
    const Tensor<std::uint8_t> back = io::load_image(path);
    REQUIRE(back.shape() == src.shape());
    CHECK(back.to_vector() == src.to_vector());
  }
  const Tensor<std::uint8_t> gray =
      psalm::cast<std::uint8_t>(Tensor<float>::rand(Shape{5, 6}, 3) * 255.0f);
  io::save_png(tmp.path / "g.png", gray);
  CHECK(io::load_image(tmp.path / "g.png").shape() == Shape{5, 6, 1});
  // A strided view is written as what it shows.
  const Tensor<std::uint8_t> wide =
      psalm::cast<std::uint8_t>(Tensor<float>::rand(Shape{6, 5, 3}, 9) * 255.0f);
  const Tensor<std::uint8_t> view = wide.transpose(0, 1);
  io::save_png(tmp.path / "t.png", view);
  CHECK(io::load_image(tmp.path / "t.png").to_vector() == view.contiguous().to_vector());
  CHECK_THAT(error_of([&] {
               io::encode_png(Tensor<std::uint8_t>::zeros(Shape{2, 2, 5}));
             }),
             Catch::Contains("1 to 4 channels"));
  CHECK_THAT(error_of([&] {
               io::encode_png(Tensor<std::uint8_t>::zeros(Shape{0, 2, 3}));
             }),
             Catch::Contains("cannot encode"));
}

TEST_CASE("image: save_png replaces a file atomically and leaves no temporary", "[io][image]") {
  TempDir tmp;
  const fs::path path = tmp.path / "out.png";
  io::save_png(path, Tensor<std::uint8_t>::full(Shape{4, 4, 3}, 10));
  io::save_png(path, Tensor<std::uint8_t>::full(Shape{2, 3, 1}, 200));
  CHECK(io::load_image(path).shape() == Shape{2, 3, 1});
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path)) ++files;
  CHECK(files == 1);
  // A failed encode leaves the existing file untouched.
  CHECK_THROWS_AS(io::save_png(path, Tensor<std::uint8_t>::zeros(Shape{2, 2, 7})), psalm::Error);
  CHECK(io::load_image(path).shape() == Shape{2, 3, 1});
}

TEST_CASE("image: JPEG save round trips within JPEG error and honours quality", "[io][image]") {
  TempDir tmp;
  const Tensor<std::uint8_t> src = io::load_image(kDir / "rgb_37x23.png");
  io::save_jpeg(tmp.path / "hi.jpg", src, 95);
  io::save_jpeg(tmp.path / "lo.jpg", src, 10);
  CHECK(fs::file_size(tmp.path / "lo.jpg") < fs::file_size(tmp.path / "hi.jpg"));
  const auto a = src.to_vector(), b = io::load_image(tmp.path / "hi.jpg").to_vector();
  REQUIRE(a.size() == b.size());
  double err = 0;
  for (std::size_t i = 0; i < a.size(); ++i) err += std::abs(int{a[i]} - int{b[i]});
  CHECK(err / static_cast<double>(a.size()) < 6.0);
  CHECK_THAT(error_of([&] { io::encode_jpeg(src, 0); }), Catch::Contains("quality 0"));
  CHECK_THAT(error_of([&] {
               io::encode_jpeg(Tensor<std::uint8_t>::zeros(Shape{2, 2, 4}));
             }),
             Catch::Contains("gray or RGB"));
}

TEST_CASE("image: indexed PNGs written by Pillow read back as raw indices and palette",
          "[io][image]") {
  const auto cases = psalm::testing::load_json("image/cases.json");
  for (const auto& c : cases.at("indexed")) {
    const std::string file = c.at("file");
    INFO(file);
    const io::IndexedImage img = io::load_indexed_png(kDir / file);
    REQUIRE(dims(img.indices) == c.at("shape").get<std::vector<std::int64_t>>());
    CHECK(fnv_hex(img.indices.data(), static_cast<std::size_t>(img.indices.numel())) ==
          c.at("fnv").get<std::string>());
    const auto palette = c.at("palette").get<std::vector<std::array<int, 3>>>();
    REQUIRE(img.palette.size() == palette.size());
    for (std::size_t i = 0; i < palette.size(); ++i)
      CHECK((std::array<int, 3>{img.palette[i][0], img.palette[i][1], img.palette[i][2]}) ==
            palette[i]);
  }
}

TEST_CASE("image: davis_palette is the PASCAL VOC colour map", "[io][image]") {
  const auto pal = io::davis_palette();
  REQUIRE(pal.size() == 256);
  // Known VOC colours: background, aeroplane, bicycle, person (15), void (255).
  CHECK(pal[0] == std::array<std::uint8_t, 3>{0, 0, 0});
  CHECK(pal[1] == std::array<std::uint8_t, 3>{128, 0, 0});
  CHECK(pal[2] == std::array<std::uint8_t, 3>{0, 128, 0});
  CHECK(pal[15] == std::array<std::uint8_t, 3>{192, 128, 128});
  CHECK(pal[255] == std::array<std::uint8_t, 3>{224, 224, 192});
  const auto head = psalm::testing::load_json("image/cases.json")
                        .at("davis_palette_head")
                        .get<std::vector<std::array<int, 3>>>();
  for (std::size_t i = 0; i < head.size(); ++i)
    CHECK((std::array<int, 3>{pal[i][0], pal[i][1], pal[i][2]}) == head[i]);
  CHECK_THROWS_AS(io::davis_palette(0), psalm::Error);
}

TEST_CASE("image: indexed PNG writer round trips and stb decodes it to palette colours",
          "[io][image]") {
  TempDir tmp;
  Tensor<std::uint8_t> idx(Shape{21, 34});
  for (std::int64_t i = 0; i < idx.numel(); ++i)
    idx.data()[i] = static_cast<std::uint8_t>((i * 7) % 5);
  idx.data()[3] = 255;
  const fs::path path = tmp.path / "davis.png";
  io::save_indexed_png(path, idx);
  const io::IndexedImage back = io::load_indexed_png(path);
  CHECK(back.indices.to_vector() == idx.to_vector());
  CHECK(back.palette == io::davis_palette());
  // An independent decoder (stb expands the palette) sees the palette colours.
  const Tensor<std::uint8_t> rgb = io::load_image(path, {.channels = 3});
  const auto pal = io::davis_palette();
  const auto px = rgb.to_vector();
  const auto ix = idx.to_vector();
  for (std::size_t i = 0; i < ix.size(); ++i)
    for (int k = 0; k < 3; ++k) REQUIRE(px[3 * i + k] == pal[ix[i]][k]);
  // A short custom palette; an index outside it is refused.
  const std::vector<std::array<std::uint8_t, 3>> small = {{1, 2, 3}, {4, 5, 6}};
  CHECK_THAT(error_of([&] { io::encode_indexed_png(idx, small); }),
             Catch::Contains("outside the palette of 2 entries"));
  const Tensor<std::uint8_t> bits =
      psalm::cast<std::uint8_t>(Tensor<float>::rand(Shape{3, 4}, 1) * 1.99f);
  io::save_indexed_png(tmp.path / "small.png", bits, small);
  CHECK(io::load_indexed_png(tmp.path / "small.png").palette == small);
}

TEST_CASE("image: label PNGs (16-bit, 8-bit, 1-bit, indexed) read as stored values",
          "[io][image]") {
  const auto cases = psalm::testing::load_json("image/cases.json");
  for (const auto& c : cases.at("labels")) {
    const std::string file = c.at("file");
    INFO(file);
    const Tensor<std::int32_t> labels = io::load_label_png(kDir / file);
    const auto shape = c.at("shape").get<std::vector<std::int64_t>>();
    REQUIRE(labels.shape() == Shape{shape[0], shape[1]});
    CHECK(labels.to_vector() == c.at("values").get<std::vector<std::int32_t>>());
  }
  const Tensor<std::int32_t> davis = io::load_label_png(kDir / "davis_40x30.png");
  const io::IndexedImage indexed = io::load_indexed_png(kDir / "davis_40x30.png");
  const auto v = indexed.indices.to_vector();
  CHECK(davis.to_vector() == std::vector<std::int32_t>(v.begin(), v.end()));
}

TEST_CASE("image: 16-bit label writer round trips and matches stb's 16-bit decoder",
          "[io][image]") {
  TempDir tmp;
  Tensor<std::int32_t> labels(Shape{9, 14});
  for (std::int64_t i = 0; i < labels.numel(); ++i)
    labels.data()[i] = static_cast<std::int32_t>((i * 4099) % 65536);
  labels.data()[0] = 65535;
  const fs::path path = tmp.path / "l16.png";
  io::save_label_png16(path, labels);
  CHECK(io::load_label_png(path).to_vector() == labels.to_vector());
  const auto bytes = file_bytes(path);
  int w = 0, h = 0, c = 0;
  stbi_us* px =
      stbi_load_16_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &c, 1);
  REQUIRE(px != nullptr);
  const auto want = labels.to_vector();
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(int{px[i]} == want[i]);
  stbi_image_free(px);
  CHECK_THAT(error_of([&] {
               io::encode_label_png16(Tensor<std::int32_t>::full(Shape{2, 2}, 70000));
             }),
             Catch::Contains("outside 0..65535"));
}

TEST_CASE("image: panoptic RGB ids decode as R + 256 G + 256^2 B and round trip", "[io][image]") {
  const auto c = psalm::testing::load_json("image/cases.json").at("panoptic").at(0);
  const Tensor<std::int32_t> ids =
      io::panoptic_ids_from_rgb(io::load_image(kDir / c.at("file").get<std::string>()));
  CHECK(ids.shape() == Shape{10, 12});
  CHECK(ids.to_vector() == c.at("ids").get<std::vector<std::int32_t>>());
  CHECK(io::panoptic_ids_to_rgb(ids).to_vector() ==
        io::load_image(kDir / c.at("file").get<std::string>()).to_vector());
  CHECK_THROWS_AS(io::panoptic_ids_to_rgb(Tensor<std::int32_t>::full(Shape{1, 1}, 1 << 24)),
                  psalm::Error);
}

TEST_CASE("image: binary masks read 0/255, 0/1 and 1-bit files as 0/1 and save as 0/255",
          "[io][image]") {
  const auto cases = psalm::testing::load_json("image/cases.json");
  const Tensor<std::uint8_t> m = io::load_binary_mask(kDir / "mask255_11x9.png");
  CHECK(m.shape() == Shape{9, 11});
  const auto want = cases.at("mask255").at("values").get<std::vector<int>>();
  const auto got = m.to_vector();
  CHECK(std::vector<int>(got.begin(), got.end()) == want);
  const Tensor<std::uint8_t> one = io::load_binary_mask(kDir / "mask1bit_19x7.png");
  const auto labels = io::load_label_png(kDir / "mask1bit_19x7.png").to_vector();
  const auto ones = one.to_vector();
  CHECK(std::vector<std::int32_t>(ones.begin(), ones.end()) == labels);
  TempDir tmp;
  io::save_binary_mask(tmp.path / "m.png", m);
  const auto raw = io::load_image(tmp.path / "m.png").to_vector();
  for (std::size_t i = 0; i < raw.size(); ++i) CHECK(int{raw[i]} == 255 * want[i]);
  CHECK(io::load_binary_mask(tmp.path / "m.png").to_vector() == m.to_vector());
  CHECK_THAT(error_of([&] {
               io::save_binary_mask(tmp.path / "x.png", Tensor<std::uint8_t>::full(Shape{2, 2}, 3));
             }),
             Catch::Contains("not 0 or 1"));
}
