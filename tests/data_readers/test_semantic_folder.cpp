// Tests of psalm/data/semantic_folder.hpp, open_vocabulary.hpp and train/semantic_examples.hpp:
// a semantic folder pairs images and label maps by name (an image without labels is left out),
// examples hold one mask per class present (ignore left out), labels outside the class list are
// errors; the open-vocabulary class lists equal what PSALM's evaluation derives from FC-CLIP's
// files (tests/data/data_readers/open_vocabulary.json, tools/reference/open_vocabulary_lists.py).
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
