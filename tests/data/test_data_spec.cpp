// Tests of psalm/train/data_spec.hpp: `--data` strings parse into kind / path / split / options,
// every kind opens on its published layout (the synthetic export's and the hand-made fixtures'
// folders, an FC-CLIP-style ADE20K folder), and a layout that does not fit names every path tried.
#include <catch2/catch.hpp>

#include "psalm/data/synthetic.hpp"
#include "psalm/train/data_spec.hpp"
#include "readers_support.hpp"

using namespace psalm;
using psalm::testing::tiny_dir;
namespace fs = std::filesystem;
namespace syn = psalm::data::synthetic;

namespace {

const fs::path& synth() {
  static const fs::path dir = [] {
    const fs::path d = psalm::testing::fresh_dir("psalm_test_data_spec");
    syn::ExportOptions o;
    o.out = d;
    o.split = syn::Split::val;
    o.count = 2;
    o.size = 64;
    o.seed = 3;
    o.videos = 1;
    o.video_frames = 2;
    syn::export_dataset(o);
    return d;
  }();
  return dir;
}

train::ExampleSource open(const std::string& text) {
  return train::open_example_source(train::parse_data_spec(text));
}

}  // namespace

TEST_CASE("data spec: kind, path, split and options parse; mistakes are named") {
  const auto s = train::parse_data_spec("coco-interactive:/d/coco:val:prompt=point:seed=4");
  CHECK(s.kind == "coco-interactive");
  CHECK(s.path == "/d/coco");
  CHECK(s.split == "val");
  CHECK(s.option("prompt") == "point");
  CHECK(s.option("seed") == "4");
  CHECK(train::parse_data_spec("davis:/d").split.empty());
  CHECK(train::parse_data_spec("refcoco:/d:images=/i").option("images") == "/i");
  CHECK_THROWS_WITH(train::parse_data_spec("coco"), Catch::Contains("expected <kind>:<path>"));
  CHECK_THROWS_WITH(train::parse_data_spec("lvis:/d"),
                    Catch::Contains("unknown dataset kind \"lvis\" (known: coco-panoptic"));
  CHECK_THROWS_WITH(train::parse_data_spec("davis:/d:val:colour=1"),
                    Catch::Contains("unknown option \"colour\""));
  CHECK_THROWS_WITH(train::parse_data_spec("davis:/d:val:test"),
                    Catch::Contains("\"test\" is neither the split"));
  CHECK_THROWS_WITH(train::parse_data_spec("davis:/d:seed=1:seed=2"),
                    Catch::Contains("option \"seed\" given twice"));
}

TEST_CASE("data spec: every kind opens on psalm synth's layout") {
  const std::string d = synth().string();
  const auto pan = open("coco-panoptic:" + d);  // split found as "val" after "val2017"
  CHECK(pan.size() == 2);
  CHECK(pan.example(0).task == Task::panoptic);
  CHECK(open("coco-panoptic:" + d + ":val:task=semantic").example(1).task == Task::semantic);
  CHECK(open("coco-instances:" + d + ":val").example(0).task == Task::instance);
  const auto ref = open("refcoco:" + d + ":val:sentences=each");
  CHECK(ref.size() > 2);
  CHECK(ref.example(0).task == Task::referring);
  CHECK(open("grefcoco:" + d + ":val").example(0).task == Task::gres);
  const auto inter = open("coco-interactive:" + d + ":val:prompt=box");
  CHECK(inter.size() == 2);
  CHECK(inter.example(0).num_regions() > 0);
  CHECK_THROWS_WITH(open("davis:" + d), Catch::Contains("open_davis"));
  const auto davis = train::open_davis(train::parse_data_spec("davis:" + d + "/davis"));
  CHECK(davis.size() == 1);
  CHECK(davis.frames(0) == 2);
}

TEST_CASE("data spec: converted files, image folders and FC-CLIP layouts are found") {
  const std::string t = tiny_dir().string();
  const auto ref = open("refcoco:" + t + "/refcoco.json:val:images=" + t + "/images");
  CHECK(ref.size() == 2);
  CHECK(ref.example(0).sentence == "the cat on the left. small cat");
  const auto gref = open("grefcoco:" + t + ":val:images=" + t + "/images");  // grefs(unc).json
  CHECK(gref.size() == 2);
  CHECK(gref.example(1).num_targets() == 0);
  const auto inter = open("coco-interactive:" + t +
                          "/coco_interactive.json:val:prompt=mask:images=" + t + "/images");
  CHECK(inter.example(0).num_regions() == 3);
  // ADE20K as FC-CLIP prepares it.
  const fs::path ade = psalm::testing::fresh_dir("psalm_test_data_spec_ade");
  fs::create_directories(ade / "images" / "validation");
  fs::create_directories(ade / "annotations_detectron2" / "validation");
  fs::copy_file(tiny_dir() / "semantic/images/a.jpg", ade / "images/validation/a.jpg");
  fs::copy_file(tiny_dir() / "semantic/labels/a.png",
                ade / "annotations_detectron2/validation/a.png");
  const auto sem = open("ade20k-150:" + ade.string());
  REQUIRE(sem.size() == 1);
  const Example ex = sem.example(0);
  CHECK(ex.task == Task::semantic);
  CHECK(ex.class_names.size() == 150);
  CHECK(ex.target_labels == std::vector<std::int64_t>{0, 2});
  // Nothing fits: every path tried is named.
  CHECK_THROWS_WITH(open("coco-panoptic:" + t + ":train2017"),
                    Catch::Contains("no annotation file found; tried:") &&
                        Catch::Contains("annotations/panoptic_train2017.json"));
  CHECK_THROWS_WITH(open("refcocog:" + t + ":test"),
                    Catch::Contains("refcocog_test.json") && Catch::Contains("test_psalm.json"));
  CHECK_THROWS_WITH(open("refcoco:" + t + "/refcoco.json:val:images=/nonexistent"),
                    Catch::Contains("no image folder (give images=DIR) found"));
  CHECK_THROWS_WITH(open("coco-interactive:" + t + "/coco_interactive.json:val:prompt=lasso"),
                    Catch::Contains("prompt=lasso (point, scribble, box or mask)"));
}
