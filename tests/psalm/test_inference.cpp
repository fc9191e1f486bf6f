// Tests for psalm/psalm/inference/*.hpp (PSALM_SPEC §5): every task's post-processing against
// the official functions transcribed in PyTorch (tools/reference/psalm_postprocess_fixtures.py:
// panoptic with merged stuff / an overlap rejection / an empty confident query, nothing passing
// the threshold, instance in both modes, semantic in both modes, referring, gRES with and
// without an answer above 0.6, interactive with K = 0, VOS with a contested query and more
// objects than candidates); the Prediction-level entry points; the VOS memory; and each
// output fed to its evaluator (perfect predictions built from ground truth score 100).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "psalm/eval/coco_instance.hpp"
#include "psalm/eval/gres.hpp"
#include "psalm/eval/interactive.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/eval/referring.hpp"
#include "psalm/eval/semantic.hpp"
#include "psalm/eval/video.hpp"
#include "psalm/io/image.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/psalm/inference/gres.hpp"
#include "psalm/psalm/inference/instance.hpp"
#include "psalm/psalm/inference/interactive.hpp"
#include "psalm/psalm/inference/panoptic.hpp"
#include "psalm/psalm/inference/referring.hpp"
#include "psalm/psalm/inference/semantic.hpp"
#include "psalm/psalm/inference/video_objects.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

namespace {

// Letters: Q queries, C classes (background last), K regions, H0 W0 original image.

const std::vector<std::string> kCases = {"scene_a", "scene_b", "random_c", "crowd_d", "empty_e"};
// Every mask of empty_e is empty, so every referring / region score is 0: torch.topk's pick
// among equals is unspecified (not the lowest index), psalm's is the lowest index; the chosen
// masks agree (all empty), the indices need not.
bool all_scores_tie(const std::string& name) { return name == "empty_e"; }

struct Case {
  io::SafetensorsFile file;
  ImageGeometry geometry;
  Tensor<float> masks;  // (Q, H0, W0) torch's resize of the mask logits
  std::vector<eval::PanopticCategory> categories;

  explicit Case(const std::string& name)
      : file(io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) +
                                       "/psalm/postprocess/" + name + ".safetensors")) {
    const auto g = file.load<std::int64_t>("geometry").to_vector();
    geometry = {g[0], g[1], g[2], g[3], g[4], g[5]};
    masks = file.load<float>("masks_original");
    const auto thing = file.load<std::uint8_t>("is_thing").to_vector();
    for (std::size_t c = 0; c < thing.size(); ++c)  // dataset ids differ from class indices
      categories.push_back({static_cast<std::int64_t>(100 + 3 * c), thing[c] != 0, ""});
  }
  Tensor<float> f(const char* key) const { return file.load<float>(key); }
  std::vector<std::int64_t> ints(const char* key) const {
    return file.load<std::int64_t>(key).to_vector();
  }
};

template <class T>
std::vector<T> as_vector(const Tensor<T>& t) {
  return t.to_vector();
}

std::vector<std::uint8_t> binary_of(const Tensor<float>& masks, std::int64_t q) {
  return query_mask(masks, q).to_vector();
}

// The argmax labels may differ from torch's only where torch's two best scores are within a
// rounding error of each other.
void require_labels_match(const Tensor<std::int32_t>& got, const Tensor<std::int32_t>& want,
                          const Tensor<float>& want_scores) {
  REQUIRE(got.shape() == want.shape());
  const auto g = got.to_vector(), w = want.to_vector();
  const auto s = want_scores.contiguous().to_vector();
  const std::int64_t p = got.numel(), c = want_scores.size(0);
  std::int64_t near_ties = 0;
  for (std::int64_t i = 0; i < p; ++i) {
    if (g[i] == w[i]) continue;
    const float a = s[g[i] * p + i], b = s[w[i] * p + i];
    INFO("pixel " << i << ": label " << g[i] << " vs torch " << w[i] << " of " << c);
    REQUIRE(std::fabs(a - b) <= static_cast<float>(tol::f32_ulps) * std::fabs(b));
    ++near_ties;
  }
  CHECK(near_ties <= 2);
}

}  // namespace

