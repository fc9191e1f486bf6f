// Tests for psalm/eval/referring.hpp against PSALM's and LISA's evaluation rules, recomputed by
// tools/reference/referring_fixtures.py (tests/fixtures/referring/cases.json, section "referring"
// and "referring_ignore_255"), and hand-computed cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/eval/referring.hpp"
#include "support/fixtures.hpp"
#include "support/rle.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

namespace {

using psalm::eval::EmptyRule;
using psalm::eval::MaskView;
using psalm::eval::Overlap;
using psalm::eval::ReferringEvaluator;
using psalm::eval::ReferringProtocol;

constexpr double kTol = psalm::testing::tol::f64_atol;  // float64 against float64

const nlohmann::json& fixtures() {
  static const nlohmann::json data = psalm::testing::load_json("referring/cases.json");
  return data;
}

psalm::eval::ReferringResult run(const nlohmann::json& samples, ReferringProtocol protocol) {
  ReferringEvaluator ev(std::move(protocol));
  for (const auto& s : samples) {
    const auto p = psalm::testing::decode_pair(s);
    ev.add(MaskView{p.pred.data(), p.height, p.width}, MaskView{p.gt.data(), p.height, p.width});
  }
  return ev.result();
}

void check_against(const psalm::eval::ReferringResult& r, const nlohmann::json& e) {
  CHECK(r.sum_intersection == e["sum_intersection"].get<std::int64_t>());
  CHECK(r.sum_union == e["sum_union"].get<std::int64_t>());
  CHECK(r.empty_samples == e["empty_samples"].get<std::int64_t>());
  CHECK(r.ciou == Approx(e["ciou"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.giou == Approx(e["giou"].get<double>()).margin(kTol).epsilon(0));
  REQUIRE(r.precision.size() == e["precision"].size());
  for (std::size_t t = 0; t < r.precision.size(); ++t)
    CHECK(r.precision[t] == Approx(e["precision"][t].get<double>()).margin(kTol).epsilon(0));
}

}  // namespace

TEST_CASE("referring: cIoU, gIoU and Pr@0.5:0.9 match PSALM / LISA / exact rules from fixtures",
          "[eval][referring]") {
  const auto& sec = fixtures()["referring"];
  REQUIRE(sec["samples"].size() == 30);
  {
    INFO("psalm");
    check_against(run(sec["samples"], ReferringProtocol::psalm()), sec["psalm"]);
  }
  {
    INFO("lisa");
    check_against(run(sec["samples"], ReferringProtocol::lisa()), sec["lisa"]);
  }
  {
    INFO("exact");
    check_against(run(sec["samples"], ReferringProtocol::exact()), sec["exact"]);
  }
  {
    INFO("both empty counted as 0");
    auto p = ReferringProtocol::psalm();
    p.empty_rule = EmptyRule::count_as_zero;
    check_against(run(sec["samples"], p), sec["psalm_empty_zero"]);
  }
  {
    INFO("both empty skipped");
    auto p = ReferringProtocol::psalm();
    p.empty_rule = EmptyRule::skip;
    check_against(run(sec["samples"], p), sec["psalm_empty_skip"]);
  }
}

TEST_CASE("referring: gt pixels equal to the ignore byte 255 are left out (PSALM ignore_index)",
          "[eval][referring]") {
  const auto& sec = fixtures()["referring_ignore_255"];
  auto p = ReferringProtocol::psalm();
  p.gt_ignore_value = 255;
  check_against(run(sec["samples"], p), sec["psalm"]);
  // Without the ignore value the 255 pixels are foreground, and the numbers differ.
  const auto plain = run(sec["samples"], ReferringProtocol::psalm());
  CHECK(plain.sum_union != sec["psalm"]["sum_union"].get<std::int64_t>());
}

TEST_CASE("referring: hand-computed overlaps, epsilons and the exact-0.5 precision boundary",
          "[eval][referring]") {
  // pred: 1 1 0 0 / 0 0 0 0     gt: 1 0 0 0 / 1 0 0 0  -> I = 1, U = 3
  const std::vector<std::uint8_t> pred = {1, 1, 0, 0, 0, 0, 0, 0};
  const std::vector<std::uint8_t> gt = {1, 0, 0, 0, 255, 0, 0, 0};
  const Overlap o =
      psalm::eval::mask_overlap(MaskView{pred.data(), 2, 4}, MaskView{gt.data(), 2, 4});
  CHECK(o.intersection == 1);
  CHECK(o.union_area == 3);
  const Overlap oi =
      psalm::eval::mask_overlap(MaskView{pred.data(), 2, 4}, MaskView{gt.data(), 2, 4}, 255);
  CHECK(oi.union_area == 2);

  ReferringEvaluator ev;  // PSALM
  ev.add_overlap({5, 10});
  ev.add_overlap({0, 0});
  ev.add_overlap({9, 10});
  const auto r = ev.result();
  CHECK(r.giou ==
        Approx((5.0 / (10 + 1e-5) + 1.0 + 9.0 / (10 + 1e-5)) / 3.0).epsilon(tol::f64_short));
  CHECK(r.ciou == Approx(14.0 / (20.0 + 1e-10)).epsilon(tol::f64_short));
  // Pr@t uses the exact IoU: 0.5 counts at threshold 0.5 although 5 / (10 + 1e-5) < 0.5.
  CHECK(r.precision[0] == Approx(1.0));        // 0.5, 1, 0.9 >= 0.5
  CHECK(r.precision[4] == Approx(2.0 / 3.0));  // 1 and 0.9 >= 0.9
  CHECK(r.to_string().find("both empty 1") != std::string::npos);
  CHECK(ev.describe_protocol().find("count_as_one") != std::string::npos);

  ReferringEvaluator none(ReferringProtocol::exact());
  CHECK(std::isnan(none.result().giou));
  CHECK(std::isnan(none.result().ciou));
}

TEST_CASE("referring: bad input is a psalm::Error that names the problem", "[eval][referring]") {
  const std::vector<std::uint8_t> a(6, 1), b(4, 1);
  ReferringEvaluator ev;
  CHECK_THROWS_WITH(ev.add(MaskView{a.data(), 2, 3}, MaskView{b.data(), 2, 2}),
                    Catch::Contains("prediction is 2 x 3 but ground truth is 2 x 2"));
  CHECK_THROWS_WITH(ev.add_overlap({4, 3}), Catch::Contains("intersection 4"));
  CHECK_THROWS_WITH(ev.add(MaskView{nullptr, 2, 2}, MaskView{b.data(), 2, 2}),
                    Catch::Contains("null data"));
  auto p = ReferringProtocol::psalm();
  p.precision_thresholds = {1.5};
  CHECK_THROWS_WITH(ReferringEvaluator(p), Catch::Contains("threshold 1.5"));
  CHECK(ev.result().samples == 0);
}
