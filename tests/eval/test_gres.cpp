// Tests for psalm/eval/gres.hpp against ReLA's ReferEvaluator rules, recomputed by
// tools/reference/referring_fixtures.py (tests/fixtures/referring/cases.json, section "gres"),
// and hand-computed cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/eval/gres.hpp"
#include "support/fixtures.hpp"
#include "support/rle.hpp"
#include "support/tolerances.hpp"

namespace {

using psalm::eval::GresEvaluator;
using psalm::eval::MaskView;

constexpr double kTol = psalm::testing::tol::f64_atol;  // float64 against float64

nlohmann::json load_section() { return psalm::testing::load_json("referring/cases.json")["gres"]; }

void check_against(const psalm::eval::GresResult& r, const nlohmann::json& e) {
  CHECK(r.nt_tp == e["counts"]["TP"].get<std::int64_t>());
  CHECK(r.nt_tn == e["counts"]["TN"].get<std::int64_t>());
  CHECK(r.nt_fp == e["counts"]["FP"].get<std::int64_t>());
  CHECK(r.nt_fn == e["counts"]["FN"].get<std::int64_t>());
  CHECK(r.sum_intersection == e["sum_intersection"].get<std::int64_t>());
  CHECK(r.sum_union == e["sum_union"].get<std::int64_t>());
  CHECK(r.giou == Approx(e["giou"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.ciou == Approx(e["ciou"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.n_acc == Approx(e["n_acc"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.t_acc == Approx(e["t_acc"].get<double>()).margin(kTol).epsilon(0));
  REQUIRE(r.precision.size() == 3);
  for (std::size_t t = 0; t < 3; ++t)
    CHECK(r.precision[t] == Approx(e["precision"][t].get<double>()).margin(kTol).epsilon(0));
}

}  // namespace

TEST_CASE("gres: cIoU, gIoU, N-acc, T-acc and Pr@0.7:0.9 match ReLA's evaluator (fixtures)",
          "[eval][gres]") {
  const auto sec = load_section();
  REQUIRE(sec["samples"].size() == 40);
  GresEvaluator explicit_flags, from_masks;
  for (const auto& s : sec["samples"]) {
    const auto p = psalm::testing::decode_pair(s);
    const MaskView pv{p.pred.data(), p.height, p.width}, gv{p.gt.data(), p.height, p.width};
    explicit_flags.add(pv, gv, s["pred_nt"].get<bool>(), s["gt_nt"].get<bool>());
    from_masks.add(pv, gv);
  }
  {
    INFO("no-target flags given by the model");
    check_against(explicit_flags.result(), sec["explicit_flags"]);
  }
  {
    INFO("no-target flags read off the masks");
    check_against(from_masks.result(), sec["flags_from_masks"]);
  }
}

TEST_CASE("gres: hand-computed no-target cases and ReLA's zero accuracies without no-target gt",
          "[eval][gres]") {
  GresEvaluator ev;
  ev.add_overlap({0, 0}, true, true);     // TP: gIoU += 1, nothing to cIoU
  ev.add_overlap({0, 7}, false, true);    // FN: cIoU union += 7
  ev.add_overlap({8, 10}, true, false);   // FP: I := 0, U = 10 kept
  ev.add_overlap({8, 10}, false, false);  // TN: IoU 0.8
  const auto r = ev.result();
  CHECK(r.giou == Approx((1.0 + 0.0 + 0.0 + 0.8) / 4.0));
  CHECK(r.ciou == Approx(8.0 / 27.0));
  CHECK(r.n_acc == Approx(0.5));
  CHECK(r.t_acc == Approx(0.5));
  CHECK(r.precision[0] == Approx(0.5));  // 0.8 >= 0.7 of 2 targeted samples
  CHECK(r.precision[1] == Approx(0.5));  // 0.8 >= 0.8 counts (>=)
  CHECK(r.precision[2] == Approx(0.0));
  CHECK(r.to_string().find("N-acc 50.000") != std::string::npos);

  GresEvaluator targeted_only;
  targeted_only.add_overlap({3, 4}, false, false);
  const auto t = targeted_only.result();
  CHECK(t.n_acc == 0.0);  // ReLA reports both as 0 when the set has no no-target sample
  CHECK(t.t_acc == 0.0);
  CHECK(t.giou == Approx(0.75));
  CHECK(targeted_only.describe_protocol().find("ReLA") != std::string::npos);
}

TEST_CASE("gres: bad input is a psalm::Error that names the problem", "[eval][gres]") {
  const std::vector<std::uint8_t> a = {0, 1, 0, 0}, b = {1, 0, 0, 0}, c(6, 0);
  GresEvaluator ev;
  CHECK_THROWS_WITH(ev.add(MaskView{a.data(), 2, 2}, MaskView{b.data(), 2, 2}, false, true),
                    Catch::Contains("marked no-target has 1 ground-truth foreground"));
  CHECK_THROWS_WITH(ev.add(MaskView{a.data(), 2, 2}, MaskView{c.data(), 2, 3}),
                    Catch::Contains("prediction is 2 x 2 but ground truth is 2 x 3"));
  CHECK_THROWS_WITH(ev.add_overlap({2, 1}, false, false), Catch::Contains("intersection 2"));
  CHECK_THROWS_WITH(GresEvaluator({0.5, -0.1}), Catch::Contains("threshold -0.1"));
  CHECK(ev.result().samples == 0);
}
