// Tests of psalm/data/annotation_json.hpp (the bounded annotation read, JsonEntry's typed fields
// and their errors) and the malformed dataset corpus (tests/fixtures/malformed/datasets): every
// file is refused by its reader with a psalm::Error naming the file, the entry and the field.
#include <catch2/catch.hpp>

#include <fstream>

#include "psalm/data/annotation_json.hpp"
#include "psalm/data/coco_instances.hpp"
#include "psalm/data/coco_interactive.hpp"
#include "psalm/data/coco_panoptic.hpp"
#include "psalm/data/refer_original.hpp"
#include "psalm/data/referring.hpp"
#include "readers_support.hpp"

using namespace psalm;
using psalm::testing::json_text;
namespace fs = std::filesystem;

TEST_CASE("annotation json: typed fields with errors naming file, entry and field") {
  const auto j = json_text(R"({"a": 3, "b": 3.0, "c": 3.5, "s": "x", "t": true, "n": null,
                               "l": [1], "o": {"k": "v"}, "big": 18446744073709551615})");
  const data::JsonEntry e(j, "f.json", "annotations[2] (id 9)");
  CHECK(e.integer("a") == 3);
  CHECK(e.integer("b") == 3);  // integral floats are accepted (some converters write ids so)
  CHECK_THROWS_WITH(e.integer("c"), Catch::Contains("f.json: annotations[2] (id 9): field \"c\" "
                                                    "must be an integer, got 3.5"));
  CHECK_THROWS_WITH(e.integer("s"),
                    Catch::Contains("field \"s\" must be an integer, got a string"));
  CHECK_THROWS_WITH(e.integer("a", 4, 10),
                    Catch::Contains("field \"a\" = 3 is out of range [4, 10]"));
  CHECK_THROWS_WITH(e.integer("big"),
                    Catch::Contains("field \"big\" = 18446744073709551615 is out"));
  CHECK_THROWS_WITH(e.integer("zz"), Catch::Contains("f.json: annotations[2] (id 9) missing field "
                                                     "\"zz\""));
  CHECK_THROWS_WITH(e.integer("n"), Catch::Contains("field \"n\" is null"));
  CHECK(e.integer_or("n", 7) == 7);
  CHECK(e.integer_or("zz", 8) == 8);
  CHECK(e.number("c") == 3.5);
  CHECK(e.string("s") == "x");
  CHECK(e.flag("t"));
  CHECK_THROWS_WITH(e.flag("a"), Catch::Contains("field \"a\" = 3 is out of range [0, 1]"));
  CHECK(e.list("l").size() == 1);
  CHECK_THROWS_WITH(e.list("o"), Catch::Contains("field \"o\" must be a list, got an object"));
  CHECK(e.object("o").string("k") == "v");
  CHECK_THROWS_WITH(e.object("o").string("q"),
                    Catch::Contains("f.json: annotations[2] (id 9).o missing field \"q\""));
  CHECK_THROWS_WITH(data::JsonEntry(j["l"], "f.json", "x[0]"),
                    Catch::Contains("f.json: x[0] must be a JSON object, got a list"));
}

TEST_CASE("annotation json: missing, non-regular and oversized files are refused before reading") {
  const fs::path dir = psalm::testing::fresh_dir("psalm_test_annotation_json");
  CHECK_THROWS_WITH(data::read_annotation_json(dir / "none.json"),
                    Catch::Contains("none.json: cannot open JSON file: not found"));
  CHECK_THROWS_WITH(data::read_annotation_json(dir),
                    Catch::Contains("psalm_test_annotation_json: is a folder, not a regular file"));
  const fs::path big = dir / "big.json";
  { std::ofstream(big) << "[]"; }
  fs::resize_file(big, static_cast<std::uintmax_t>(data::kMaxAnnotationFileBytes) + 1);  // sparse
  CHECK_THROWS_WITH(data::read_annotation_json(big),
                    Catch::Contains("big.json: file of 1073741825 bytes exceeds the limit"));
  fs::remove(big);
}

TEST_CASE("annotation json: every malformed dataset file is refused with a precise error") {
  const fs::path dir = fs::path(PSALM_TEST_FIXTURES_DIR) / "malformed" / "datasets";
  const nlohmann::json cases = io::read_json_file(dir / "expected_errors.json");
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename() != "expected_errors.json") ++files;
  REQUIRE(files + 1 == cases.size());  // every file has a case (plus the comment)
  for (const auto& [name, c] : cases.items()) {
    if (name == "_comment") continue;
    INFO(name);
    const fs::path path = dir / name;
    REQUIRE(fs::exists(path));
    const std::string reader = c[0].get<std::string>(), fragment = c[1].get<std::string>();
    const auto run = [&] {
      if (reader == "coco_instances") (void)data::read_coco_instances(path);
      if (reader == "coco_panoptic") (void)data::read_coco_panoptic(path);
      if (reader == "refcoco") (void)data::read_referring_json(path, data::ReferringKind::refcoco);
      if (reader == "grefcoco")
        (void)data::read_referring_json(path, data::ReferringKind::grefcoco);
      if (reader == "grefs")
        (void)data::parse_grefs_json(data::read_annotation_json(path), path.string());
      if (reader == "coco_interactive") (void)data::read_coco_interactive(path);
    };
    CHECK_THROWS_WITH(run(), Catch::Contains(path.string()) && Catch::Contains(fragment));
  }
}
