// Tests for psalm/eval/semantic.hpp against detectron2's SemSegEvaluator definitions
// (tests/fixtures/semantic/cases.json, written by tools/reference/semantic_fixtures.py, whose
// per-class IoU / accuracy are cross-checked there with torchmetrics) and hand-made cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/eval/semantic.hpp"
#include "support/fixtures.hpp"
#include "support/rle.hpp"
#include "support/tolerances.hpp"

namespace {

using psalm::eval::LabelView;
using psalm::eval::SemanticEvaluator;

constexpr double kTol = psalm::testing::tol::f64_atol;  // float64 against float64

nlohmann::json load_cases() { return psalm::testing::load_json("semantic/cases.json"); }

void check_value(const nlohmann::json& expected, double actual) {
  if (expected.is_null())
    CHECK(std::isnan(actual));
  else
    CHECK(actual == Approx(expected.get<double>()).margin(kTol).epsilon(0));
}

}  // namespace

TEST_CASE("semantic: confusion matrix and metrics match detectron2 SemSegEvaluator fixtures",
          "[eval][semantic]") {
  const auto cases = load_cases()["cases"];
  REQUIRE(cases.size() == 3);
  for (const auto& c : cases) {
    INFO("case " << c["name"].get<std::string>());
    const auto n = c["num_classes"].get<std::int64_t>();
    SemanticEvaluator ev(n, c["ignore_label"].get<std::int64_t>());
    for (const auto& img : c["images"]) {
      const auto p = psalm::testing::decode_pair<std::int32_t>(img);
      ev.add(LabelView{p.pred.data(), p.height, p.width},
             LabelView{p.gt.data(), p.height, p.width});
    }
    CHECK(ev.confusion() == c["confusion"].get<std::vector<std::int64_t>>());
    const auto r = ev.result();
    CHECK(r.images == static_cast<std::int64_t>(c["images"].size()));
    check_value(c["miou"], r.miou);
    check_value(c["fwiou"], r.fwiou);
    check_value(c["macc"], r.macc);
    check_value(c["pacc"], r.pacc);
    for (std::int64_t k = 0; k < n; ++k) {
      INFO("class " << k);
      check_value(c["iou"][static_cast<std::size_t>(k)], r.iou[static_cast<std::size_t>(k)]);
      check_value(c["acc"][static_cast<std::size_t>(k)], r.acc[static_cast<std::size_t>(k)]);
    }
  }
}

TEST_CASE("semantic: hand-computed 2x3 example, predicted-only class skipped, class N dropped",
          "[eval][semantic]") {
  // gt:   0 0 1 / 1 255 2     pred: 0 1 1 / 3 0 2     (3 classes, 3 = dropped, 255 ignored)
  const std::vector<std::int32_t> gt = {0, 0, 1, 1, 255, 2};
  const std::vector<std::int32_t> pred = {0, 1, 1, 3, 0, 2};
  SemanticEvaluator ev(3);
  ev.add(LabelView{pred.data(), 2, 3}, LabelView{gt.data(), 2, 3});
  // Counted pixels (pred < 3, gt not ignored): (0,0) (1,0) (1,1) (2,2); pixel (3,1) dropped.
  // class 0: tp 1, pos_gt 2, pos_pred 1 -> IoU 1/2, ACC 1/2
  // class 1: tp 1, pos_gt 1, pos_pred 2 -> IoU 1/2, ACC 1
  // class 2: tp 1, pos_gt 1, pos_pred 1 -> IoU 1,   ACC 1
  const auto r = ev.result();
  CHECK(r.iou[0] == Approx(0.5));
  CHECK(r.iou[1] == Approx(0.5));
  CHECK(r.iou[2] == Approx(1.0));
  CHECK(r.acc[0] == Approx(0.5));
  CHECK(r.miou == Approx(2.0 / 3.0));
  CHECK(r.macc == Approx(2.5 / 3.0));
  CHECK(r.pacc == Approx(3.0 / 4.0));
  CHECK(r.fwiou == Approx(0.5 * 0.5 + 0.5 * 0.25 + 1.0 * 0.25));
  CHECK(ev.confusion()[3 * 4 + 1] == 1);  // dropped row N, gt class 1
  CHECK(ev.confusion()[0 * 4 + 3] == 1);  // pred 0 on an ignored gt pixel

  // A class that is predicted but has no gt pixel has IoU NaN and does not lower the mean.
  SemanticEvaluator ev2(3);
  const std::vector<std::int32_t> g2 = {0, 0, 0, 0}, p2 = {0, 0, 2, 2};
  ev2.add(LabelView{p2.data(), 2, 2}, LabelView{g2.data(), 2, 2});
  const auto r2 = ev2.result();
  CHECK(std::isnan(r2.iou[2]));
  CHECK(std::isnan(r2.iou[1]));
  CHECK(r2.miou == Approx(0.5));
  CHECK(r2.to_string().find("mIoU 50.000") != std::string::npos);
}

TEST_CASE("semantic: bad input is a psalm::Error that names the problem", "[eval][semantic]") {
  SemanticEvaluator ev(4);
  const std::vector<std::int32_t> a = {0, 1, 2, 3, 0, 1}, b = {0, 1, 2, 3};
  CHECK_THROWS_WITH(ev.add(LabelView{a.data(), 2, 3}, LabelView{b.data(), 2, 2}),
                    Catch::Contains("prediction is 2 x 3 but ground truth is 2 x 2"));
  const std::vector<std::int32_t> bad_pred = {0, 5, 0, 0}, bad_gt = {0, 0, 7, 0};
  CHECK_THROWS_WITH(ev.add(LabelView{bad_pred.data(), 2, 2}, LabelView{b.data(), 2, 2}),
                    Catch::Contains("predicted class 5"));
  CHECK_THROWS_WITH(ev.add(LabelView{b.data(), 2, 2}, LabelView{bad_gt.data(), 2, 2}),
                    Catch::Contains("ground-truth class 7"));
  CHECK(ev.images() == 0);  // rejected images leave the matrix untouched
  CHECK(std::isnan(ev.result().miou));
  CHECK_THROWS_AS(SemanticEvaluator(0), psalm::Error);
  CHECK_THROWS_WITH(SemanticEvaluator(10, 3), Catch::Contains("collides"));
  CHECK(ev.describe_protocol().find("ignore label 255") != std::string::npos);
}
