// Tests of psalm/data/semantic_folder.hpp, open_vocabulary.hpp and train/semantic_examples.hpp:
// a semantic folder pairs images and label maps by name (an image without labels is left out),
// examples hold one mask per class present (ignore left out), labels outside the class list are
// errors; the open-vocabulary class lists equal what PSALM's evaluation derives from FC-CLIP's
// files (tests/fixtures/data_readers/open_vocabulary.json,
// tools/reference/open_vocabulary_lists.py).
#include <catch2/catch.hpp>

#include "psalm/data/open_vocabulary.hpp"
#include "psalm/data/semantic_folder.hpp"
#include "psalm/train/semantic_examples.hpp"
#include "readers_support.hpp"

using namespace psalm;
using psalm::testing::mask_counts;
using psalm::testing::tiny_dir;

TEST_CASE("semantic folder: examples hold one mask per class present, ignore left out") {
  const auto expected = psalm::testing::readers_expected()["semantic"];
  const auto samples = data::read_semantic_folder(tiny_dir() / "semantic" / "images",
                                                  tiny_dir() / "semantic" / "labels");
  REQUIRE(samples.size() == 2);  // c.jpg has no label map
  CHECK(samples[0].image.stem() == "a");
  data::ClassList classes;
  classes.names = {"wall", "floor", "sky"};
  classes.is_thing = {0, 0, 0};
  const train::SemanticFolderSource source(samples, classes);
  for (std::int64_t i = 0; i < source.size(); ++i) {
    const auto& e = expected[static_cast<std::size_t>(i)];
    const Example ex = source.example(i);
    CHECK(ex.task == Task::semantic);
    CHECK(ex.class_names == classes.names);
    CHECK(ex.target_labels == e["labels"].get<std::vector<std::int64_t>>());
    REQUIRE(ex.num_targets() == static_cast<std::int64_t>(e["masks"].size()));
    for (std::int64_t n = 0; n < ex.num_targets(); ++n)
      CHECK(mask_counts(ex.target_masks, n) ==
            e["masks"][static_cast<std::size_t>(n)].get<std::string>());
  }
  data::ClassList two = classes;
  two.names.pop_back();
  two.is_thing.pop_back();
  CHECK_THROWS_WITH(train::SemanticFolderSource(samples, two).example(0),
                    Catch::Contains("a.png: pixel (0, 0) has label 2 but the class list has 2 "
                                    "classes (ignore 255)"));
  CHECK_THROWS_WITH(data::read_semantic_folder(tiny_dir() / "semantic" / "images",
                                               tiny_dir() / "semantic" / "images"),
                    Catch::Contains("no image (.jpg) has a label map (.png)"));
}

TEST_CASE("open vocabulary: the class lists equal PSALM's reading of FC-CLIP's files") {
  const auto expected = io::read_json_file(psalm::testing::readers_dir() / "open_vocabulary.json");
  for (data::OpenVocabularySet set :
       {data::OpenVocabularySet::ade20k_150, data::OpenVocabularySet::pascal_context_59,
        data::OpenVocabularySet::pascal_context_459, data::OpenVocabularySet::pascal_voc_20}) {
    std::string key = data::to_string(set);
    std::replace(key.begin(), key.end(), '-', '_');
    INFO(key);
    const data::ClassList c = data::open_vocabulary_classes(set);
    const auto& e = expected[key];
    CHECK(c.names == e["names"].get<std::vector<std::string>>());
    CHECK(c.is_thing == e["is_thing"].get<std::vector<std::uint8_t>>());
    CHECK(c.ignore_label == e["ignore_label"].get<std::int32_t>());
    CHECK(data::parse_open_vocabulary_set(data::to_string(set)) == set);
  }
  const auto ade = data::open_vocabulary_classes(data::OpenVocabularySet::ade20k_150);
  CHECK(ade.names.size() == 150);
  CHECK(ade.names[0] == "wall,walls,brick wall,stone wall,interior wall");
  CHECK(data::open_vocabulary_classes(data::OpenVocabularySet::pascal_context_459).names[1] ==
        "aeroplane");  // first synonym only above 200 classes
  CHECK_THROWS_AS(data::parse_open_vocabulary_set("coco"), Error);
}

