// Tests for psalm/io/rle.hpp against pycocotools fixtures written by
// tools/reference/rle_fixtures.py (tests/fixtures/rle/rle_cases.json), plus malformed-input checks.
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/io/rle.hpp"

namespace {

using psalm::io::Rle;
using Json = nlohmann::json;

const Json& rle_cases() {
  static const Json cases = [] {
    std::ifstream in(std::string(PSALM_TEST_FIXTURES_DIR) + "/rle/rle_cases.json");
    REQUIRE(in.good());
    return Json::parse(in);
  }();
  return cases;
}

std::vector<std::uint8_t> mask_bytes(const Json& m) {
  const auto& s = m["mask"].get_ref<const std::string&>();
  std::vector<std::uint8_t> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = s[i] == '1' ? 1 : 0;
  return out;
}

Rle fixture_rle(const Json& m) {
  return psalm::io::rle_from_string(m["counts"].get<std::string>(), m["h"].get<std::int64_t>(),
                                    m["w"].get<std::int64_t>());
}

}  // namespace

TEST_CASE("rle: encode matches pycocotools counts, string, area and bbox", "[io][rle]") {
  const auto& masks = rle_cases()["masks"];
  REQUIRE(masks.size() > 50);
  for (const auto& m : masks) {
    const auto h = m["h"].get<std::int64_t>(), w = m["w"].get<std::int64_t>();
    const auto bytes = mask_bytes(m);
    const Rle rle = psalm::io::rle_encode(bytes.data(), h, w);
    INFO("mask " << h << " x " << w << " counts " << m["counts"]);
    CHECK(rle.counts == m["ucounts"].get<std::vector<std::uint32_t>>());
    CHECK(psalm::io::rle_to_string(rle) == m["counts"].get<std::string>());
    CHECK(psalm::io::rle_area(rle) == m["area"].get<std::int64_t>());
    const auto box = psalm::io::rle_to_bbox(rle);
    const auto expected = m["bbox"].get<std::vector<double>>();
    for (int i = 0; i < 4; ++i) CHECK(box[i] == expected[i]);
  }
}

TEST_CASE("rle: compressed string and run list decode back to the pycocotools mask", "[io][rle]") {
  for (const auto& m : rle_cases()["masks"]) {
    const Rle from_string = fixture_rle(m);
    CHECK(from_string.counts == m["ucounts"].get<std::vector<std::uint32_t>>());
    CHECK(psalm::io::rle_decode(from_string) == mask_bytes(m));
    const Json uncompressed = {{"size", {m["h"], m["w"]}}, {"counts", m["ucounts"]}};
    CHECK(psalm::io::rle_from_json(uncompressed) == from_string);
    const Json compressed = psalm::io::rle_to_json(from_string);
    CHECK(compressed["counts"] == m["counts"]);
    CHECK(psalm::io::rle_from_json(compressed) == from_string);
    CHECK(psalm::io::rle_to_json(from_string, false)["counts"] == m["ucounts"]);
  }
}

TEST_CASE("rle: IoU matrices with crowd flags match pycocotools exactly", "[io][rle]") {
  const auto& masks = rle_cases()["masks"];
  std::vector<Rle> all;
  for (const auto& m : masks) all.push_back(fixture_rle(m));
  int checked = 0, crowd_nontrivial = 0;
  for (const auto& set : rle_cases()["ious"]) {
    std::vector<Rle> dts, gts;
    std::vector<bool> crowd;
    for (const auto& i : set["dt"]) dts.push_back(all[i.get<std::size_t>()]);
    for (const auto& i : set["gt"]) gts.push_back(all[i.get<std::size_t>()]);
    for (const auto& c : set["iscrowd"]) crowd.push_back(c.get<int>() != 0);
    const auto ious = psalm::io::rle_iou_matrix(dts, gts, crowd);
    for (std::size_t d = 0; d < dts.size(); ++d) {
      for (std::size_t g = 0; g < gts.size(); ++g) {
        const double expected = set["iou"][d][g].get<double>();
        CHECK(ious[d * gts.size() + g] == expected);  // same integer ratio, same rounding
        ++checked;
        if (crowd[g] && expected > 0 && expected < 1) ++crowd_nontrivial;
      }
    }
  }
  CHECK(checked > 200);
  CHECK(crowd_nontrivial > 5);
}

