// Tests of psalm/data/coco_panoptic.hpp and train/coco_examples.hpp's CocoPanopticSource on the
// hand-made panoptic file (tests/fixtures/data_readers/tiny/panoptic.json + panoptic/000001.png):
// segment masks equal numpy's rgb2id of the PNG (Pillow), crowd segments are left out of
// panoptic / instance targets and kept in semantic ones, a listed segment without pixels gives
// an empty mask, and ids or sizes the JSON does not declare are errors naming the PNG.
#include <catch2/catch.hpp>

#include "psalm/data/coco_panoptic.hpp"
#include "psalm/train/coco_examples.hpp"
#include "readers_support.hpp"

using namespace psalm;
using psalm::testing::json_text;
using psalm::testing::mask_counts;
using psalm::testing::tiny_dir;

namespace {

void check_targets(const Example& ex, const nlohmann::json& expected) {
  REQUIRE(ex.num_targets() == static_cast<std::int64_t>(expected.size()));
  REQUIRE(ex.target_labels.size() == expected.size());
  for (std::size_t n = 0; n < expected.size(); ++n) {
    INFO("target " << n);
    CHECK(ex.target_labels[n] == expected[n]["label"].get<std::int64_t>());
    CHECK(mask_counts(ex.target_masks, static_cast<std::int64_t>(n)) ==
          expected[n]["counts"].get<std::string>());
  }
}

}  // namespace

TEST_CASE("coco panoptic: examples per task equal the PNG's segments (Pillow + numpy)") {
  const auto expected = psalm::testing::readers_expected()["panoptic"];
  const data::CocoPanoptic pan = data::read_coco_panoptic(tiny_dir() / "panoptic.json");
  REQUIRE(pan.annotations.size() == 1);
  REQUIRE(pan.annotations[0].segments.size() == 6);
  for (Task task : {Task::panoptic, Task::instance, Task::semantic}) {
    INFO("task " << to_string(task));
    const train::CocoPanopticSource source(pan, tiny_dir() / "images", tiny_dir() / "panoptic",
                                           task);
    REQUIRE(source.size() == 1);
    const Example ex = source.example(0);
    CHECK(ex.task == task);
    CHECK(ex.image.shape() == Shape{24, 32, 3});
    CHECK(ex.class_names == expected["class_names"].get<std::vector<std::string>>());
    CHECK(ex.class_is_thing == expected["is_thing"].get<std::vector<std::uint8_t>>());
    check_targets(ex, expected[to_string(task)]);
  }
  // The listed segment without pixels is the last panoptic target, empty.
  const train::CocoPanopticSource source(pan, tiny_dir() / "images", tiny_dir() / "panoptic");
  const Example ex = source.example(0);
  const auto last = ex.target_masks.select(0, ex.num_targets() - 1).to_vector();
  CHECK(std::all_of(last.begin(), last.end(), [](std::uint8_t v) { return v == 0; }));
  CHECK_THROWS_AS(train::CocoPanopticSource(pan, "", "", Task::referring), Error);
}

TEST_CASE("coco panoptic: PNG ids and sizes the annotation does not declare are errors") {
  const data::CocoPanoptic pan = data::read_coco_panoptic(tiny_dir() / "panoptic.json");
  data::PanopticAnnotationRecord missing = pan.annotations[0];
  missing.segments.erase(missing.segments.begin() + 2);  // segment 3 (a cat)
  const auto png = tiny_dir() / "panoptic" / "000001.png";
  CHECK_THROWS_WITH(data::load_panoptic_ids(png, missing, 24, 32),
                    Catch::Contains("000001.png: pixel (12, 18) has segment id 3 which") &&
                        Catch::Contains("panoptic.json: annotations[0] (image_id 1) does not list "
                                        "in segments_info"));
  CHECK_THROWS_WITH(data::load_panoptic_ids(png, pan.annotations[0], 24, 31),
                    Catch::Contains("panoptic PNG of 24 x 32 but"));
}

TEST_CASE("coco panoptic: malformed entries name the file, the entry and the field") {
  const std::string head =
      R"({"images": [{"id": 1, "file_name": "a.jpg", "height": 8, "width": 8}],
          "categories": [{"id": 1, "name": "cat", "isthing": 1}, {"id": 2, "name": "sky", "isthing": 0}],
          "annotations": [)";
  const auto parse = [&](const std::string& anns) {
    return data::parse_coco_panoptic(json_text(head + anns + "]}"), "pan.json");
  };
  REQUIRE(
      parse(R"({"image_id": 1, "file_name": "a.png", "segments_info": []})").annotations.size() ==
      1);
  CHECK_THROWS_WITH(
      parse(R"({"image_id": 1, "file_name": "a.png",
                "segments_info": [{"id": 0, "category_id": 1}]})"),
      Catch::Contains("pan.json: annotations[0] (image_id 1).segments_info[0]: field \"id\" = 0 is "
                      "out of range [1, 16777215]"));
  CHECK_THROWS_WITH(parse(R"({"image_id": 1, "file_name": "a.png",
                "segments_info": [{"id": 4, "category_id": 1}, {"id": 4, "category_id": 2}]})"),
                    Catch::Contains("segments_info[1]: field \"id\" = 4 repeats a segment id"));
  CHECK_THROWS_WITH(parse(R"({"image_id": 1, "file_name": "a.png",
                "segments_info": [{"id": 4, "category_id": 3}]})"),
                    Catch::Contains("field \"category_id\" = 3 names no category"));
  CHECK_THROWS_WITH(parse(R"({"image_id": 1, "file_name": "a.png", "segments_info": {}})"),
                    Catch::Contains("field \"segments_info\" must be a list, got an object"));
  CHECK_THROWS_WITH(parse(R"({"image_id": 1, "file_name": "a.png", "segments_info": []},
                             {"image_id": 1, "file_name": "b.png", "segments_info": []})"),
                    Catch::Contains("annotations[1] (image_id 1): field \"image_id\" = 1 has a "
                                    "second annotation"));
  CHECK_THROWS_WITH(data::parse_coco_panoptic(json_text(R"({"images": [], "annotations": [],
                                      "categories": [{"id": 1, "name": "cat"}]})"),
                                              "pan.json"),
                    Catch::Contains("categories[0] missing field \"isthing\""));
}
