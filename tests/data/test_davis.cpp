// Tests of psalm/data/davis.hpp and train/davis_examples.hpp on the hand-made DAVIS-2017 folder
// (tests/fixtures/data_readers/tiny/davis): sequences from ImageSets, frames and annotations paired
// by name, the annotation masks equal Pillow's palette indices, the objects are the first
// frame's (an object appearing at frame 2 is not one, void 255 is not one), a test-dev style
// sequence with only its first frame annotated, and broken folders named in errors.
#include <catch2/catch.hpp>

#include <fstream>

#include "psalm/data/davis.hpp"
#include "psalm/train/davis_examples.hpp"
#include "readers_support.hpp"

using namespace psalm;
using psalm::testing::mask_counts;
using psalm::testing::tiny_dir;
namespace fs = std::filesystem;

TEST_CASE("davis: sequences, frames and annotations read as Pillow reads them") {
  const auto expected = psalm::testing::readers_expected()["davis"];
  const train::DavisSource source = train::davis_source(tiny_dir() / "davis", "val");
  REQUIRE(source.size() == 2);
  CHECK(source.sequence(0).name == "seqA");
  CHECK(source.frames(0) == 4);
  CHECK(source.frames(1) == 3);
  for (std::int64_t i = 0; i < 2; ++i) {
    const auto& seq = source.sequence(i);
    const auto& frames = expected[seq.name];
    for (std::int64_t t = 0; t < source.frames(i); ++t) {
      INFO(seq.name << " frame " << t);
      const Tensor<std::uint8_t> image = source.frame(i, t);
      REQUIRE(image.shape() == Shape{24, 32, 3});
      REQUIRE(source.annotated(i, t) == (t < static_cast<std::int64_t>(frames.size())));
      if (!source.annotated(i, t)) continue;
      const Tensor<std::int32_t> ids = source.annotation(i, t, 24, 32);
      const auto& e = frames[static_cast<std::size_t>(t)];
      std::vector<std::int32_t> labels = ids.to_vector();
      std::sort(labels.begin(), labels.end());
      labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
      CHECK(labels == e["labels"].get<std::vector<std::int32_t>>());
      for (const auto& [k, counts] : e["masks"].items()) {
        const auto m = train::DavisSource::object_masks(ids, {std::stoi(k)});
        CHECK(mask_counts(m, 0) == counts.get<std::string>());
      }
    }
  }
}

TEST_CASE("davis: the objects are the first frame's; later ones and void are not objects") {
  const auto expected = psalm::testing::readers_expected()["davis"]["seqA"];
  const train::DavisSource source = train::davis_source(tiny_dir() / "davis");
  const train::VideoObjects objects = source.objects(0);
  CHECK(objects.ids == std::vector<std::int32_t>{1, 3});  // 2 appears at frame 2, 255 is void
  REQUIRE(objects.masks.size() == 2);
  CHECK(objects.masks[0].shape() == Shape{24, 32});
  CHECK(mask_counts(objects.masks[1].reshape({1, 24, 32}), 0) ==
        expected[0]["masks"]["3"].get<std::string>());
  // Later frames: masks of the first frame's objects, empty once an object has left.
  const auto later = train::DavisSource::object_masks(source.annotation(0, 2, 24, 32), objects.ids);
  CHECK(mask_counts(later, 0) == expected[2]["masks"]["1"].get<std::string>());
  const auto left = later.select(0, 1).to_vector();
  CHECK(std::all_of(left.begin(), left.end(), [](std::uint8_t v) { return v == 0; }));
  // The first frame as an interactive example prompted by its own masks.
  const Example ex = source.first_frame_example(0);
  CHECK(ex.task == Task::interactive);
  REQUIRE(ex.num_regions() == 2);
  CHECK(ex.prompt_masks.to_vector() == ex.target_masks.to_vector());
  CHECK(mask_counts(ex.prompt_masks, 0) == expected[0]["masks"]["1"].get<std::string>());
  CHECK_FALSE(source.annotated(1, 1));
  CHECK_THROWS_WITH(source.annotation(1, 1, 24, 32), Catch::Contains("frame 1 has no annotation"));
}

TEST_CASE("davis: broken folders are errors that name the path") {
  const fs::path dir = psalm::testing::fresh_dir("psalm_test_davis_broken");
  fs::copy(tiny_dir() / "davis", dir, fs::copy_options::recursive);
  CHECK_THROWS_WITH(data::read_davis(dir, "train"),
                    Catch::Contains("train.txt: cannot open DAVIS split file: not found"));
  // The split list is read whole by io::read_file: a folder in its place is named, not read.
  fs::create_directories(dir / "ImageSets" / "2017" / "folder.txt");
  CHECK_THROWS_WITH(data::read_davis(dir, "folder"),
                    Catch::Contains("folder.txt: is a folder, not a regular file (DAVIS split"));
  std::ofstream(dir / "ImageSets" / "2017" / "dup.txt") << "seqA\nseqA\n";
  CHECK_THROWS_WITH(data::read_davis(dir, "dup"), Catch::Contains("line 2: sequence \"seqA\" is "
                                                                  "listed twice"));
  std::ofstream(dir / "ImageSets" / "2017" / "bad.txt") << "../seqA\n";
  CHECK_THROWS_WITH(data::read_davis(dir, "bad"), Catch::Contains("is not a sequence name"));
  std::ofstream(dir / "ImageSets" / "2017" / "missing.txt") << "seqC\n";
  CHECK_THROWS_WITH(data::read_davis(dir, "missing"), Catch::Contains("DAVIS folder not found"));
  // An annotation without a frame, and a first frame without an annotation.
  fs::copy_file(dir / "Annotations/480p/seqB/00000.png", dir / "Annotations/480p/seqB/00009.png");
  CHECK_THROWS_WITH(data::read_davis(dir, "val"),
                    Catch::Contains("00009.png: annotation without a frame"));
  fs::remove(dir / "Annotations/480p/seqB/00009.png");
  fs::remove(dir / "Annotations/480p/seqB/00000.png");
  CHECK_THROWS_WITH(data::read_davis(dir, "val"),
                    Catch::Contains("the first frame of sequence \"seqB\" has no annotation"));
  // An annotation of another size than its frame.
  const auto ok = data::read_davis(tiny_dir() / "davis");
  CHECK_THROWS_WITH(data::load_davis_annotation(ok.sequences[0], 0, 24, 30),
                    Catch::Contains("00000.png: annotation of 24 x 32 but the frame is 24 x 30"));
}