TEST_CASE("rle: union and intersection merges match pycocotools", "[io][rle]") {
  const auto& masks = rle_cases()["masks"];
  for (const auto& merge : rle_cases()["merges"]) {
    std::vector<Rle> parts;
    for (const auto& i : merge["masks"]) parts.push_back(fixture_rle(masks[i.get<std::size_t>()]));
    CHECK(psalm::io::rle_to_string(psalm::io::rle_merge(parts)) ==
          merge["union"].get<std::string>());
    CHECK(psalm::io::rle_to_string(psalm::io::rle_merge(parts, true)) ==
          merge["intersection"].get<std::string>());
  }
  CHECK(psalm::io::rle_merge({}) == Rle{});
}

TEST_CASE("rle: polygon rasterisation matches pycocotools frPyObjects bit for bit", "[io][rle]") {
  int polygons = 0;
  for (const auto& set : rle_cases()["polygons"]) {
    const auto h = set["h"].get<std::int64_t>(), w = set["w"].get<std::int64_t>();
    const auto polys = set["polygons"].get<std::vector<std::vector<double>>>();
    for (std::size_t i = 0; i < polys.size(); ++i, ++polygons) {
      INFO("polygon set " << set.dump());
      CHECK(psalm::io::rle_to_string(psalm::io::rle_from_polygon(polys[i], h, w)) ==
            set["each"][i].get<std::string>());
    }
    const Rle merged = psalm::io::rle_from_polygons(polys, h, w);
    CHECK(psalm::io::rle_to_string(merged) == set["merged"].get<std::string>());
    CHECK(psalm::io::rle_area(merged) == set["area"].get<std::int64_t>());
    const auto box = psalm::io::rle_to_bbox(merged);
    for (int i = 0; i < 4; ++i) CHECK(box[i] == set["bbox"][i].get<double>());
  }
  CHECK(polygons > 60);
}

TEST_CASE("rle: box rasterisation matches pycocotools frPyObjects", "[io][rle]") {
  for (const auto& b : rle_cases()["boxes"]) {
    const auto box = b["box"].get<std::vector<double>>();
    const Rle rle = psalm::io::rle_from_bbox(
        {box[0], box[1], box[2], box[3]}, b["h"].get<std::int64_t>(), b["w"].get<std::int64_t>());
    CHECK(psalm::io::rle_to_string(rle) == b["counts"].get<std::string>());
  }
}

TEST_CASE("rle: crowd IoU divides by the detection area", "[io][rle]") {
  // 4 x 4: detection = left two columns (8 px), ground truth = first column (4 px).
  std::vector<std::uint8_t> dt(16, 0), gt(16, 0);
  for (int y = 0; y < 4; ++y) {
    dt[y * 4 + 0] = dt[y * 4 + 1] = 1;
    gt[y * 4 + 0] = 1;
  }
  const Rle a = psalm::io::rle_encode(dt.data(), 4, 4), b = psalm::io::rle_encode(gt.data(), 4, 4);
  CHECK(psalm::io::rle_iou(a, b, false) == 0.5);
  CHECK(psalm::io::rle_iou(a, b, true) == 0.5);  // 4 / area(dt) = 4 / 8
  CHECK(psalm::io::rle_iou(b, a, true) == 1.0);  // 4 / area(dt) = 4 / 4
  CHECK(psalm::io::rle_iou(b, a, false) == 0.5);
}

