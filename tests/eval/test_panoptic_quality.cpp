// Tests for psalm/eval/panoptic_quality.hpp against tests/fixtures/panoptic/pq_cases.json
// (panopticapi's pq_compute rules in tools/reference/panoptic_fixtures.py, cross-checked there
// with torchmetrics), a hand-computed scene, and the KeyError-style input errors.
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/eval/panoptic_quality.hpp"

namespace {

using Json = nlohmann::json;
using psalm::eval::LabelView;
using psalm::eval::PanopticQuality;
using psalm::eval::PanopticSegment;

const Json& pq_cases() {
  static const Json cases = [] {
    std::ifstream in(std::string(PSALM_TEST_FIXTURES_DIR) + "/panoptic/pq_cases.json");
    REQUIRE(in.good());
    return Json::parse(in);
  }();
  return cases;
}

std::vector<psalm::eval::PanopticCategory> categories() {
  std::vector<psalm::eval::PanopticCategory> out;
  for (const auto& c : pq_cases()["categories"])
    out.push_back({c["id"].get<std::int64_t>(), c["isthing"].get<int>() == 1, ""});
  return out;
}

std::vector<PanopticSegment> segments(const Json& list) {
  std::vector<PanopticSegment> out;
  for (const auto& s : list) {
    PanopticSegment seg{s["id"].get<std::int64_t>(), s["category_id"].get<std::int64_t>(),
                        s.value("iscrowd", 0) == 1, std::nullopt};
    if (s.contains("area")) seg.area = s["area"].get<std::int64_t>();
    out.push_back(seg);
  }
  return out;
}

constexpr double kTol = 1e-12;

}  // namespace

TEST_CASE("panoptic_quality: PQ / SQ / RQ match panopticapi rules on fixture scenes",
          "[eval][pq]") {
  for (const auto& scene : pq_cases()["scenes"]) {
    INFO("scene " << scene["name"]);
    PanopticQuality pq(categories());
    for (const auto& img : scene["images"]) {
      const auto gt = img["gt_ids"].get<std::vector<std::int32_t>>();
      const auto pred = img["pred_ids"].get<std::vector<std::int32_t>>();
      const auto h = img["h"].get<std::int64_t>(), w = img["w"].get<std::int64_t>();
      pq.add_image(img["image_id"].get<std::int64_t>(), LabelView{gt.data(), h, w},
                   segments(img["gt_segments"]), LabelView{pred.data(), h, w},
                   segments(img["pred_segments"]));
    }
    const auto r = pq.result();
    const auto& e = scene["expected"];
    for (const auto& [name, got] :
         {std::pair{"all", r.all}, std::pair{"things", r.things}, std::pair{"stuff", r.stuff}}) {
      INFO(name);
      CHECK(got.pq == Approx(e[name]["pq"].get<double>()).margin(kTol).epsilon(0));
      CHECK(got.sq == Approx(e[name]["sq"].get<double>()).margin(kTol).epsilon(0));
      CHECK(got.rq == Approx(e[name]["rq"].get<double>()).margin(kTol).epsilon(0));
      CHECK(got.n == e[name]["n"].get<std::int64_t>());
    }
    for (const auto& [cat, v] : e["per_class"].items()) {
      const std::int64_t id = std::stoll(cat);
      INFO("category " << id);
      CHECK(r.stats.at(id).tp == v["tp"].get<std::int64_t>());
      CHECK(r.stats.at(id).fp == v["fp"].get<std::int64_t>());
      CHECK(r.stats.at(id).fn == v["fn"].get<std::int64_t>());
      CHECK(r.stats.at(id).iou == Approx(v["iou"].get<double>()).margin(kTol).epsilon(0));
      CHECK(r.per_class.at(id).pq == Approx(v["pq"].get<double>()).margin(kTol).epsilon(0));
    }
  }
}

TEST_CASE("panoptic_quality: hand-computed scene with VOID and crowd", "[eval][pq]") {
  // 1 x 10 image. gt: [A A A A | B B B B | 0 0], A = thing cat 1, B = crowd of cat 1.
  // pred: [P P P 0 | Q Q Q Q | Q R] P cat 1, Q cat 1, R cat 2.
  const std::vector<std::int32_t> gt = {7, 7, 7, 7, 9, 9, 9, 9, 0, 0};
  const std::vector<std::int32_t> pred = {3, 3, 3, 0, 4, 4, 4, 4, 4, 5};
  PanopticQuality pq({{1, true, "a"}, {2, false, "b"}});
  pq.add_image(
      1, {gt.data(), 1, 10}, {{7, 1, false, 4}, {9, 1, true, 4}}, {pred.data(), 1, 10},
      {{3, 1, false, std::nullopt}, {4, 1, false, std::nullopt}, {5, 2, false, std::nullopt}});
  const auto r = pq.result();
  // P vs A: inter 3, union 3 + 4 - 3 - 0 = 4 -> IoU 0.75, TP.
  // Q: unmatched (B is crowd); 4 of 5 px on crowd + 1 on VOID -> ignored, not FP.
  // R: 1 px, all on VOID -> ignored. Category 2 has no tp/fp/fn: not averaged.
  CHECK(r.stats.at(1).tp == 1);
  CHECK(r.stats.at(1).fp == 0);
  CHECK(r.stats.at(1).fn == 0);
  CHECK(r.all.pq == 0.75);
  CHECK(r.all.n == 1);
  CHECK(r.things.sq == 0.75);
  CHECK(r.stuff.n == 0);
  CHECK(r.stuff.pq == 0.0);
  const std::string text = r.to_string();
  CHECK(text.find("IoU > 0.5") != std::string::npos);
  CHECK(text.find("75.000") != std::string::npos);
  CHECK(text.find("percent") != std::string::npos);
  CHECK(r.area_mismatches.empty());  // both JSON areas equal the pixels
}

