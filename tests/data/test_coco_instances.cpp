// Tests of psalm/data/coco_instances.hpp, coco_segmentation.hpp and train/coco_examples.hpp's
// CocoInstancesSource on the hand-made COCO file (tests/fixtures/data_readers/tiny/instances.json):
// every annotation's mask equals pycocotools' annToMask (polygons with a self-crossing hole,
// nested polygons, a polygon partly outside the image, disjoint parts, compressed and
// uncompressed RLE, crowd), the per-image lists equal getAnnIds, examples drop crowds, and
// malformed input names the file, the entry and the field.
#include <catch2/catch.hpp>

#include "psalm/data/coco_instances.hpp"
#include "psalm/train/coco_examples.hpp"
#include "readers_support.hpp"

using namespace psalm;
using psalm::testing::json_text;
using psalm::testing::mask_counts;
using psalm::testing::tiny_dir;

TEST_CASE("coco instances: every mask and per-image list equals pycocotools") {
  const auto expected = psalm::testing::readers_expected()["instances"];
  const data::CocoInstances coco = data::read_coco_instances(tiny_dir() / "instances.json");
  REQUIRE(coco.images.size() == 3);
  REQUIRE(coco.annotations.size() == expected["annotations"].size());
  std::vector<std::string> names;
  for (const auto& c : coco.categories) names.push_back(c.name);
  REQUIRE(names == expected["categories"].get<std::vector<std::string>>());
  for (const data::CocoAnnotationRecord& a : coco.annotations) {
    INFO("annotation " << a.id);
    const auto& im = coco.images[static_cast<std::size_t>(coco.image_index(a.image_id))];
    const auto rle = data::annotation_rle(a, im.height, im.width);
    REQUIRE(rle.has_value());
    const auto& e = expected["annotations"][std::to_string(a.id)];
    CHECK(io::rle_to_string(*rle) == e["counts"].get<std::string>());
    CHECK(io::rle_area(*rle) == e["area"].get<std::int64_t>());
    CHECK(a.iscrowd == (e["iscrowd"].get<int>() != 0));
  }
  for (std::size_t i = 0; i < coco.images.size(); ++i) {
    std::vector<std::int64_t> ids;
    for (std::size_t k : coco.image_annotations[i]) ids.push_back(coco.annotations[k].id);
    CHECK(ids == expected["image_annotations"][std::to_string(coco.images[i].id)]
                     .get<std::vector<std::int64_t>>());
  }
}

TEST_CASE("coco instances: examples hold the image and the non-crowd masks with class indices") {
  const auto expected = psalm::testing::readers_expected()["instances"]["annotations"];
  const train::CocoInstancesSource source =
      train::coco_instances_source(tiny_dir() / "instances.json", tiny_dir() / "images");
  REQUIRE(source.size() == 3);
  const Example ex = source.example(0);
  CHECK(ex.task == Task::instance);
  REQUIRE(ex.image.shape() == Shape{24, 32, 3});
  CHECK(ex.class_names == std::vector<std::string>{"cat", "dog", "traffic light"});
  CHECK(ex.class_is_thing == std::vector<std::uint8_t>{1, 1, 1});
  // Annotations 10, 11, 12, 13, 15 (14 is a crowd): categories 1, 3, 3, 7, 7.
  REQUIRE(ex.num_targets() == 5);
  CHECK(ex.target_labels == std::vector<std::int64_t>{0, 1, 1, 2, 2});
  const std::vector<int> ids{10, 11, 12, 13, 15};
  for (std::int64_t n = 0; n < 5; ++n)
    CHECK(mask_counts(ex.target_masks, n) ==
          expected[std::to_string(ids[static_cast<std::size_t>(n)])]["counts"].get<std::string>());
  // A gray JPEG becomes RGB; an image without annotations has no target.
  const Example gray = source.example(1);
  CHECK(gray.image.shape() == Shape{20, 16, 3});
  CHECK(gray.num_targets() == 3);  // 20, 21, 22; 23 has no pixel
  const Example none = source.example(2);
  CHECK(none.num_targets() == 0);
  CHECK(none.target_masks.shape() == Shape{0, 16, 16});
  CHECK(none.target_labels.empty());
}

TEST_CASE("coco instances: an empty annotation list reads, with examples without targets") {
  const train::CocoInstancesSource source =
      train::coco_instances_source(tiny_dir() / "instances_empty.json", tiny_dir() / "images");
  REQUIRE(source.size() == 1);
  REQUIRE(source.records().annotations.empty());
  const Example ex = source.example(0);
  CHECK(ex.num_targets() == 0);
  CHECK(ex.class_names.size() == 3);
}