TEST_CASE("inference: the fixtures' masks are postprocess_to_original of the decoder's logits",
          "[inference]") {
  for (const auto& name : kCases) {
    INFO(name);
    const Case c(name);
    testing::require_close(postprocess_to_original(c.f("mask_logits"), c.geometry), c.masks, 1e-5,
                           1e-5);
    testing::require_close(Tensor<float>::from_data(mask_scores(c.masks), Shape{c.masks.size(0)}),
                           c.f("mask_scores"), testing::tol::f32_sum_rtol,
                           testing::tol::f32_sum_atol);
  }
}

TEST_CASE("panoptic_inference: matches class_name_panoptic_inference", "[inference]") {
  for (const auto& name : kCases) {
    INFO(name);
    const Case c(name);
    const PanopticPrediction p = panoptic_inference(c.f("class_logits"), c.masks, c.categories);
    REQUIRE(as_vector(p.segment_ids) == as_vector(c.file.load<std::int32_t>("panoptic.ids")));
    const auto seg = c.ints("panoptic.segments");  // (S, 4): id, class, isthing, query
    REQUIRE(p.segments.size() * 4 == seg.size());
    for (std::size_t s = 0; s < p.segments.size(); ++s) {
      CHECK(p.segments[s].id == seg[4 * s]);
      CHECK(p.labels[s] == seg[4 * s + 1]);
      CHECK(p.segments[s].category_id == 100 + 3 * seg[4 * s + 1]);
      CHECK(p.isthing[s] == (seg[4 * s + 2] != 0));
      CHECK(p.queries[s] == seg[4 * s + 3]);
      CHECK_FALSE(p.segments[s].iscrowd);
      std::int64_t area = 0;
      for (std::int32_t v : as_vector(p.segment_ids)) area += v == p.segments[s].id;
      CHECK(p.segments[s].area == area);
    }
  }
  // scene_a exercises each branch: stuff merged, a rejected overlap, an empty confident query.
  const Case a("scene_a");
  const PanopticPrediction p = panoptic_inference(a.f("class_logits"), a.masks, a.categories);
  CHECK(p.segments.size() == 3);
  // scene_b: no query passes 0.8: an all-void map and no segment.
  const Case b("scene_b");
  const PanopticPrediction none = panoptic_inference(b.f("class_logits"), b.masks, b.categories);
  CHECK(none.segments.empty());
  for (std::int32_t v : as_vector(none.segment_ids)) REQUIRE(v == 0);
}

TEST_CASE("instance_inference: matches class_name_instance_inference (plain and panoptic mode)",
          "[inference]") {
  for (const auto& name : kCases) {
    for (const bool things : {false, true}) {
      INFO(name << (things ? " things only" : ""));
      const Case c(name);
      const std::string k = things ? "instance_things." : "instance.";
      const InstancePrediction r = instance_inference(c.f("class_logits"), c.masks, c.categories,
                                                      {.things_only = things, .image_id = 7});
      const auto queries = c.ints((k + "queries").c_str());
      const auto labels = c.ints((k + "labels").c_str());
      const auto scores = c.f((k + "scores").c_str()).to_vector();
      REQUIRE(r.queries == queries);
      REQUIRE(r.labels == labels);
      REQUIRE(r.detections.size() == queries.size());
      for (std::size_t i = 0; i < queries.size(); ++i) {
        const auto& d = r.detections[i];
        CHECK(d.image_id == 7);
        CHECK(d.category_id == 100 + 3 * labels[i]);
        CHECK(d.score == Approx(scores[i]).epsilon(tol::f32_sum_rtol).margin(tol::f32_atol));
        REQUIRE(io::rle_decode(d.segmentation).size() ==
                std::size_t(c.masks.size(1) * c.masks.size(2)));
        // RLE holds the mask column-major; compare through a re-encoding of the row-major mask.
        CHECK(d.segmentation == io::rle_encode(binary_of(c.masks, queries[i]).data(),
                                               c.masks.size(1), c.masks.size(2)));
      }
    }
  }
  // top_k and identity category ids.
  const Case a("scene_a");
  const InstancePrediction r = instance_inference(a.f("class_logits"), a.masks, {}, {.top_k = 3});
  REQUIRE(r.detections.size() == 3);
  CHECK(r.detections[0].category_id == r.labels[0]);
  const auto all = a.ints("instance.queries");
  CHECK(r.queries == std::vector<std::int64_t>(all.begin(), all.begin() + 3));
  CHECK_THROWS_AS(instance_inference(a.f("class_logits"), a.masks, {}, {.things_only = true}),
                  Error);
}

