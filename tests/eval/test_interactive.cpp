// Tests for psalm/eval/interactive.hpp against PSALM's region_segmentation.py rules per prompt
// type, recomputed by tools/reference/referring_fixtures.py (tests/fixtures/referring/cases.json,
// section "interactive"), and hand-made cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/eval/interactive.hpp"
#include "support/fixtures.hpp"
#include "support/rle.hpp"
#include "support/tolerances.hpp"

namespace {

using psalm::eval::InteractiveEvaluator;
using psalm::eval::MaskView;
using psalm::eval::PromptType;

constexpr double kTol = psalm::testing::tol::f64_atol;  // float64 against float64

}  // namespace

TEST_CASE("interactive: mIoU and cIoU per prompt type and pooled match PSALM's rules (fixtures)",
          "[eval][interactive]") {
  const auto sec = psalm::testing::load_json("referring/cases.json")["interactive"];
  InteractiveEvaluator ev;
  for (const auto& s : sec["samples"]) {
    const auto p = psalm::testing::decode_pair(s);
    ev.add(psalm::eval::parse_prompt_type(s["prompt"].get<std::string>()),
           MaskView{p.pred.data(), p.height, p.width}, MaskView{p.gt.data(), p.height, p.width});
  }
  const auto r = ev.result();
  for (const char* name : {"point", "scribble", "box", "mask"}) {
    INFO("prompt " << name);
    const auto& e = sec["per_type"][name];
    const auto& got = r.of(psalm::eval::parse_prompt_type(name));
    REQUIRE(e["samples"].get<std::int64_t>() > 0);
    CHECK(got.samples == e["samples"].get<std::int64_t>());
    CHECK(got.giou == Approx(e["miou"].get<double>()).margin(kTol).epsilon(0));
    CHECK(got.ciou == Approx(e["ciou"].get<double>()).margin(kTol).epsilon(0));
  }
  CHECK(r.overall.samples == sec["overall"]["samples"].get<std::int64_t>());
  CHECK(r.overall.giou == Approx(sec["overall"]["miou"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.overall.ciou == Approx(sec["overall"]["ciou"].get<double>()).margin(kTol).epsilon(0));
  const std::string table = r.to_string();
  CHECK(table.find("scribble") != std::string::npos);
  CHECK(table.find("overall") != std::string::npos);
}

TEST_CASE("interactive: prompt types are kept apart and pooled; names parse both ways",
          "[eval][interactive]") {
  const std::vector<std::uint8_t> full(4, 1), half = {1, 1, 0, 0}, empty(4, 0);
  InteractiveEvaluator ev;
  ev.add(PromptType::point, MaskView{full.data(), 2, 2}, MaskView{full.data(), 2, 2});  // 1
  ev.add(PromptType::box, MaskView{half.data(), 2, 2}, MaskView{full.data(), 2, 2});    // 0.5
  ev.add(PromptType::box, MaskView{empty.data(), 2, 2}, MaskView{empty.data(), 2, 2});  // 1
  const auto r = ev.result();
  CHECK(r.of(PromptType::point).giou == Approx(4.0 / (4.0 + 1e-5)));
  CHECK(r.of(PromptType::box).samples == 2);
  CHECK(r.of(PromptType::box).giou == Approx((2.0 / (4.0 + 1e-5) + 1.0) / 2.0));
  CHECK(r.of(PromptType::box).ciou == Approx(0.5));
  CHECK(r.of(PromptType::scribble).samples == 0);
  CHECK(std::isnan(r.of(PromptType::scribble).giou));
  CHECK(r.overall.samples == 3);
  CHECK(r.overall.ciou == Approx(6.0 / 8.0));
  CHECK(r.to_string().find("scribble") == std::string::npos);  // empty types are not listed
  for (auto t : {PromptType::point, PromptType::scribble, PromptType::box, PromptType::mask})
    CHECK(psalm::eval::parse_prompt_type(psalm::eval::to_string(t)) == t);
  CHECK_THROWS_WITH(psalm::eval::parse_prompt_type("lasso"), Catch::Contains("'lasso'"));
  const std::vector<std::uint8_t> odd(6, 1);
  CHECK_THROWS_WITH(
      ev.add(PromptType::mask, MaskView{odd.data(), 2, 3}, MaskView{full.data(), 2, 2}),
      Catch::Contains("prediction is 2 x 3"));
  CHECK(ev.describe_protocol().find("per prompt type") != std::string::npos);
}
