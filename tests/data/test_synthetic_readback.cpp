// The dataset readers on what psalm's synthetic exporter writes (`psalm synth`: COCO panoptic /
// instances, RefCOCO, gRefCOCO, COCO-Interactive in COCO dict form, DAVIS): every Example read
// back equals what the generator itself says about the scene (image bytes, class list, visible
// masks, sentences, prompts, video object maps).
#include <catch2/catch.hpp>

#include "psalm/data/synthetic.hpp"
#include "psalm/train/coco_examples.hpp"
#include "psalm/train/davis_examples.hpp"
#include "psalm/train/interactive_examples.hpp"
#include "psalm/train/referring_examples.hpp"
#include "psalm/train/synthetic_examples.hpp"
#include "readers_support.hpp"

using namespace psalm;
namespace syn = psalm::data::synthetic;
namespace fs = std::filesystem;

namespace {

syn::ExportOptions export_options(const fs::path& out) {
  syn::ExportOptions o;
  o.out = out;
  o.split = syn::Split::val;  // val scenes include held-out categories
  o.count = 5;
  o.size = 80;
  o.seed = 11;
  o.videos = 1;
  o.video_frames = 3;
  return o;
}

/// The (N, H, W) masks of `ex` equal the row-major masks `expected`.
void check_masks(const Tensor<std::uint8_t>& masks,
                 const std::vector<std::vector<std::uint8_t>>& expected) {
  REQUIRE(masks.size(0) == static_cast<std::int64_t>(expected.size()));
  for (std::size_t n = 0; n < expected.size(); ++n) {
    INFO("mask " << n);
    CHECK(masks.select(0, static_cast<std::int64_t>(n)).contiguous().to_vector() == expected[n]);
  }
}

const fs::path& exported() {
  static const fs::path dir = [] {
    const fs::path d = psalm::testing::fresh_dir("psalm_test_synthetic_readback");
    syn::export_dataset(export_options(d));
    return d;
  }();
  return dir;
}

syn::Scene scene(std::int64_t i) {
  const auto o = export_options(exported());
  return syn::generate_scene(syn::scene_options(o), syn::scene_index(o.split, i));
}

}  // namespace

TEST_CASE("synthetic readback: COCO panoptic examples equal the scenes' segments") {
  const auto source = train::coco_panoptic_source(
      exported() / "panoptic_val.json", exported() / "images" / "val", exported() / "panoptic_val");
  REQUIRE(source.size() == 5);
  const train::SyntheticClassList classes = train::synthetic_class_list(true);
  for (std::int64_t i = 0; i < source.size(); ++i) {
    INFO("scene " << i);
    const syn::Scene s = scene(i);
    const Example ex = source.example(i);
    CHECK(ex.image.to_vector() == s.image.to_vector());
    CHECK(ex.class_names == classes.names);
    CHECK(ex.class_is_thing == classes.is_thing);
    std::vector<std::int32_t> ids;
    std::vector<std::vector<std::uint8_t>> masks;
    std::vector<std::int64_t> labels;
    for (const syn::PanopticSegment& g : syn::panoptic_segments(s, &ids)) {
      std::vector<std::uint8_t> m(ids.size());
      for (std::size_t p = 0; p < ids.size(); ++p) m[p] = ids[p] == g.id ? 1 : 0;
      masks.push_back(m);
      labels.push_back(
          std::find(classes.category_ids.begin(), classes.category_ids.end(), g.category_id) -
          classes.category_ids.begin());
    }
    check_masks(ex.target_masks, masks);
    CHECK(ex.target_labels == labels);
  }
}

TEST_CASE("synthetic readback: COCO instances examples equal the visible masks") {
  const auto source = train::coco_instances_source(exported() / "instances_val.json",
                                                   exported() / "images" / "val");
  REQUIRE(source.size() == 5);
  for (std::int64_t i = 0; i < source.size(); ++i) {
    const syn::Scene s = scene(i);
    const Example ex = source.example(i);
    std::vector<std::vector<std::uint8_t>> masks;
    std::vector<std::int64_t> labels;
    for (const syn::Object& o : s.objects) {
      const auto m = syn::visible_mask(s, o.id);
      if (std::all_of(m.begin(), m.end(), [](auto v) { return v == 0; })) continue;
      masks.push_back(m);
      labels.push_back(syn::thing_category_id(o.kind) - 1);  // things are ids 1..12, in order
    }
    check_masks(ex.target_masks, masks);
    CHECK(ex.target_labels == labels);
    CHECK(ex.class_names.size() == 12);
  }
}