TEST_CASE("open vocabulary: the list format is parsed strictly") {
  CHECK(data::prompt_eng_names("0:invalid_class_id\r\n1:a,b\n\n2:c", "x.txt") ==
        std::vector<std::string>{"a,b", "c"});
  CHECK(data::prompt_eng_names("0:bg\n1:a", "x.txt", false) == std::vector<std::string>{"bg", "a"});
  CHECK_THROWS_WITH(data::parse_prompt_eng_list("1:a\n1:b", "x.txt"),
                    Catch::Contains("x.txt: line 2: id 1 does not follow 1"));
  CHECK_THROWS_WITH(data::parse_prompt_eng_list("1:a:b", "x.txt"),
                    Catch::Contains("x.txt: line 1: expected \"id:name\""));
  CHECK_THROWS_WITH(data::parse_prompt_eng_list("x:a", "x.txt"),
                    Catch::Contains("is not a small non-negative integer"));
  CHECK_THROWS_WITH(data::parse_prompt_eng_list("1:", "x.txt"), Catch::Contains("empty class"));
}

TEST_CASE("tiff labels: PASCAL Context 459's 16-bit TIFFs read as Pillow writes them") {
  const auto expected = psalm::testing::readers_expected()["semantic_tif"];
  const auto samples = data::read_semantic_folder(
      tiny_dir() / "semantic" / "images", tiny_dir() / "semantic" / "labels_tif", ".jpg", ".tif");
  REQUIRE(samples.size() == 1);
  const train::SemanticFolderSource source(
      samples, data::open_vocabulary_classes(data::OpenVocabularySet::pascal_context_459));
  const Example ex = source.example(0);
  CHECK(ex.class_names.size() == 459);
  CHECK(ex.target_labels == expected["labels"].get<std::vector<std::int64_t>>());
  REQUIRE(ex.num_targets() == 3);
  for (std::int64_t n = 0; n < 3; ++n)
    CHECK(mask_counts(ex.target_masks, n) ==
          expected["masks"][static_cast<std::size_t>(n)].get<std::string>());
}

TEST_CASE("tiff labels: big-endian strips read; malformed files are named errors") {
  // A 2 x 3 big-endian 16-bit image in two strips (rows per strip 1), written by hand.
  std::vector<std::uint8_t> b = {'M', 'M', 0, 42, 0, 0, 0, 8};
  const auto u16 = [&](unsigned v) { b.push_back(v >> 8), b.push_back(v & 255); };
  const auto u32 = [&](unsigned v) { u16(v >> 16), u16(v & 65535); };
  const auto entry = [&](unsigned tag, unsigned type, unsigned count, unsigned value) {
    u16(tag), u16(type), u32(count);
    if (type == 3 && count == 1) {
      u16(value), u16(0);
    } else {
      u32(value);
    }
  };
  const unsigned data_at = 8 + 2 + 8 * 12 + 4;
  u16(8);
  entry(256, 3, 1, 3);
  entry(257, 3, 1, 2);
  entry(258, 3, 1, 16);
  entry(259, 3, 1, 1);
  entry(262, 3, 1, 1);
  entry(273, 4, 2, data_at + 12);  // strip offsets: an array after the pixels
  entry(278, 3, 1, 1);
  entry(279, 4, 2, data_at + 20);  // strip byte counts
  u32(0);
  for (unsigned v : {1u, 2u, 300u, 65535u, 0u, 7u}) u16(v);
  u32(data_at), u32(data_at + 6);  // offsets
  u32(6), u32(6);                  // counts
  const auto labels = data::decode_tiff_labels(b, "be.tif");
  CHECK(labels.shape() == Shape{2, 3});
  CHECK(labels.to_vector() == std::vector<std::int32_t>{1, 2, 300, 65535, 0, 7});
  auto compressed = b;
  compressed[8 + 2 + 3 * 12 + 8 + 1] = 5;  // Compression = 5 (LZW)
  CHECK_THROWS_WITH(data::decode_tiff_labels(compressed, "be.tif"),
                    Catch::Contains("be.tif: TIFF compression 5 is not read"));
  CHECK_THROWS_WITH(
      data::decode_tiff_labels(std::vector<std::uint8_t>(b.begin(), b.end() - 20), "be.tif"),
      Catch::Contains("runs past the end of the file"));
  CHECK_THROWS_WITH(
      data::decode_tiff_labels(std::vector<std::uint8_t>{'P', 'K', 3, 4, 0, 0, 0, 0}, "x.tif"),
      Catch::Contains("x.tif: not a TIFF file"));
}