TEST_CASE("semantic_inference: matches class_name_semantic_inference in both modes",
          "[inference]") {
  for (const auto& name : kCases) {
    INFO(name);
    const Case c(name);
    for (const bool original : {false, true}) {
      INFO((original ? "at the original size" : "at the padded size"));
      const std::string k = original ? "semantic_original." : "semantic.";
      const SemanticPrediction s = semantic_inference(c.f("class_logits"), c.f("mask_logits"),
                                                      c.geometry, {.at_original_size = original});
      const Tensor<float> want = c.f((k + "scores").c_str());
      testing::require_close(s.scores, want, 1e-5, 1e-5);
      require_labels_match(s.labels, c.file.load<std::int32_t>((k + "labels").c_str()), want);
    }
  }
  // A class subset written into a dataset of 9 classes: labels are the mapped ids.
  const Case a("scene_a");
  SemanticOptions ov;
  ov.class_ids = {8, 2, 5, 0, 3};
  ov.num_classes = 9;
  const SemanticPrediction plain =
      semantic_inference(a.f("class_logits"), a.f("mask_logits"), a.geometry);
  const SemanticPrediction mapped =
      semantic_inference(a.f("class_logits"), a.f("mask_logits"), a.geometry, ov);
  REQUIRE(mapped.scores.shape() == Shape{9, a.geometry.original_height, a.geometry.original_width});
  const auto pl = as_vector(plain.labels), ml = as_vector(mapped.labels);
  for (std::size_t i = 0; i < pl.size(); ++i) REQUIRE(ml[i] == ov.class_ids[pl[i]]);
  ov.class_ids = {8, 2, 5, 0, 9};
  CHECK_THROWS_AS(semantic_inference(a.f("class_logits"), a.f("mask_logits"), a.geometry, ov),
                  Error);
}

TEST_CASE("referring / gres inference: top-1, and the 0.6 union with or without no-target",
          "[inference]") {
  for (const auto& name : kCases) {
    INFO(name);
    const Case c(name);
    const Tensor<float> seg = c.f("seg_logits");  // (Q, 1)
    testing::require_close(
        Tensor<float>::from_data(referring_scores(seg, c.masks), Shape{c.masks.size(0)}),
        c.f("referring.scores"), testing::tol::f32_sum_rtol, testing::tol::f32_sum_atol);
    const MaskPrediction r = referring_inference(seg, c.masks);
    if (!all_scores_tie(name)) CHECK(r.query == c.ints("referring.query")[0]);
    CHECK(as_vector(r.mask) == binary_of(c.masks, c.ints("referring.query")[0]));

    const auto picked = c.ints("gres.picked");
    const auto official_mask = as_vector(c.file.load<std::uint8_t>("gres.mask"));
    const GresPrediction off = gres_inference(seg, c.masks, GresOptions::official());
    CHECK_FALSE(off.no_target);
    CHECK(as_vector(off.mask) == official_mask);
    if (!picked.empty())
      CHECK(off.queries == picked);
    else
      CHECK(off.queries == std::vector<std::int64_t>{r.query});  // the top-1 fallback

    const GresPrediction nt = gres_inference(seg, c.masks, GresOptions::with_no_target());
    CHECK(nt.no_target == picked.empty());
    if (picked.empty()) {
      CHECK(nt.queries.empty());
      for (std::uint8_t v : as_vector(nt.mask)) REQUIRE(v == 0);
    } else {
      CHECK(as_vector(nt.mask) == official_mask);
    }
  }
  // scene_b is the no-target case: nothing passes 0.6.
  CHECK(Case("scene_b").ints("gres.picked").empty());
  CHECK(Case("random_c").ints("gres.picked").size() > 1);
}