TEST_CASE("panoptic_quality: a gt area that disagrees with its pixels is used and reported",
          "[eval][pq]") {
  // gt segment 7 covers 4 pixels but claims area 2: panopticapi's union is then
  // 4 + 2 - 4 = 2 for a perfect prediction, IoU 2 > 1. Segment 8 claims 3 pixels and has
  // none: an FN. PQ = 2 / (1 TP + 0.5 FN) = 133 %; psalm keeps that number (faithful to
  // panopticapi) and lists both segments.
  const std::vector<std::int32_t> gt = {7, 7, 7, 7, 0, 0};
  const std::vector<std::int32_t> pred = {3, 3, 3, 3, 0, 0};
  PanopticQuality pq({{1, true, "a"}});
  pq.add_image(5, {gt.data(), 1, 6}, {{7, 1, false, 2}, {8, 1, false, 3}}, {pred.data(), 1, 6},
               {{3, 1, false, std::nullopt}});
  const auto r = pq.result();
  CHECK(r.all.pq == Approx(2.0 / 1.5));
  REQUIRE(r.area_mismatches.size() == 2);
  CHECK(r.area_mismatches[0].image_id == 5);
  CHECK(r.area_mismatches[0].segment_id == 7);
  CHECK(r.area_mismatches[0].json_area == 2);
  CHECK(r.area_mismatches[0].pixels == 4);
  CHECK(r.area_mismatches[1].segment_id == 8);  // listed, absent from the PNG
  CHECK(r.area_mismatches[1].pixels == 0);
}

TEST_CASE("panoptic_quality: rgb_to_id is R + 256 G + 256^2 B", "[eval][pq]") {
  const std::vector<std::uint8_t> rgb = {1, 2, 3, 0, 0, 0, 255, 255, 255};
  const auto ids = psalm::eval::rgb_to_id(rgb.data(), 1, 3);
  CHECK(ids == std::vector<std::int32_t>{1 + 2 * 256 + 3 * 65536, 0, 16777215});
}

TEST_CASE("panoptic_quality: unknown and missing segment ids are errors", "[eval][pq]") {
  const std::vector<std::int32_t> gt = {7, 7, 0, 0};
  const std::vector<std::int32_t> pred = {3, 3, 4, 0};
  const std::vector<std::int32_t> bad = {3, 3, -4, 0};
  const std::vector<PanopticSegment> gts = {{7, 1, false, 2}};
  auto run = [&](const std::vector<std::int32_t>& p, std::vector<PanopticSegment> preds,
                 std::int64_t w = 4) {
    PanopticQuality pq({{1, true, "a"}, {2, false, "b"}});
    pq.add_image(1, {gt.data(), 1, 4}, gts, {p.data(), 1, w}, preds);
  };
  CHECK_NOTHROW(run(pred, {{3, 1, false, {}}, {4, 2, false, {}}}));
  CHECK_THROWS_AS(run(pred, {{3, 1, false, {}}}), psalm::Error);  // 4 in map, not in JSON
  CHECK_THROWS_AS(run(pred, {{3, 1, false, {}}, {4, 2, false, {}}, {6, 2, false, {}}}),
                  psalm::Error);  // 6 in JSON, not map
  CHECK_THROWS_AS(run(pred, {{3, 1, false, {}}, {4, 99, false, {}}}), psalm::Error);  // category
  CHECK_THROWS_AS(run(pred, {{3, 1, false, {}}, {3, 2, false, {}}, {4, 2, false, {}}}),
                  psalm::Error);                                 // duplicate id
  CHECK_THROWS_AS(run(bad, {{3, 1, false, {}}}), psalm::Error);  // negative id
  CHECK_THROWS_AS(run(pred, {{3, 1, false, {}}, {4, 2, false, {}}}, 2), psalm::Error);  // size
  CHECK_THROWS_AS(PanopticQuality({{1, true, "a"}, {1, false, "b"}}), psalm::Error);
}
