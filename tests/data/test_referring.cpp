// Tests of psalm/data/referring.hpp, refer_original.hpp and train/referring_examples.hpp on the
// hand-made converted RefCOCO / gRefCOCO files and the shipped gRefCOCO pair (grefs(unc).json +
// instances.json): masks equal pycocotools' annToMask, the joined sentence gives PSALM's
// instruction string through the prompt builder, a no-target entry has no target, the original
// pair joins to the converted entries, and malformed entries name the file, entry and field.
#include <catch2/catch.hpp>

#include "psalm/data/refer_original.hpp"
#include "psalm/data/referring.hpp"
#include "psalm/psalm/prompt.hpp"
#include "psalm/train/referring_examples.hpp"
#include "readers_support.hpp"

using namespace psalm;
using psalm::testing::json_text;
using psalm::testing::mask_counts;
using psalm::testing::tiny_dir;

namespace {

void check_entries(const train::ReferringSource& source, const nlohmann::json& expected) {
  REQUIRE(source.size() == static_cast<std::int64_t>(expected.size()));
  for (std::int64_t i = 0; i < source.size(); ++i) {
    INFO("entry " << i);
    const auto& e = expected[static_cast<std::size_t>(i)];
    const Example ex = source.example(i);
    // The prompt builder turns Example::sentence into upstream's instruction string.
    CHECK(referring_instruction(std::span<const std::string>(&ex.sentence, 1)) ==
          e["instruction"].get<std::string>());
    CHECK(source.records()[static_cast<std::size_t>(i)].sentences ==
          e["sentences"].get<std::vector<std::string>>());
    REQUIRE(ex.num_targets() == static_cast<std::int64_t>(e["masks"].size()));
    for (std::int64_t n = 0; n < ex.num_targets(); ++n)
      CHECK(mask_counts(ex.target_masks, n) ==
            e["masks"][static_cast<std::size_t>(n)].get<std::string>());
    CHECK(ex.class_names.empty());
    CHECK(ex.image.size(2) == 3);
  }
}

}  // namespace

TEST_CASE("refcoco: converted entries give the sentence and the referred mask") {
  const auto expected = psalm::testing::readers_expected()["refcoco"];
  const auto source = train::refcoco_source(tiny_dir() / "refcoco.json", tiny_dir() / "images");
  check_entries(source, expected);
  CHECK(source.example(0).task == Task::referring);
  CHECK(source.example(0).sentence == "the cat on the left. small cat");
  CHECK(source.records()[1].image_id == 2);
  CHECK(source.records()[1].ref_id == 1);  // new_img_id
  // One example per sentence.
  const auto per = train::refcoco_source(tiny_dir() / "refcoco.json", tiny_dir() / "images",
                                         train::ReferringSentences::per_sentence);
  REQUIRE(per.size() == 3);
  CHECK(per.example(1).sentence == "small cat");
  CHECK(per.locate(2) == std::pair<std::size_t, std::int64_t>{1, 0});
  CHECK(mask_counts(per.example(1).target_masks, 0) == expected[0]["masks"][0].get<std::string>());
}

TEST_CASE("grefcoco: several targets, and no target for a no-target entry") {
  const auto expected = psalm::testing::readers_expected()["grefcoco"];
  const auto source = train::grefcoco_source(tiny_dir() / "grefcoco.json", tiny_dir() / "images");
  check_entries(source, expected);
  const Example none = source.example(1);
  CHECK(none.task == Task::gres);
  CHECK(none.num_targets() == 0);
  CHECK(none.target_masks.shape() == Shape{0, 24, 32});
  CHECK(source.records()[1].no_target());
}