TEST_CASE("interactive_inference: matches region_inference + argmax per region", "[inference]") {
  for (const auto& name : kCases) {
    INFO(name);
    const Case c(name);
    const Tensor<float> region = c.f("region_logits");  // (K, Q), K = 0 in scene_b
    testing::require_close(region_scores(region, c.masks), c.f("region.scores"),
                           testing::tol::f32_sum_rtol, testing::tol::f32_sum_atol);
    const std::vector<MaskPrediction> r = interactive_inference(region, c.masks);
    const auto picks = c.ints("region.picks");
    REQUIRE(r.size() == picks.size());
    for (std::size_t k = 0; k < r.size(); ++k) {
      CHECK(r[k].query == picks[k]);
      CHECK(as_vector(r[k].mask) == binary_of(c.masks, picks[k]));
    }
  }
  // empty_e: every mask is empty: empty answers with score 0.
  const Case e("empty_e");
  for (const MaskPrediction& r : interactive_inference(e.f("region_logits"), e.masks)) {
    CHECK(r.score == 0.0f);
    for (std::uint8_t v : as_vector(r.mask)) REQUIRE(v == 0);
  }
}

TEST_CASE("video_frame_inference: matches eval_davis's pick, painting and memory rule",
          "[inference]") {
  for (const auto& name : kCases) {
    INFO(name);
    const Case c(name);
    if (!c.file.contains("vos.picks")) continue;
    const auto fill = c.ints("vos.fill");
    const std::vector<std::int32_t> ids(fill.begin(), fill.end());
    const VideoFramePrediction f = video_frame_inference(c.f("region_logits"), c.masks, ids);
    if (!all_scores_tie(name)) CHECK(f.queries == c.ints("vos.picks"));
    CHECK(as_vector(f.index_map) == as_vector(c.file.load<std::int32_t>("vos.index_map")));
    CHECK(f.consistent == (c.ints("vos.memory_ok")[0] != 0));
    for (std::size_t k = 0; k < f.queries.size(); ++k)
      CHECK(as_vector(f.masks[k]) == binary_of(c.masks, f.queries[k]));
  }
  // scene_a: regions 0 and 1 both prefer query 2; the second object takes its next best.
  const auto a = Case("scene_a").ints("vos.picks");
  CHECK(a[0] == 2);
  CHECK(a[1] != 2);
  // crowd_d: 11 objects, 10 candidates: the last keeps the previous object's pick.
  const auto d = Case("crowd_d").ints("vos.picks");
  CHECK(d[10] == d[9]);
}

TEST_CASE("inference from a Prediction: sample b, resized with its geometry", "[inference]") {
  const Case c("scene_a");
  const Tensor<float> low = c.f("mask_logits");  // (Q, m, m)
  const std::int64_t q = low.size(0), m = low.size(1);
  models::mask2former::Prediction<float> pred;
  Tensor<float> masks = Tensor<float>::zeros(Shape{2, q, m, m});  // (2, Q, m, m): sample 1 = case
  masks.select(0, 1).assign(low);
  Tensor<float> cls = Tensor<float>::zeros(Shape{2, q, c.f("class_logits").size(1)});  // (2, Q, C)
  cls.select(0, 1).assign(c.f("class_logits"));
  Tensor<float> seg = Tensor<float>::zeros(Shape{2, q, 1});  // (2, Q, 1)
  seg.select(0, 1).assign(c.f("seg_logits"));
  pred.masks = nn::Var<float>(masks);
  pred.class_logits = nn::Var<float>(cls);
  pred.seg_logits = nn::Var<float>(seg);
  pred.region_logits = {nn::Var<float>(Tensor<float>::zeros(Shape{0, q})),
                        nn::Var<float>(c.f("region_logits"))};
  const SampleOutputs s = sample_outputs(pred, 1);
  REQUIRE(s.seg_logits.shape() == Shape{q});
  const Tensor<float> back = masks_at_original(s, c.geometry);  // (Q, H0, W0)
  testing::require_close(back, c.masks, 1e-5, 1e-5);

  CHECK(as_vector(panoptic_inference(s, c.geometry, c.categories).segment_ids) ==
        as_vector(panoptic_inference(c.f("class_logits"), back, c.categories).segment_ids));
  CHECK(instance_inference(s, c.geometry, c.categories).queries ==
        instance_inference(c.f("class_logits"), back, c.categories).queries);
  CHECK(as_vector(semantic_inference(s, c.geometry).labels) ==
        as_vector(semantic_inference(c.f("class_logits"), low, c.geometry).labels));
  CHECK(referring_inference(s, c.geometry).query ==
        referring_inference(c.f("seg_logits"), back).query);
  CHECK(gres_inference(s, c.geometry).queries == gres_inference(c.f("seg_logits"), back).queries);
  CHECK(interactive_inference(s, c.geometry).size() == 3);
  CHECK_THROWS_AS(sample_outputs(pred, 2), Error);
  const SampleOutputs s0 = sample_outputs(pred, 0);
  CHECK(interactive_inference(s0, c.geometry).empty());
  models::mask2former::Prediction<float> bare;
  bare.masks = pred.masks;
  const SampleOutputs none = sample_outputs(bare, 0);
  CHECK_THROWS_AS(panoptic_inference(none, c.geometry, c.categories), Error);
  CHECK_THROWS_AS(referring_inference(none, c.geometry), Error);
  CHECK_THROWS_AS(interactive_inference(none, c.geometry), Error);
}

