// Tests of psalm/data/synthetic/export.hpp: an exported dataset reads back (JSON, RLE, panoptic
// and semantic PNGs, DAVIS indexed PNGs) to the in-memory scenes, and pycocotools' view of the
// exported JSON (tests/fixtures/synthetic/pycocotools_check.json, written by
// tools/reference/synthetic_check.py) matches our areas, boxes and RLE strings.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "psalm/data/synthetic.hpp"
#include "support/fixtures.hpp"

using namespace psalm::data::synthetic;
namespace fs = std::filesystem;

namespace {

// The dataset the reference script checked: keep in sync with synthetic_check.py's docstring.
ExportOptions check_options(const fs::path& out) {
  ExportOptions o;
  o.out = out;
  o.split = Split::val;
  o.count = 4;
  o.size = 96;
  o.seed = 7;
  o.videos = 1;
  o.video_frames = 3;
  return o;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("synthetic export: every format reads back to the in-memory scenes") {
  const fs::path dir = fs::temp_directory_path() / "psalm_test_synthetic_export";
  fs::remove_all(dir);
  const ExportOptions o = check_options(dir);
  std::int64_t calls = 0;
  export_dataset(o, [&](std::string_view, std::int64_t, std::int64_t) { ++calls; });
  REQUIRE(calls == o.count + o.videos);
  const auto inst = read_json(dir / "instances_val.json");
  const auto pan = read_json(dir / "panoptic_val.json");
  REQUIRE(inst["images"].size() == 4);
  std::size_t a = 0;
  for (std::int64_t i = 0; i < o.count; ++i) {
    const Scene s = generate_scene(scene_options(o), scene_index(o.split, i));
    // The image file holds the rendered bytes (PNG is lossless).
    const auto img = psalm::io::load_image(dir / "images" / "val" / image_file_name(i + 1));
    REQUIRE(img.to_vector() == s.image.to_vector());
    for (const Object& ob : s.objects) {
      const auto& ann = inst["annotations"][a++];
      REQUIRE(ann["image_id"] == i + 1);
      REQUIRE(psalm::io::rle_from_json(ann["segmentation"]) == visible_rle(s, ob.id));
    }
    // Panoptic PNG ids and segment areas; semantic labels.
    const auto ids = psalm::io::panoptic_ids_from_rgb(
        psalm::io::load_image(dir / "panoptic_val" / image_file_name(i + 1)));
    std::vector<std::int32_t> want;
    panoptic_segments(s, &want);
    REQUIRE(ids.to_vector() == want);
    for (const auto& seg : pan["annotations"][std::size_t(i)]["segments_info"]) {
      const auto id = seg["id"].get<std::int32_t>();
      REQUIRE(std::count(want.begin(), want.end(), id) == seg["area"].get<std::int64_t>());
    }
    const auto labels = psalm::io::load_label_png(dir / "semantic_val" / image_file_name(i + 1));
    const auto sem = semantic_map(s);
    REQUIRE(labels.to_vector() == std::vector<std::int32_t>(sem.begin(), sem.end()));
  }
  REQUIRE(a == inst["annotations"].size());
  // Referring entries resolve to their annotation; gRefCOCO no-target entries have no anns.
  // Their ground truth also as mask PNGs named by ref_id / annotation id, equal to the RLEs.
  const auto mask_rle = [](const fs::path& png) {
    const auto m = psalm::io::load_binary_mask(png).contiguous();
    return psalm::io::rle_encode(m.data(), m.size(0), m.size(1));
  };
  const auto refs = read_json(dir / "refcoco_val.json");
  REQUIRE(!refs.empty());
  for (const auto& r : refs) {
    REQUIRE(!r["instruction"].empty());
    REQUIRE(r["anns"].size() == 1);
    REQUIRE(mask_rle(dir / "refcoco_val" / image_file_name(r["ref_id"].get<std::int64_t>())) ==
            psalm::io::rle_from_json(r["anns"][0]["segmentation"]));
  }
  int none = 0;
  for (const auto& r : read_json(dir / "grefcoco_val.json")) {
    REQUIRE(r["no_target"].get<bool>() == r["anns"].empty());
    none += r["no_target"].get<bool>();
    const auto png =
        mask_rle(dir / "grefcoco_val" / image_file_name(r["ref_id"].get<std::int64_t>()));
    std::vector<psalm::io::Rle> parts;
    for (const auto& a : r["anns"]) parts.push_back(psalm::io::rle_from_json(a["segmentation"]));
    REQUIRE(psalm::io::rle_area(png) ==
            (parts.empty() ? 0 : psalm::io::rle_area(psalm::io::rle_merge(parts))));
  }
  REQUIRE(none > 0);
  const auto inter = read_json(dir / "coco_interactive_val_psalm.json");
  for (const auto& ann : inter["annotations"]) {
    for (const char* key : {"point_visual_prompt_mask", "scribble_visual_prompt_mask",
                            "box_visual_prompt_mask", "mask_visual_prompt_mask"})
      REQUIRE(psalm::io::rle_area(psalm::io::rle_from_json(ann[key])) > 0);
    for (const char* type : {"point", "scribble", "box", "mask"})
      REQUIRE(mask_rle(dir / "interactive_val" / type /
                       image_file_name(ann["id"].get<std::int64_t>())) ==
              psalm::io::rle_from_json(ann["segmentation"]));
  }
  // DAVIS: indexed PNG annotations hold the object ids of each frame.
  VideoOptions vo;
  vo.scene = scene_options(o);
  vo.frames = 3;
  const Video v = generate_video(vo, scene_index(o.split, 0) + (1ull << 32));
  for (int t = 0; t < 3; ++t) {
    char name[16];
    std::snprintf(name, sizeof name, "%05d.png", t);
    const auto png = psalm::io::load_indexed_png(dir / "davis/Annotations/480p/val_0000" / name);
    const auto got = png.indices.to_vector();
    for (std::size_t p = 0; p < got.size(); ++p) REQUIRE(int(got[p]) == v.frames[t].object_map[p]);
  }
  REQUIRE(fs::exists(dir / "davis/JPEGImages/480p/val_0000/00002.jpg"));
  REQUIRE(fs::exists(dir / "davis/ImageSets/2017/val.txt"));
  fs::remove_all(dir);
}

TEST_CASE("synthetic export: pycocotools reports our areas, boxes and RLE strings") {
  const auto fixture = psalm::testing::load_json("synthetic/pycocotools_check.json");
  const ExportOptions o = check_options("unused");
  std::vector<nlohmann::json> anns;
  std::int64_t next = 1;
  for (std::int64_t i = 0; i < o.count; ++i) {
    const Scene s = generate_scene(scene_options(o), scene_index(o.split, i));
    for (auto& a : instance_annotations(s, i + 1, next)) anns.push_back(a);
  }
  REQUIRE(fixture["instances"].size() == anns.size());
  for (std::size_t k = 0; k < anns.size(); ++k) {
    const auto& want = fixture["instances"][k];
    INFO("annotation " << k);
    REQUIRE(anns[k]["id"] == want["id"]);
    REQUIRE(anns[k]["area"].get<std::int64_t>() == want["area"].get<std::int64_t>());
    REQUIRE(anns[k]["bbox"].get<std::vector<double>>() == want["bbox"].get<std::vector<double>>());
    REQUIRE(anns[k]["segmentation"]["counts"] == want["counts"]);
  }
  // Panoptic segment areas as pycocotools-era panopticapi computes them from the PNG.
  for (std::int64_t i = 0; i < o.count; ++i) {
    const Scene s = generate_scene(scene_options(o), scene_index(o.split, i));
    const auto segs = panoptic_segments(s);
    const auto& want = fixture["panoptic"][std::size_t(i)];
    REQUIRE(want.size() == segs.size());
    for (const auto& g : segs) REQUIRE(want[std::to_string(g.id)].get<std::int64_t>() == g.area);
  }
  // Prompt masks: pycocotools areas of the exported interactive RLEs.
  std::int64_t id = 1;
  std::size_t k = 0;
  for (std::int64_t i = 0; i < o.count; ++i) {
    const Scene s = generate_scene(scene_options(o), scene_index(o.split, i));
    for (const auto& a : interactive_annotations(s, i + 1, id)) {
      const auto& want = fixture["interactive"][k++];
      for (const char* key : {"point", "scribble", "box", "mask"})
        REQUIRE(psalm::io::rle_area(psalm::io::rle_from_json(
                    a[std::string(key) + "_visual_prompt_mask"])) == want[key].get<std::int64_t>());
    }
  }
}

// Not run by default: writes the dataset the reference script reads.
// ./test_data "[.synthetic_export]" with PSALM_SYNTH_EXPORT_DIR set.
TEST_CASE("synthetic export: write the reference dataset", "[.synthetic_export]") {
  const char* dir = std::getenv("PSALM_SYNTH_EXPORT_DIR");
  REQUIRE(dir != nullptr);
  ExportOptions o = check_options(dir);
  o.overwrite = true;  // a rerun replaces the previous export
  export_dataset(o);
}

TEST_CASE("synthetic export: unknown tasks and out-of-range options are errors before writing") {
  const fs::path dir = fs::temp_directory_path() / "psalm_synth_bad";
  fs::remove_all(dir);
  ExportOptions o = check_options(dir);
  o.tasks = {"panoptic", "depth"};
  REQUIRE_THROWS_AS(export_dataset(o), psalm::Error);
  o = check_options(dir);
  o.video_frames = 1;
  REQUIRE_THROWS_WITH(export_dataset(o), Catch::Contains("outside 2 .. 64"));
  o = check_options(dir);
  o.count = kMaxExportScenes + 1;
  REQUIRE_THROWS_WITH(export_dataset(o), Catch::Contains("count"));
  REQUIRE(!fs::exists(dir));
}

TEST_CASE("synthetic export: a non-empty folder needs overwrite, which replaces only the export") {
  const fs::path dir = fs::temp_directory_path() / "psalm_test_synthetic_overwrite";
  fs::remove_all(dir);
  ExportOptions o = check_options(dir);
  o.count = 3;
  o.videos = 2;
  export_dataset(o);
  std::ofstream(dir / "mine.txt") << "kept";
  o.count = 1;
  o.videos = 1;
  REQUIRE_THROWS_WITH(export_dataset(o), Catch::Contains("not empty"));
  REQUIRE(fs::exists(dir / "images" / "val" / image_file_name(3)));
  o.overwrite = true;
  export_dataset(o);
  REQUIRE(!fs::exists(dir / "images" / "val" / image_file_name(2)));
  REQUIRE(!fs::exists(dir / "panoptic_val" / image_file_name(2)));
  REQUIRE(!fs::exists(dir / "davis" / "Annotations" / "480p" / "val_0001"));
  REQUIRE(fs::exists(dir / "davis" / "Annotations" / "480p" / "val_0000"));
  REQUIRE(read_json(dir / "instances_val.json")["images"].size() == 1);
  REQUIRE(fs::exists(dir / "mine.txt"));
  fs::remove_all(dir);
}