TEST_CASE("rle: malformed counts strings and run lists are errors", "[io][rle]") {
  using psalm::io::rle_from_string;
  // "1" is one run of 1: too short for 2 x 2, fine for 1 x 1.
  CHECK(rle_from_string("1", 1, 1).counts == std::vector<std::uint32_t>{1});
  CHECK_THROWS_AS(rle_from_string("1", 2, 2), psalm::Error);
  CHECK_THROWS_AS(rle_from_string("14", 2, 2), psalm::Error);          // 1 + 4 > 4 pixels
  CHECK_THROWS_AS(rle_from_string("0\x7f", 2, 2), psalm::Error);       // char beyond 'o'
  CHECK_THROWS_AS(rle_from_string(" 4", 2, 2), psalm::Error);          // char below '0'
  CHECK_THROWS_AS(rle_from_string("P", 8, 8), psalm::Error);           // continuation, then end
  CHECK_THROWS_AS(rle_from_string("PPPPPPPPP0", 8, 8), psalm::Error);  // number too long
  CHECK_THROWS_AS(rle_from_string("O", 8, 8), psalm::Error);           // first run is -1
  CHECK_THROWS_AS(rle_from_string("002N", 2, 2), psalm::Error);        // 0 + delta -2 < 0
  CHECK_THROWS_AS(rle_from_string("4", -2, -2), psalm::Error);
  CHECK_THROWS_AS(rle_from_string("", 100000, 100000), psalm::Error);  // beyond uint32 pixels
  CHECK_THROWS_AS(psalm::io::rle_decode(Rle{2, 2, {1, 1}}), psalm::Error);
  CHECK_THROWS_AS(psalm::io::rle_from_json(Json{{"size", {2, 2}}, {"counts", {1, 2, 3}}}),
                  psalm::Error);
  CHECK_THROWS_AS(psalm::io::rle_from_json(Json{{"size", {2, 2}}, {"counts", {-1, 5}}}),
                  psalm::Error);
  CHECK_THROWS_AS(psalm::io::rle_from_json(Json{{"size", {2}}, {"counts", "4"}}), psalm::Error);
  CHECK_THROWS_AS(psalm::io::rle_from_json(Json{{"counts", "4"}}), psalm::Error);
  CHECK_THROWS_AS(psalm::io::rle_from_json(Json::array()), psalm::Error);
  CHECK_THROWS_AS(psalm::io::rle_iou(Rle{2, 2, {4}}, Rle{1, 4, {4}}, false), psalm::Error);
  CHECK_THROWS_AS(psalm::io::rle_merge({Rle{2, 2, {4}}, Rle{1, 4, {4}}}), psalm::Error);
}

TEST_CASE("rle: malformed polygons are errors", "[io][rle]") {
  using psalm::io::rle_from_polygon;
  CHECK_THROWS_AS(rle_from_polygon({}, 4, 4), psalm::Error);
  CHECK_THROWS_AS(rle_from_polygon({1, 2, 3}, 4, 4), psalm::Error);
  CHECK_THROWS_AS(rle_from_polygon({0, 0, 2, 0, 2, 2}, 0, 4), psalm::Error);
  CHECK_THROWS_AS(rle_from_polygon({0, 0, 2e9, 0, 2, 2}, 4, 4), psalm::Error);
  CHECK_THROWS_AS(rle_from_polygon({0, 0, std::nan(""), 0, 2, 2}, 4, 4), psalm::Error);
  // a single point is accepted (as pycocotools does) and gives an empty mask
  CHECK(psalm::io::rle_area(rle_from_polygon({1, 1}, 4, 4)) == 0);
}

TEST_CASE("rle: random masks round-trip through encode, string and decode", "[io][rle]") {
  std::uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(state >> 33);
  };
  for (int trial = 0; trial < 200; ++trial) {
    const std::int64_t h = 1 + next() % 50, w = 1 + next() % 50;
    const std::uint32_t density = next() % 100;
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(h * w));
    for (auto& p : mask) p = (next() % 100) < density ? 1 : 0;
    const Rle rle = psalm::io::rle_encode(mask.data(), h, w);
    const Rle back = psalm::io::rle_from_string(psalm::io::rle_to_string(rle), h, w);
    REQUIRE(back == rle);
    REQUIRE(psalm::io::rle_decode(back) == mask);
  }
}