TEST_CASE("synthetic readback: RefCOCO and gRefCOCO entries equal the scenes' expressions") {
  const auto refs =
      train::refcoco_source(exported() / "refcoco_val.json", exported() / "images" / "val",
                            train::ReferringSentences::per_sentence);
  const auto grefs =
      train::grefcoco_source(exported() / "grefcoco_val.json", exported() / "images" / "val");
  std::int64_t r = 0, g = 0, none = 0;
  for (std::int64_t i = 0; i < 5; ++i) {
    const syn::Scene s = scene(i);
    for (const syn::Referent& ref : syn::referring_expressions(s))
      for (const std::string& sentence : ref.sentences) {
        const Example ex = refs.example(r++);
        CHECK(ex.sentence == sentence);
        check_masks(ex.target_masks, {syn::visible_mask(s, ref.object_id)});
      }
    for (const syn::GeneralizedExpression& e : syn::generalized_expressions(s)) {
      const Example ex = grefs.example(g++);
      CHECK(ex.sentence == e.sentence);
      std::vector<std::vector<std::uint8_t>> masks;
      for (int id : e.targets) masks.push_back(syn::visible_mask(s, id));
      check_masks(ex.target_masks, masks);
      none += e.targets.empty();
    }
  }
  CHECK(r == refs.size());
  CHECK(g == grefs.size());
  CHECK(none > 0);
}

TEST_CASE("synthetic readback: COCO-Interactive (COCO dict form) prompts equal the scenes'") {
  for (VisualPromptKind kind : {VisualPromptKind::point, VisualPromptKind::mask}) {
    train::InteractiveOptions opt;
    opt.prompt_type = kind;
    const auto source = train::coco_interactive_source(
        exported() / "coco_interactive_val_psalm.json", exported() / "images" / "val", opt);
    REQUIRE(source.size() == 5);
    for (std::int64_t i = 0; i < source.size(); ++i) {
      const syn::Scene s = scene(i);
      const auto prompts = syn::interactive_prompts(s);
      const Example ex = source.example(i);
      std::vector<std::vector<std::uint8_t>> expected_prompts, expected_targets;
      for (std::size_t k = 0; k < s.objects.size(); ++k) {
        const auto target = syn::visible_mask(s, s.objects[k].id);
        if (std::all_of(target.begin(), target.end(), [](auto v) { return v == 0; })) continue;
        expected_prompts.push_back(
            kind == VisualPromptKind::point
                ? syn::dilate_disc(prompts[k].point, s.height(), s.width(), 10)
                : prompts[k].mask);
        expected_targets.push_back(target);
      }
      check_masks(ex.prompt_masks, expected_prompts);
      check_masks(ex.target_masks, expected_targets);
    }
  }
}

TEST_CASE("synthetic readback: DAVIS annotations equal the video's object maps") {
  const auto o = export_options(exported());
  syn::VideoOptions vo;
  vo.scene = syn::scene_options(o);
  vo.frames = o.video_frames;
  const syn::Video video = syn::generate_video(vo, syn::scene_index(o.split, 0) + (1ull << 32));
  const auto source = train::davis_source(exported() / "davis", "val");
  REQUIRE(source.size() == 1);
  REQUIRE(source.frames(0) == 3);
  for (std::int64_t t = 0; t < 3; ++t) {
    const syn::Scene& f = video.frames[static_cast<std::size_t>(t)];
    const Tensor<std::int32_t> ids = source.annotation(0, t, f.height(), f.width());
    CHECK(ids.to_vector() == std::vector<std::int32_t>(f.object_map.begin(), f.object_map.end()));
    CHECK(source.frame(0, t).shape() == f.image.shape());  // JPEG: sizes only
  }
  std::vector<std::int32_t> first;
  for (const syn::Object& ob : video.frames[0].objects) {
    const auto m = syn::visible_mask(video.frames[0], ob.id);
    if (std::any_of(m.begin(), m.end(), [](auto v) { return v != 0; })) first.push_back(ob.id);
  }
  std::sort(first.begin(), first.end());
  CHECK(source.objects(0).ids == first);
}
