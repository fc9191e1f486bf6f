// Tests for psalm/eval/coco_instance.hpp: the 12 COCOeval 'segm' numbers, recall and precision
// arrays against pycocotools on tests/fixtures/coco_eval/*.json
// (tools/reference/coco_eval_fixtures.py), a hand-computed case, and malformed inputs.
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/eval/coco_instance.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

namespace {

using Json = nlohmann::json;

Json load_scenario(const std::string& name) {
  std::ifstream in(std::string(PSALM_TEST_FIXTURES_DIR) + "/coco_eval/" + name + ".json");
  REQUIRE(in.good());
  return Json::parse(in);
}

constexpr double kStatTol = 1e-12;  // same integer ratios; only the summation order differs

}  // namespace

TEST_CASE("coco_instance: 12 stats, recall and precision match pycocotools COCOeval segm",
          "[eval][coco]") {
  for (const std::string name : {"mixed", "perfect", "crowded"}) {
    INFO("scenario " << name);
    const Json s = load_scenario(name);
    const auto r = psalm::eval::evaluate_coco_instance(s["gt"], s["results"]);
    const auto stats = s["stats"].get<std::vector<double>>();
    REQUIRE(stats.size() == 12);
    for (int i = 0; i < 12; ++i) {
      INFO("stat " << i);
      CHECK(r.stats[i] == Approx(stats[i]).margin(kStatTol).epsilon(0));
    }
    const auto& recall = s["recall"];  // T x K x A x M
    REQUIRE(recall.size() == r.params.iou_thresholds.size());
    REQUIRE(recall[0].size() == r.category_ids.size());
    for (std::size_t t = 0; t < recall.size(); ++t)
      for (std::size_t k = 0; k < recall[t].size(); ++k)
        for (std::size_t a = 0; a < 4; ++a)
          for (std::size_t m = 0; m < 3; ++m)
            CHECK(r.recall_at(t, k, a, m) == recall[t][k][a][m].get<double>());
    const auto& precision = s["precision_all_100"];  // T x R x K at area all, maxDets 100
    for (std::size_t t = 0; t < precision.size(); ++t)
      for (std::size_t q = 0; q < precision[t].size(); ++q)
        for (std::size_t k = 0; k < precision[t][q].size(); ++k)
          CHECK(r.precision_at(t, q, k, 0, 2) == precision[t][q][k].get<double>());
  }
}

TEST_CASE("coco_instance: fixtures exercise crowd, undefined (-1) and all area ranges",
          "[eval][coco]") {
  // Guards that the fixtures keep covering what the comparison above is meant to check.
  const Json crowded = load_scenario("crowded");
  const Json mixed = load_scenario("mixed");
  int crowd = 0;
  for (const auto* s : {&crowded, &mixed})
    for (const auto& a : (*s)["gt"]["annotations"]) crowd += a["iscrowd"].get<int>();
  CHECK(crowd >= 2);
  const auto r = psalm::eval::evaluate_coco_instance(crowded["gt"], crowded["results"]);
  CHECK(r.stats[5] > 0);  // a large object exists
  CHECK(r.stats[3] > 0);  // a small one too
  const auto k5 =
      std::find(r.category_ids.begin(), r.category_ids.end(), 5) - r.category_ids.begin();
  CHECK(r.recall_at(0, k5, 0, 2) == -1.0);  // crowd-only category: undefined
  CHECK(crowded["results"].size() > 100);   // maxDets truncation is exercised
}