TEST_CASE("coco instances: malformed entries name the file, the entry and the field") {
  const std::string head =
      R"({"images": [{"id": 1, "file_name": "a.png", "height": 8, "width": 8}],
          "categories": [{"id": 1, "name": "cat"}], "annotations": [)";
  const auto parse = [&](const std::string& anns) {
    return data::parse_coco_instances(json_text(head + anns + "]}"), "test.json");
  };
  const std::string ok =
      R"({"id": 4, "image_id": 1, "category_id": 1, "segmentation": [[0,0,4,0,4,4]]})";
  REQUIRE(parse(ok).annotations.size() == 1);
  CHECK_THROWS_WITH(parse(ok + R"(, {"id": 5, "image_id": "1", "category_id": 1,
                                      "segmentation": [[0,0,4,0,4,4]]})"),
                    Catch::Contains("test.json: annotations[1] (id 5): field \"image_id\" must be "
                                    "an integer, got a string"));
  CHECK_THROWS_WITH(
      parse(R"({"id": 5, "image_id": 2, "category_id": 1, "segmentation": []})"),
      Catch::Contains("annotations[0] (id 5): field \"image_id\" = 2 names no image"));
  CHECK_THROWS_WITH(parse(R"({"id": 5, "image_id": 1, "category_id": 9, "segmentation": []})"),
                    Catch::Contains("field \"category_id\" = 9 names no category"));
  CHECK_THROWS_WITH(parse(ok + "," + ok), Catch::Contains("annotations[1] (id 4): field \"id\" = 4 "
                                                          "repeats an earlier annotation id"));
  CHECK_THROWS_WITH(parse(R"({"id": 5, "image_id": 1, "category_id": 1})"),
                    Catch::Contains("annotations[0] (id 5) missing field \"segmentation\""));
  CHECK_THROWS_WITH(
      parse(R"({"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[0, "x"]]})"),
      Catch::Contains("field \"segmentation\" polygon 0 coordinate 1 must be a number"));
  CHECK_THROWS_WITH(parse(R"({"id": 5, "image_id": 1, "category_id": 1,
                "segmentation": {"size": [8, 8], "counts": [10, 60]}})"),
                    Catch::Contains("field \"segmentation\" is not a valid RLE"));
  CHECK_THROWS_WITH(
      parse(R"({"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[0,0,4,0,4,4]],
                "iscrowd": 2})"),
      Catch::Contains("field \"iscrowd\" = 2 is out of range [0, 1]"));
  // Image entries: size bounds and relative file names.
  CHECK_THROWS_WITH(
      data::parse_coco_instances(
          json_text(R"({"images": [{"id": 1, "file_name": "a.png", "height": 0, "width": 8}],
                        "categories": [], "annotations": []})"),
          "test.json"),
      Catch::Contains("test.json: images[0] has an image size of 0 x 8"));
  CHECK_THROWS_WITH(
      data::parse_coco_instances(
          json_text(R"({"images": [{"id": 1, "file_name": "../a.png", "height": 8, "width": 8}],
                        "categories": [], "annotations": []})"),
          "test.json"),
      Catch::Contains("images[0]: field \"file_name\" = \"../a.png\" must not contain \"..\""));
  CHECK_THROWS_WITH(data::parse_coco_instances(json_text(R"({"images": []})"), "test.json"),
                    Catch::Contains("test.json: missing top-level list \"annotations\""));
}

TEST_CASE("coco instances: masks of another size than the image, or far outside it, are errors") {
  const auto coco = data::parse_coco_instances(
      json_text(R"({"images": [{"id": 1, "file_name": "a.png", "height": 8, "width": 8}],
                    "categories": [{"id": 1, "name": "cat"}], "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "segmentation": {"size": [8, 9], "counts": [72]}},
        {"id": 2, "image_id": 1, "category_id": 1,
         "segmentation": [[0, 0, 900000, 0, 900000, 900000, 0, 900000, 0, 0, 900000, 900000]]},
        {"id": 3, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0]]}]})"),
      "test.json");
  CHECK_THROWS_WITH(data::annotation_rle(coco.annotations[0], 8, 8),
                    Catch::Contains("annotations[0] (id 1): field \"segmentation\" has size [8, 9] "
                                    "but the image is 8 x 8"));
  CHECK_THROWS_WITH(
      data::annotation_rle(coco.annotations[1], 8, 8),
      Catch::Contains("annotations[1] (id 2): field \"segmentation\" polygons are too "
                      "long to rasterise"));
  // Fewer than 3 points: dropped as detectron2 does; no polygon left -> no mask.
  CHECK_FALSE(data::annotation_rle(coco.annotations[2], 8, 8).has_value());
}

TEST_CASE("coco instances: an image whose size differs from its entry is an error") {
  const auto dir = psalm::testing::fresh_dir("psalm_test_coco_size");
  std::filesystem::copy_file(tiny_dir() / "images" / "000005.png", dir / "000005.png");
  const auto coco = data::parse_coco_instances(
      json_text(R"({"images": [{"id": 1, "file_name": "000005.png", "height": 16, "width": 17}],
                    "categories": [], "annotations": []})"),
      "x.json");
  const train::CocoInstancesSource source(coco, dir);
  CHECK_THROWS_WITH(source.example(0), Catch::Contains("000005.png: image of 16 x 16 but x.json: "
                                                       "images[0] says 16 x 17"));
}
