// Tests for psalm/eval/video.hpp against the DAVIS 2017 toolkit's measures, recomputed by
// tools/reference/video_fixtures.py with skimage's disk and cv2.dilate as the toolkit uses them
// (tests/fixtures/video/cases.json), and hand-made cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/eval/video.hpp"
#include "support/fixtures.hpp"
#include "support/rle.hpp"
#include "support/tolerances.hpp"

namespace {

using psalm::eval::LabelView;
using psalm::eval::MaskView;
using psalm::eval::VideoEvaluator;
using psalm::eval::VideoProtocol;

constexpr double kTol = psalm::testing::tol::f64_atol;  // float64 against float64

using psalm::testing::decode_rle;

const nlohmann::json& fixtures() {
  static const nlohmann::json data = psalm::testing::load_json("video/cases.json");
  return data;
}

struct Sequence {
  std::vector<std::vector<std::int32_t>> pred, gt;
  std::vector<LabelView> pred_views, gt_views;
};

Sequence load_sequence(const nlohmann::json& s) {
  const auto h = s["height"].get<std::int64_t>(), w = s["width"].get<std::int64_t>();
  Sequence seq;
  for (std::size_t t = 0; t < s["gt_rle"].size(); ++t) {
    seq.gt.push_back(decode_rle<std::int32_t>(s["gt_rle"][t], static_cast<std::size_t>(h * w)));
    seq.pred.push_back(decode_rle<std::int32_t>(s["pred_rle"][t], static_cast<std::size_t>(h * w)));
  }
  for (std::size_t t = 0; t < seq.gt.size(); ++t) {
    seq.gt_views.push_back({seq.gt[t].data(), h, w});
    seq.pred_views.push_back({seq.pred[t].data(), h, w});
  }
  return seq;
}

}  // namespace

TEST_CASE("video: single-frame F and J match the toolkit's f_measure / db_eval_iou",
          "[eval][video]") {
  const auto& cases = fixtures()["f_cases"];
  REQUIRE(cases.size() == 175);
  for (const auto& c : cases) {
    const double th = c["bound_th"].get<double>();
    const auto p = psalm::testing::decode_pair(c);
    INFO(p.height << " x " << p.width << ", bound_th " << th);
    const MaskView pv{p.pred.data(), p.height, p.width}, gv{p.gt.data(), p.height, p.width};
    CHECK(psalm::eval::boundary_f_measure(pv, gv, th) ==
          Approx(c["f"].get<double>()).margin(kTol).epsilon(0));
    CHECK(psalm::eval::region_similarity(pv, gv) ==
          Approx(c["j"].get<double>()).margin(kTol).epsilon(0));
  }
}

TEST_CASE("video: mean, recall and 4-bin decay match the toolkit's db_statistics",
          "[eval][video]") {
  for (const auto& c : fixtures()["statistics_cases"]) {
    const auto values = c["values"].get<std::vector<double>>();
    INFO(values.size() << " frames");
    const auto s = psalm::eval::video_statistics(values);
    CHECK(s.mean == Approx(c["mean"].get<double>()).margin(kTol).epsilon(0));
    CHECK(s.recall == Approx(c["recall"].get<double>()).margin(kTol).epsilon(0));
    CHECK(s.decay == Approx(c["decay"].get<double>()).margin(kTol).epsilon(0));
  }
  CHECK_THROWS_WITH(psalm::eval::video_statistics(std::vector<double>{}),
                    Catch::Contains("no frame values"));
}