TEST_CASE("coco_instance: one detection at IoU 5/8 scores AP 0.3 by hand", "[eval][coco]") {
  // 8 x 8 image, gt = left 4 columns (32 px), detection = left 5 columns minus 3 px... built
  // so that intersection = 25, union = 40: IoU 0.625 passes thresholds .50, .55, .60 only.
  std::vector<std::uint8_t> g(64, 0), d(64, 0);
  for (int i = 0; i < 32; ++i) g[(i % 8) * 8 + i / 8] = 1;  // columns 0..3
  for (int i = 7; i < 40; ++i) d[(i % 8) * 8 + i / 8] = 1;  // column-major px 7..39
  psalm::eval::CocoGroundTruth gt;
  gt.images = {{1, 8, 8}};
  gt.category_ids = {1};
  gt.annotations = {{1, 1, 1, false, 32.0, psalm::eval::rle_from_mask({g.data(), 8, 8})}};
  std::vector<psalm::eval::CocoDetection> dts = {
      {1, 1, 0.9, psalm::eval::rle_from_mask({d.data(), 8, 8})}};
  REQUIRE(psalm::io::rle_iou(dts[0].segmentation, gt.annotations[0].segmentation, false) ==
          25.0 / 40.0);
  const auto r = psalm::eval::evaluate_coco_instance(gt, dts);
  CHECK(r.stats[0] == Approx(0.3).margin(tol::f64_ulps));
  CHECK(r.stats[1] == Approx(1.0).margin(tol::f64_ulps));  // tp / (tp + fp + eps) < 1, as upstream
  CHECK(r.stats[2] == 0.0);
  CHECK(r.stats[3] == Approx(0.3).margin(tol::f64_ulps));  // area 32 is small
  CHECK(r.stats[4] == -1.0);
  CHECK(r.stats[8] == Approx(0.3).margin(tol::f64_ulps));
  const std::string text = r.to_string();
  CHECK(text.find("maxDets: 1 10 100") != std::string::npos);
  CHECK(text.find("medium [1024, 9216]") != std::string::npos);
  CHECK(text.find("AP @[IoU=0.50 | area=all | maxDets=100] = 100.000") != std::string::npos);
}

TEST_CASE("coco_instance: thresholds equal numpy linspace values", "[eval][coco]") {
  const psalm::eval::CocoInstanceParams p;
  REQUIRE(p.iou_thresholds.size() == 10);
  REQUIRE(p.recall_thresholds.size() == 101);
  CHECK(p.iou_thresholds[5] == 0.75);
  CHECK(p.iou_thresholds[8] == 0.8999999999999999);       // linspace, not 8 * 0.05 + 0.5
  CHECK(p.recall_thresholds[35] == 0.35000000000000003);  // 35 * 0.01, not 0.35
  CHECK(p.recall_thresholds[3] == 0.03);
  CHECK(p.recall_thresholds[100] == 1.0);
}

TEST_CASE("coco_instance: malformed ground truth and results are errors", "[eval][coco]") {
  const Json s = load_scenario("perfect");
  using psalm::eval::evaluate_coco_instance;
  auto results = s["results"];
  results[0]["image_id"] = 12345;
  CHECK_THROWS_AS(evaluate_coco_instance(s["gt"], results), psalm::Error);
  results = s["results"];
  results[0]["segmentation"]["size"] = {3, 3};
  CHECK_THROWS_AS(evaluate_coco_instance(s["gt"], results), psalm::Error);
  results = s["results"];
  results[0].erase("score");
  CHECK_THROWS_AS(evaluate_coco_instance(s["gt"], results), psalm::Error);
  results = s["results"];
  results[0]["segmentation"]["counts"] = "0000";
  CHECK_THROWS_AS(evaluate_coco_instance(s["gt"], results), psalm::Error);
  auto gt = s["gt"];
  gt["annotations"][0].erase("area");
  CHECK_THROWS_AS(evaluate_coco_instance(gt, s["results"]), psalm::Error);
  gt = s["gt"];
  gt["annotations"][1]["id"] = gt["annotations"][0]["id"];
  CHECK_THROWS_AS(evaluate_coco_instance(gt, s["results"]), psalm::Error);
  gt = s["gt"];
  gt["annotations"][0]["segmentation"] = Json::array({Json::array({1, 2, 3, 4})});
  CHECK_THROWS_AS(evaluate_coco_instance(gt, s["results"]), psalm::Error);
  gt = s["gt"];
  gt["images"][1]["id"] = gt["images"][0]["id"];
  CHECK_THROWS_AS(evaluate_coco_instance(gt, s["results"]), psalm::Error);
  CHECK_THROWS_AS(evaluate_coco_instance(s["gt"], Json::object()), psalm::Error);
}