TEST_CASE("inference: bad shapes are clear errors", "[inference]") {
  const Case c("scene_a");
  const Tensor<float> cls = c.f("class_logits");
  CHECK_THROWS_AS(panoptic_inference(cls, c.masks, {c.categories.data(), 3}), Error);
  CHECK_THROWS_AS(panoptic_inference(cls.slice(0, 0, 3), c.masks, c.categories), Error);
  CHECK_THROWS_AS(panoptic_inference(cls, c.masks.view({-1}), c.categories), Error);
  CHECK_THROWS_AS(semantic_scores(cls.slice(1, 0, 1), c.masks), Error);
  CHECK_THROWS_AS(referring_scores(Tensor<float>::zeros(Shape{3}), c.masks), Error);
  CHECK_THROWS_AS(region_scores(Tensor<float>::zeros(Shape{2, 3}), c.masks), Error);
  CHECK_THROWS_AS(
      video_frame_inference(c.f("region_logits"), c.masks, std::vector<std::int32_t>{1}), Error);
  CHECK_THROWS_AS(select_object_queries(Tensor<float>::zeros(Shape{2, 3}), 0), Error);
}

// ---------------------------------------------------------------------------------------------
// Perfect predictions built from ground truth score 100 on each evaluator.

namespace {

constexpr std::int64_t kH = 30, kW = 41;

// Mask logits at the original size: +8 inside the mask, -8 outside.
Tensor<float> logits_of(const std::vector<std::vector<std::uint8_t>>& masks) {
  Tensor<float> out(Shape{static_cast<std::int64_t>(masks.size()), kH, kW});  // (Q, H0, W0)
  for (std::size_t q = 0; q < masks.size(); ++q)
    for (std::int64_t i = 0; i < kH * kW; ++i)
      out.data()[q * kH * kW + i] = masks[q][i] ? 8.0f : -8.0f;
  return out;
}

std::vector<std::uint8_t> rect(std::int64_t y0, std::int64_t y1, std::int64_t x0, std::int64_t x1) {
  std::vector<std::uint8_t> m(kH * kW, 0);
  for (std::int64_t y = y0; y < y1; ++y)
    for (std::int64_t x = x0; x < x1; ++x) m[y * kW + x] = 1;
  return m;
}

eval::MaskView view_of(const std::vector<std::uint8_t>& m) { return {m.data(), kH, kW}; }

}  // namespace

