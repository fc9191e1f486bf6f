// Tests of psalm/data/coco_interactive.hpp and train/interactive_examples.hpp on the hand-made
// converted COCO-Interactive file: with a fixed prompt type every region's prompt equals the
// stored RLE after upstream's load-time dilation (enhance_with_circles, transcribed in numpy),
// an instance without that type is left out, crowds are left out, targets equal pycocotools'
// masks; the training draw picks a non-empty type per instance, reproducibly per seed.
#include <catch2/catch.hpp>

#include <set>

#include "psalm/data/coco_interactive.hpp"
#include "psalm/train/interactive_examples.hpp"
#include "readers_support.hpp"

using namespace psalm;
using psalm::testing::json_text;
using psalm::testing::mask_counts;
using psalm::testing::tiny_dir;

TEST_CASE("coco interactive: a fixed prompt type gives the dilated stored prompt per instance") {
  const auto expected = psalm::testing::readers_expected()["interactive"];
  const auto records = data::read_coco_interactive(tiny_dir() / "coco_interactive.json");
  REQUIRE(records.size() == 1);
  REQUIRE(records[0].anns.size() == 4);
  CHECK(records[0].anns[2].iscrowd);
  for (VisualPromptKind kind : {VisualPromptKind::point, VisualPromptKind::scribble,
                                VisualPromptKind::box, VisualPromptKind::mask}) {
    INFO("prompt " << to_string(kind));
    train::InteractiveOptions opt;
    opt.prompt_type = kind;
    const train::InteractiveSource source(records, tiny_dir() / "images", opt);
    const Example ex = source.example(0);
    CHECK(ex.task == Task::interactive);
    std::int64_t k = 0;
    for (const auto& e : expected) {
      const auto& p = e["prompts"][to_string(kind)];
      if (p.is_null()) continue;  // empty prompt of this type: the instance is left out
      REQUIRE(k < ex.num_regions());
      CHECK(mask_counts(ex.prompt_masks, k) == p.get<std::string>());
      CHECK(mask_counts(ex.target_masks, k) == e["target"].get<std::string>());
      ++k;
    }
    CHECK(ex.num_regions() == k);
    CHECK(ex.num_targets() == k);
    CHECK(k == (kind == VisualPromptKind::scribble ? 2 : 3));
  }
}

TEST_CASE("coco interactive: the training draw takes a non-empty type, reproducibly per seed") {
  const auto expected = psalm::testing::readers_expected()["interactive"];
  const auto records = data::read_coco_interactive(tiny_dir() / "coco_interactive.json");
  std::set<std::string> seen;
  for (std::uint64_t seed = 0; seed < 24; ++seed) {
    train::InteractiveOptions opt;
    opt.seed = seed;
    const train::InteractiveSource source(records, tiny_dir() / "images", opt);
    const Example ex = source.example(0);
    REQUIRE(ex.num_regions() == 3);
    for (std::int64_t k = 0; k < 3; ++k) {
      const auto counts = mask_counts(ex.prompt_masks, k);
      const auto& prompts = expected[static_cast<std::size_t>(k)]["prompts"];
      bool found = false;
      for (const auto& [type, p] : prompts.items())
        if (!p.is_null() && p.get<std::string>() == counts) {
          found = true;
          seen.insert(type);
        }
      CHECK(found);
    }
    CHECK(mask_counts(source.example(0).prompt_masks, 1) == mask_counts(ex.prompt_masks, 1));
  }
  CHECK(seen == std::set<std::string>{"point", "scribble", "box", "mask"});
}

TEST_CASE("coco interactive: malformed entries and prompts name the file, entry and field") {
  const auto parse = [](const std::string& text) {
    return data::parse_coco_interactive(json_text(text), "inter.json");
  };
  const std::string info = R"("image": "a.png", "image_info": {"height": 8, "width": 8})";
  CHECK(parse("[{" + info + R"(, "anns": []}])").front().anns.empty());
  CHECK_THROWS_WITH(
      parse("[{" + info + R"(, "anns": [{"category_id": 1,
                      "segmentation": [[0,0,4,0,4,4]], "point_visual_prompt_mask": {"size": [8]}}]}])"),
      Catch::Contains("inter.json: [0].anns[0]: field \"point_visual_prompt_mask\" is "
                      "not a valid RLE"));
  CHECK_THROWS_WITH(parse(R"([{"image": "a.png", "anns": []}])"),
                    Catch::Contains("inter.json: [0] missing field \"image_info\""));
  CHECK_THROWS_WITH(parse("3"), Catch::Contains("inter.json: a COCO-Interactive file must be"));
  // A prompt of another size than the image is found when the example is built.
  const auto records = parse(R"([{"image": "000005.png", "image_info": {"height": 16, "width": 16},
      "anns": [{"category_id": 1, "segmentation": [[0,0,4,0,4,4]],
                "box_visual_prompt_mask": {"size": [4, 4], "counts": [0, 16]}}]}])");
  train::InteractiveOptions opt;
  opt.prompt_type = VisualPromptKind::box;
  const train::InteractiveSource source(records, tiny_dir() / "images", opt);
  CHECK_THROWS_WITH(source.example(0),
                    Catch::Contains("inter.json: [0].anns[0]: field \"box_visual_prompt_mask\" has "
                                    "size [4, 4] but the image is 16 x 16"));
}