TEST_CASE("video: multi-object sequences match the toolkit per frame, per object and globally",
          "[eval][video]") {
  const auto& data = fixtures();
  VideoEvaluator ratio_eval;  // bound_th 0.008
  for (const auto& s : data["sequences"]) {
    const auto name = s["name"].get<std::string>();
    INFO("sequence " << name);
    const double th = s["bound_th"].get<double>();
    const Sequence seq = load_sequence(s);
    VideoProtocol protocol;
    protocol.bound_th = th;
    VideoEvaluator ev(protocol);
    ev.add_sequence(name, seq.pred_views, seq.gt_views);
    if (th < 1) ratio_eval.add_sequence(name, seq.pred_views, seq.gt_views);
    const auto& objs = ev.objects();
    REQUIRE(objs.size() == s["objects"].size());
    for (std::size_t k = 0; k < objs.size(); ++k) {
      const auto& e = s["objects"][k];
      INFO("object " << objs[k].object_id);
      CHECK(objs[k].sequence == name);
      CHECK(objs[k].object_id == e["object_id"].get<std::int64_t>());
      const auto j = e["j"].get<std::vector<double>>();
      const auto f = e["f"].get<std::vector<double>>();
      REQUIRE(objs[k].j.size() == j.size());
      REQUIRE(objs[k].f.size() == f.size());
      for (std::size_t t = 0; t < j.size(); ++t) {
        INFO("evaluated frame " << t);
        CHECK(objs[k].j[t] == Approx(j[t]).margin(kTol).epsilon(0));
        CHECK(objs[k].f[t] == Approx(f[t]).margin(kTol).epsilon(0));
      }
      CHECK(objs[k].j_stats.mean == Approx(e["j_mean"].get<double>()).margin(kTol).epsilon(0));
      CHECK(objs[k].j_stats.recall == Approx(e["j_recall"].get<double>()).margin(kTol).epsilon(0));
      CHECK(objs[k].j_stats.decay == Approx(e["j_decay"].get<double>()).margin(kTol).epsilon(0));
      CHECK(objs[k].f_stats.mean == Approx(e["f_mean"].get<double>()).margin(kTol).epsilon(0));
      CHECK(objs[k].f_stats.recall == Approx(e["f_recall"].get<double>()).margin(kTol).epsilon(0));
      CHECK(objs[k].f_stats.decay == Approx(e["f_decay"].get<double>()).margin(kTol).epsilon(0));
    }
  }
  const auto r = ratio_eval.result();
  const auto& g = data["global_ratio_sequences"];
  CHECK(r.jf_mean == Approx(g["jf_mean"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.j_mean == Approx(g["j_mean"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.j_recall == Approx(g["j_recall"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.j_decay == Approx(g["j_decay"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.f_mean == Approx(g["f_mean"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.f_recall == Approx(g["f_recall"].get<double>()).margin(kTol).epsilon(0));
  CHECK(r.f_decay == Approx(g["f_decay"].get<double>()).margin(kTol).epsilon(0));
  const std::string table = r.to_string();
  CHECK(table.find("J&F-Mean") != std::string::npos);
  CHECK(table.find("three-cars_3") != std::string::npos);
  CHECK(table.find("ceil(0.008 * image diagonal)") != std::string::npos);
}

TEST_CASE("video: seg2bmap and the matching radius by hand", "[eval][video]") {
  // A 2x2 square at the top-left of a 4x4 image: boundary where a pixel differs from its
  // east, south or south-east neighbour.
  const std::vector<std::uint8_t> m = {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const auto b = psalm::eval::seg2bmap(MaskView{m.data(), 4, 4});
  const std::vector<std::uint8_t> expected = {0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(b == expected);
  CHECK(psalm::eval::boundary_radius(480, 854, 0.008) == 8);  // ceil(7.837)
  CHECK(psalm::eval::boundary_radius(10, 10, 0.008) == 1);
  CHECK(psalm::eval::boundary_radius(10, 10, 3.0) == 3);
  CHECK_THROWS_WITH(psalm::eval::boundary_radius(10, 10, 2.5), Catch::Contains("whole number"));
  CHECK_THROWS_WITH(psalm::eval::boundary_radius(10, 10, 0.0), Catch::Contains("positive"));
  // Identical masks: F = 1; a one-pixel shift is within the radius of 1 on a 10x10 image.
  std::vector<std::uint8_t> a(100, 0), c(100, 0);
  for (int y = 3; y < 7; ++y)
    for (int x = 3; x < 7; ++x) a[static_cast<std::size_t>(y * 10 + x)] = 1;
  for (int y = 3; y < 7; ++y)
    for (int x = 4; x < 8; ++x) c[static_cast<std::size_t>(y * 10 + x)] = 1;
  CHECK(psalm::eval::boundary_f_measure(MaskView{a.data(), 10, 10}, MaskView{a.data(), 10, 10}) ==
        1.0);
  CHECK(psalm::eval::boundary_f_measure(MaskView{c.data(), 10, 10}, MaskView{a.data(), 10, 10}) ==
        1.0);
  CHECK(psalm::eval::boundary_f_measure(MaskView{c.data(), 10, 10}, MaskView{a.data(), 10, 10},
                                        0.001) == 1.0);  // ceil keeps the radius at 1
  CHECK(psalm::eval::region_similarity(MaskView{c.data(), 10, 10}, MaskView{a.data(), 10, 10}) ==
        Approx(12.0 / 20.0));
}

TEST_CASE("video: bad sequences are a psalm::Error that names the problem", "[eval][video]") {
  std::vector<std::int32_t> gt0 = {0, 1, 1, 2}, gt1 = {0, 1, 2, 2}, gt2 = {1, 1, 2, 2};
  std::vector<std::int32_t> p_ok = {0, 1, 2, 2}, p_bad = {0, 3, 2, 2}, small = {0, 1};
  const std::vector<LabelView> gt = {{gt0.data(), 2, 2}, {gt1.data(), 2, 2}, {gt2.data(), 2, 2}};
  VideoEvaluator ev;
  const std::vector<LabelView> bad_id = {
      {p_ok.data(), 2, 2}, {p_bad.data(), 2, 2}, {p_ok.data(), 2, 2}};
  CHECK_THROWS_WITH(ev.add_sequence("s", bad_id, gt),
                    Catch::Contains("uses object id 3 but the first annotation has objects 1..2"));
  const std::vector<LabelView> two = {{p_ok.data(), 2, 2}, {p_ok.data(), 2, 2}};
  CHECK_THROWS_WITH(ev.add_sequence("s", two, gt), Catch::Contains("2 predicted frames but 3"));
  const std::vector<LabelView> wrong_size = {
      {p_ok.data(), 2, 2}, {small.data(), 1, 2}, {p_ok.data(), 2, 2}};
  CHECK_THROWS_WITH(ev.add_sequence("s", wrong_size, gt),
                    Catch::Contains("predicted frame 1 is 1 x 2 but its annotation is 2 x 2"));
  const std::vector<LabelView> short_gt = {gt[0], gt[1]};
  CHECK_THROWS_WITH(ev.add_sequence("s", two, short_gt), Catch::Contains("at least 3"));
  CHECK(ev.objects().empty());
  // The first and last frames are not scored: a wrong prediction there changes nothing.
  const std::vector<LabelView> good = {
      {p_bad.data(), 2, 2}, {p_ok.data(), 2, 2}, {small.data(), 1, 2}};
  ev.add_sequence("s", good, gt);
  REQUIRE(ev.objects().size() == 2);
  CHECK(ev.objects()[0].j == std::vector<double>{1.0});
  CHECK(ev.result().j_mean == 1.0);
  CHECK(ev.result().jf_mean == 1.0);
  // A first frame without objects: any object id in a prediction says so (not "objects 1..0").
  std::vector<std::int32_t> empty0 = {0, 0, 0, 0};
  const std::vector<LabelView> no_objects = {{empty0.data(), 2, 2}, gt[1], gt[2]};
  CHECK_THROWS_WITH(ev.add_sequence("e", bad_id, no_objects),
                    Catch::Contains("uses object id 3 but the first annotation has no objects"));
  // Object ids beyond what any label PNG holds are refused before anything is allocated.
  std::vector<std::int32_t> huge0 = {0, 2000000000, 0, 0};
  const std::vector<LabelView> huge = {{huge0.data(), 2, 2}, gt[1], gt[2]};
  CHECK_THROWS_WITH(ev.add_sequence("h", good, huge), Catch::Contains("more than 65535 objects"));
}