TEST_CASE("inference -> evaluators: perfect panoptic, instance and semantic predictions score 100",
          "[inference][eval]") {
  // Classes: 0 thing "cube", 1 thing "ball", 2 stuff "sky", 3 stuff "grass"; background last.
  const std::vector<eval::PanopticCategory> cats = {
      {11, true, "cube"}, {12, true, "ball"}, {21, false, "sky"}, {22, false, "grass"}};
  // Ground truth: sky on top, grass below, two cubes and a ball.
  const auto sky = rect(0, 12, 0, kW), grass = rect(12, kH, 0, kW);
  const auto cube1 = rect(14, 20, 2, 9), cube2 = rect(20, 28, 20, 30), ball = rect(3, 9, 25, 33);
  std::vector<std::int32_t> gt_ids(kH * kW), gt_sem(kH * kW);
  for (std::int64_t i = 0; i < kH * kW; ++i) {
    gt_ids[i] = sky[i] ? 1 : 2;
    gt_sem[i] = sky[i] ? 2 : 3;
    if (cube1[i]) gt_ids[i] = 3, gt_sem[i] = 0;
    if (cube2[i]) gt_ids[i] = 4, gt_sem[i] = 0;
    if (ball[i]) gt_ids[i] = 5, gt_sem[i] = 1;
  }
  const std::vector<eval::PanopticSegment> gt_segments = {{1, 21, false, {}},
                                                          {2, 22, false, {}},
                                                          {3, 11, false, {}},
                                                          {4, 11, false, {}},
                                                          {5, 12, false, {}}};
  // Queries: the grass split in two (stuff merges back), sky, three things, two background.
  auto minus = [](std::vector<std::uint8_t> a, const std::vector<std::vector<std::uint8_t>>& bs) {
    for (const auto& b : bs)
      for (std::size_t i = 0; i < a.size(); ++i) a[i] &= !b[i];
    return a;
  };
  auto part = [](std::vector<std::uint8_t> a, bool left) {
    for (std::int64_t i = 0; i < kH * kW; ++i) a[i] &= ((i % kW) < kW / 2) == left;
    return a;
  };
  const auto sky_only = minus(sky, {ball});
  const auto grass_only = minus(grass, {cube1, cube2});
  const std::vector<std::vector<std::uint8_t>> qmasks = {part(grass_only, true),
                                                         cube1,
                                                         sky_only,
                                                         ball,
                                                         part(grass_only, false),
                                                         cube2,
                                                         std::vector<std::uint8_t>(kH * kW, 0),
                                                         rect(0, 5, 0, 5)};
  const std::vector<std::int64_t> qlabel = {3, 0, 2, 1, 3, 0, 4, 4};  // 4 = background
  Tensor<float> cls = Tensor<float>::full(Shape{8, 5}, -6.0f);        // (Q, C)
  for (std::int64_t q = 0; q < 8; ++q) cls.data()[q * 5 + qlabel[q]] = 6.0f;
  const Tensor<float> masks = logits_of(qmasks);  // (Q, H0, W0)

  // Panoptic quality.
  const PanopticPrediction pan = panoptic_inference(cls, masks, cats);
  REQUIRE(pan.segments.size() == 5);  // grass merged
  eval::PanopticQuality pq(cats);
  pq.add_image(1, {gt_ids.data(), kH, kW}, gt_segments, pan.view(), pan.segments);
  const auto pqr = pq.result();
  CHECK(pqr.all.pq == Approx(1.0));
  CHECK(pqr.things.pq == Approx(1.0));
  CHECK(pqr.stuff.pq == Approx(1.0));
  // ... and the COCO panoptic PNG (id = R + 256 G + 256^2 B) holds the same map.
  CHECK(as_vector(io::panoptic_ids_from_rgb(io::panoptic_ids_to_rgb(pan.segment_ids))) ==
        as_vector(pan.segment_ids));

  // COCO instance AP (panoptic mode: things only).
  eval::CocoGroundTruth coco;
  coco.images = {{1, kH, kW}};
  coco.category_ids = {11, 12};
  std::int64_t ann_id = 1;
  for (const auto* m : {&cube1, &cube2, &ball}) {
    const io::Rle r = io::rle_encode(m->data(), kH, kW);
    coco.annotations.push_back(
        {ann_id++, 1, m == &ball ? 12 : 11, false, double(io::rle_area(r)), r});
  }
  const InstancePrediction inst =
      instance_inference(cls, masks, cats, {.things_only = true, .image_id = 1});
  const eval::CocoInstanceResult ap = eval::evaluate_coco_instance(coco, inst.detections);
  CHECK(ap.stats[0] == Approx(1.0));

  // Semantic mIoU, computed at the original size (the masks are given there).
  const ImageGeometry same{kH, kW, kH, kW, kH, kW};
  const SemanticPrediction sem = semantic_inference(cls, masks, same, {.at_original_size = true});
  eval::SemanticEvaluator se(4);
  se.add(sem.view(), {gt_sem.data(), kH, kW});
  CHECK(se.result().miou == Approx(1.0));
}