TEST_CASE("grefcoco: grefs(unc).json + instances.json join to the converted entries") {
  const auto expected = psalm::testing::readers_expected()["grefcoco"];
  const auto records = data::read_grefcoco_original(tiny_dir() / "grefs(unc).json",
                                                    tiny_dir() / "instances.json", "val");
  REQUIRE(records.size() == 2);
  CHECK(records[0].ref_id == 7);
  CHECK(records[0].image_file == "000001.png");
  CHECK(records[1].no_target());
  const train::ReferringSource source(records, tiny_dir() / "images", Task::gres);
  check_entries(source, expected);
  // An id written as a scalar (REFER style) and another split.
  const auto train_split = data::read_grefcoco_original(tiny_dir() / "grefs(unc).json",
                                                        tiny_dir() / "instances.json", "train");
  REQUIRE(train_split.size() == 1);
  REQUIRE(train_split[0].anns.size() == 1);
  CHECK(train_split[0].anns[0].id == 21);
  CHECK_THROWS_WITH(data::read_grefcoco_original(tiny_dir() / "grefs(unc).json",
                                                 tiny_dir() / "instances.json", "testA"),
                    Catch::Contains("no ref of split \"testA\""));
}

TEST_CASE("referring: malformed entries name the file, the entry and the field") {
  const std::string info = R"("image_info": {"file_name": "a.png", "height": 8, "width": 8})";
  const std::string ann = R"({"category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]})";
  const auto parse = [&](const std::string& entry, data::ReferringKind kind) {
    return data::parse_referring_json(json_text("[" + entry + "]"), "ref.json", kind);
  };
  using K = data::ReferringKind;
  const std::string ok = "{" + info + R"(, "instruction": [{"sent": "a"}], "anns": [)" + ann + "]}";
  REQUIRE(parse(ok, K::refcoco).size() == 1);
  CHECK_THROWS_WITH(
      parse("{" + info + R"(, "instruction": [{"sent": "a"}], "anns": [)" + ann + "," + ann + "]}",
            K::refcoco),
      Catch::Contains("ref.json: [0]: field \"anns\" holds 2 annotations; a RefCOCO "
                      "entry refers to exactly one object"));
  CHECK(parse("{" + info + R"(, "instruction": [{"sent": "a"}], "anns": []})", K::grefcoco)
            .front()
            .no_target());
  CHECK_THROWS_WITH(parse("{" + info + R"(, "instruction": [], "anns": []})", K::grefcoco),
                    Catch::Contains("[0]: field \"instruction\" is empty"));
  CHECK_THROWS_WITH(
      parse("{" + info + R"(, "instruction": [{"raw": "a"}], "anns": []})", K::grefcoco),
      Catch::Contains("ref.json: [0].instruction[0] missing field \"sent\""));
  CHECK_THROWS_WITH(
      parse("{" + info + R"(, "instruction": [{"sent": "a"}], "anns": [], "no_target": false})",
            K::grefcoco),
      Catch::Contains("field \"no_target\" = false but the entry has 0 annotations"));
  CHECK_THROWS_WITH(
      parse(R"({"image_info": {"file_name": "a.png", "height": 8}, "instruction": [], "anns": []})",
            K::grefcoco),
      Catch::Contains("ref.json: [0].image_info missing field \"width\""));
  CHECK_THROWS_WITH(parse("{" + info + R"(, "instruction": [{"sent": "a"}],
                             "anns": [{"category_id": 1, "segmentation": 5}]})",
                          K::grefcoco),
                    Catch::Contains("[0].anns[0]: field \"segmentation\" must be a list of "
                                    "polygons or an RLE object, got an integer"));
  CHECK_THROWS_WITH(data::parse_referring_json(json_text("{}"), "ref.json", K::refcoco),
                    Catch::Contains("ref.json: a converted refcoco file must be a JSON list"));
  // Original refs.
  CHECK_THROWS_WITH(data::parse_grefs_json(json_text(R"([{"ref_id": 3, "image_id": 1,
                        "split": "val", "sentences": [{"sent": "x"}], "ann_id": [-1, 4]}])"),
                                           "grefs.json"),
                    Catch::Contains("grefs.json: refs[0] (ref_id 3): field \"ann_id\" mixes -1"));
  const auto refs = data::parse_grefs_json(json_text(R"([{"ref_id": 3, "image_id": 1,
                        "split": "val", "sentences": [{"sent": "x"}], "ann_id": 99}])"),
                                           "grefs.json");
  CHECK_THROWS_WITH(
      data::join_refs(refs, data::read_coco_instances(tiny_dir() / "instances.json"), "val",
                      data::ReferringKind::refcoco),
      Catch::Contains("grefs.json: refs[0] (ref_id 3): field \"ann_id\" = 99 names no "
                      "annotation of"));
}