TEST_CASE("inference -> evaluators: perfect referring, gRES, interactive and video answers",
          "[inference][eval]") {
  const auto a = rect(2, 10, 3, 15), b = rect(12, 25, 20, 38), empty = rect(0, 0, 0, 0);
  const Tensor<float> masks = logits_of({a, b, empty});  // (Q, H0, W0)

  // Referring: the sentence points at query 1.
  const Tensor<float> seg = Tensor<float>::from_data(std::vector<float>{-5, 5, -5}, Shape{3});
  eval::ReferringEvaluator re;
  re.add(referring_inference(seg, masks).view(), view_of(b));
  CHECK(re.result().ciou == Approx(1.0));
  CHECK(re.result().giou == Approx(1.0).epsilon(tol::f32_ulps));

  // gRES: two referents (union), and a no-target expression that only the explicit answer
  // gets right.
  const Tensor<float> both = Tensor<float>::from_data(std::vector<float>{5, 5, -5}, Shape{3});
  const Tensor<float> nobody = Tensor<float>::from_data(std::vector<float>{-5, -5, -5}, Shape{3});
  std::vector<std::uint8_t> ab(a);
  for (std::size_t i = 0; i < ab.size(); ++i) ab[i] |= b[i];
  eval::GresEvaluator ours, official;
  for (auto* e : {&ours, &official}) {
    const GresOptions o = e == &ours ? GresOptions::with_no_target() : GresOptions::official();
    const GresPrediction t = gres_inference(both, masks, o);
    e->add(t.view(), view_of(ab), t.no_target, false);
    const GresPrediction n = gres_inference(nobody, masks, o);
    e->add(n.view(), view_of(empty), n.no_target, true);
  }
  CHECK(ours.result().n_acc == Approx(1.0));
  CHECK(ours.result().t_acc == Approx(1.0));
  CHECK(ours.result().giou == Approx(1.0));
  CHECK(official.result().n_acc == Approx(0.0));  // the official rule answers the top-1 mask

  // Interactive: two prompts, one per object.
  const Tensor<float> region =
      Tensor<float>::from_data(std::vector<float>{5, -5, -5, -5, 5, -5}, Shape{2, 3});
  const auto answers = interactive_inference(region, masks);
  eval::InteractiveEvaluator ie;
  ie.add(eval::PromptType::point, answers[0].view(), view_of(a));
  ie.add(eval::PromptType::box, answers[1].view(), view_of(b));
  CHECK(ie.result().overall.giou == Approx(1.0).epsilon(tol::f32_ulps));

  // Video: three frames of two objects followed by the tracker; J&F = 1.
  std::vector<Tensor<std::uint8_t>> first;
  for (const auto* m : {&a, &b})
    first.push_back(Tensor<std::uint8_t>::from_data(*m, Shape{kH, kW}));
  VideoObjectTracker tracker(first, {1, 2});
  std::vector<Tensor<std::int32_t>> pred_maps, gt_maps;
  for (std::int64_t t = 0; t < 3; ++t) {
    CHECK(tracker.reference_frame() == (t == 0 ? 0 : t - 1));
    const VideoFramePrediction f = tracker.step(t, region, masks);
    pred_maps.push_back(f.index_map);
    Tensor<std::int32_t> gt = Tensor<std::int32_t>::zeros(Shape{kH, kW});  // (H0, W0)
    for (std::int64_t i = 0; i < kH * kW; ++i) gt.data()[i] = a[i] ? 1 : (b[i] ? 2 : 0);
    gt_maps.push_back(gt);
  }
  std::vector<eval::LabelView> pv, gv;
  for (std::size_t t = 0; t < 3; ++t) {
    pv.push_back(label_view(pred_maps[t]));
    gv.push_back(label_view(gt_maps[t]));
  }
  eval::VideoEvaluator ve;
  ve.add_sequence("two_boxes", pv, gv);
  CHECK(ve.result().jf_mean == Approx(1.0));
  // The DAVIS annotation PNG of a frame reads back as the same index map.
  const VideoFramePrediction last = tracker.step(3, region, masks);
  const io::IndexedImage png =
      io::decode_indexed_png(io::encode_indexed_png(last.palette_indices()));
  CHECK(as_vector(png.indices) == as_vector(last.palette_indices()));
  for (std::int64_t i = 0; i < kH * kW; ++i)
    REQUIRE(int(png.indices.data()[i]) == last.index_map.data()[i]);
}

TEST_CASE("VideoObjectTracker: the reference moves only to consistent frames", "[inference]") {
  const auto a = rect(2, 10, 3, 15), b = rect(12, 25, 20, 38);
  const auto big = rect(10, 26, 18, 38);  // holds b: IoU(big, b) = 234 / 320 > 0.4
  const Tensor<float> masks = logits_of({a, b, big});
  std::vector<Tensor<std::uint8_t>> first;
  for (const auto* m : {&a, &b})
    first.push_back(Tensor<std::uint8_t>::from_data(*m, Shape{kH, kW}));
  // good: object 1 -> a, object 2 -> b. bad: object 1 -> big, object 2 -> b (overlapping).
  const Tensor<float> good =
      Tensor<float>::from_data(std::vector<float>{5, -5, -5, -5, 5, -5}, Shape{2, 3});
  const Tensor<float> bad =
      Tensor<float>::from_data(std::vector<float>{-5, -5, 5, -5, 5, 4}, Shape{2, 3});

  VideoObjectTracker tracker(first, {1, 2});
  CHECK_FALSE(tracker.from_memory());
  CHECK(tracker.reference_frame() == 0);
  const VideoFramePrediction f0 = tracker.step(0, good, masks);
  CHECK(f0.consistent);
  CHECK(tracker.reference_frame() == 0);
  CHECK(tracker.from_memory());
  const VideoFramePrediction f1 = tracker.step(1, bad, masks);
  CHECK(f1.queries == std::vector<std::int64_t>{2, 1});
  CHECK_FALSE(f1.consistent);
  CHECK(tracker.reference_frame() == 0);          // the memory stays at frame 0
  CHECK(f1.index_map.data()[15 * kW + 25] == 2);  // object 2, painted last, wins the overlap
  CHECK(f1.index_map.data()[10 * kW + 19] == 1);
  CHECK(f1.index_map.data()[3 * kW + 4] == 0);
  const VideoFramePrediction f2 = tracker.step(2, good, masks);
  CHECK(f2.consistent);
  CHECK(tracker.reference_frame() == 2);
  CHECK(as_vector(tracker.reference_masks()[1]) == b);

  VideoObjectTracker no_memory(first, {1, 2}, {.with_memory = false});
  no_memory.step(0, good, masks);
  no_memory.step(1, good, masks);
  CHECK(no_memory.reference_frame() == 0);
  CHECK_FALSE(no_memory.from_memory());
  CHECK(as_vector(no_memory.reference_masks()[0]) == a);
  CHECK_THROWS_AS(VideoObjectTracker(first, {1}), Error);
}

TEST_CASE("VideoObjectTracker: a frame with an empty object mask does not become the reference",
          "[inference]") {
  const auto a = rect(2, 10, 3, 15), b = rect(12, 25, 20, 38);
  const std::vector<std::uint8_t> empty(kH * kW, 0);
  const Tensor<float> masks = logits_of({a, b, empty});
  std::vector<Tensor<std::uint8_t>> first;
  for (const auto* m : {&a, &b})
    first.push_back(Tensor<std::uint8_t>::from_data(*m, Shape{kH, kW}));
  const Tensor<float> good =
      Tensor<float>::from_data(std::vector<float>{5, -5, -5, -5, 5, -5}, Shape{2, 3});
  // Frame 2 has only the queries a and empty: object 2 is left the empty one (pairwise IoU 0,
  // consistent, but nothing to pool a region from).
  const Tensor<float> lost_masks = logits_of({a, empty});
  const Tensor<float> lost =
      Tensor<float>::from_data(std::vector<float>{5, -5, -5, 5}, Shape{2, 2});
  VideoObjectTracker tracker(first, {1, 2});
  tracker.step(0, good, masks);
  tracker.step(1, good, masks);
  CHECK(tracker.reference_frame() == 1);
  const VideoFramePrediction f2 = tracker.step(2, lost, lost_masks);
  CHECK(f2.queries == std::vector<std::int64_t>{0, 1});
  CHECK(f2.consistent);
  CHECK(tracker.reference_frame() == 1);  // the memory stays at frame 1
  CHECK(as_vector(tracker.reference_masks()[1]) == b);
}
