// Tests of `psalm segment` (tools/commands/segment.hpp), run as the built program on a randomly
// initialised psalm_tiny model folder: every output is read back (mask PNGs against the RLE of
// results.json, the overlay, panoptic PNG + segments_info through the COCO panoptic reader
// and PanopticQuality, semantic label PNGs, DAVIS index PNGs through VideoEvaluator, COCO results
// through the COCO evaluator), the answers equal psalm::Segmenter's, and bad input exits with
// code 2 leaving --out as it was.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "psalm/data/coco_panoptic.hpp"
#include "psalm/eval/coco_instance.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/eval/video.hpp"
#include "psalm/io/image.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/psalm/visual_prompt.hpp"
#include "support/cli_program.hpp"
#include "support/rle.hpp"
#include "support/tiny_model.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using testing::ProgramRun;
using testing::psalm_program;
using testing::slurp;
namespace fs = std::filesystem;

namespace {

/// The inputs every test shares: two images, a mask prompt and a model folder.
struct Inputs {
  testing::TempDir dir{"segment_inputs"};
  fs::path a = dir.path / "a.png", b = dir.path / "b.jpg", mask = dir.path / "m.png";
  Inputs() {
    io::save_png(a, testing::two_shape_scene(48, 64));
    io::save_jpeg(b, testing::two_shape_scene(40, 40));
    Tensor<std::uint8_t> m = Tensor<std::uint8_t>::zeros(Shape{48, 64});
    for (std::int64_t y = 20; y < 30; ++y)
      for (std::int64_t x = 30; x < 50; ++x) m.data()[y * 64 + x] = 1;
    io::save_binary_mask(mask, m);
  }
  std::string model() const { return testing::tiny_model_folder().string(); }
};

const Inputs& inputs() {
  static Inputs in;
  return in;
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(slurp(p)); }

}  // namespace

TEST_CASE("psalm segment: several images and prompts, every output read back", "[cli][segment]") {
  const Inputs& in = inputs();
  testing::TempDir out("segment_out");
  const ProgramRun r = psalm_program(
      {"segment", in.a.string(), in.b.string(), "--model", in.model(), "--out", out.path.string(),
       "--json", "--text", "the red square", "--classes", "square, disc", "--point", "10,12",
       "--box", "5,5,30,20", "--scribble", "2,2;20,30;35,30"});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  const nlohmann::json summary = nlohmann::json::parse(r.out);
  CHECK(summary == read_json(out.path / "summary.json"));
  REQUIRE(summary["images"].size() == 2);
  const nlohmann::json results = read_json(out.path / "results.json");
  // The COCO results load into the COCO evaluator, and each one is a mask PNG of the summary.
  const std::vector<eval::CocoDetection> detections = eval::coco_detections_from_json(results);
  std::size_t listed = 0;
  for (const auto& image : summary["images"]) {
    const std::int64_t h = image["height"], w = image["width"];
    REQUIRE(image["prompts"].size() == 3);
    CHECK(image["prompts"][0]["task"] == "referring");
    CHECK(image["prompts"][1]["task"] == "panoptic");
    CHECK(image["prompts"][2]["task"] == "interactive");
    CHECK(image["prompts"][0]["masks"].size() == 1);
    CHECK(image["prompts"][2]["masks"].size() == 3);  // one per region
    for (const auto& p : image["prompts"]) {
      const Tensor<std::uint8_t> overlay =
          io::load_image(out.path / p["overlay"].get<std::string>());
      CHECK(overlay.size(1) >= w);
      CHECK(overlay.size(0) > h);  // the legend sits below the image
      for (const auto& m : p["masks"]) {
        const Tensor<std::uint8_t> png =
            io::load_binary_mask(out.path / m["file"].get<std::string>());
        REQUIRE(png.shape() == Shape{h, w});
        // Its results.json entry (same order) decodes to the same pixels.
        const auto& res = results[listed];
        CHECK(res["image_id"] == image["id"]);
        CHECK(res["score"] == m["score"]);
        CHECK(testing::decode_coco_rle(res["segmentation"]).to_vector() == png.to_vector());
        CHECK(detections[listed].segmentation.height == h);
        std::int64_t area = 0;
        for (std::uint8_t v : png.to_vector()) area += v;
        CHECK(m["area"] == area);
        ++listed;
      }
    }
    // Panoptic: the PNG and segments_info through the COCO panoptic reader (which checks every
    // PNG id is a listed segment), scored against itself.
    const auto& pan = image["prompts"][1];
    const data::CocoPanoptic pj =
        data::read_coco_panoptic(out.path / pan["panoptic_json"].get<std::string>());
    REQUIRE(pj.annotations.size() == 1);
    CHECK(pj.categories.size() == 2);
    const data::PanopticAnnotationRecord& annotation = pj.annotations.front();
    const std::int64_t image_id = annotation.image_id;
    CHECK(image_id == image["id"]);
    const Tensor<std::int32_t> ids = data::load_panoptic_ids(
        out.path / pan["panoptic_png"].get<std::string>(), annotation, h, w);  // (H, W)
    std::map<std::int64_t, std::int64_t> area;
    for (std::int32_t v : ids.to_vector()) ++area[v];
    std::int64_t covered = 0;
    std::vector<eval::PanopticSegment> segments;
    for (const data::PanopticSegmentRecord& r : annotation.segments) {
      CHECK(static_cast<std::int64_t>(r.area) == area[r.id]);
      covered += area[r.id];
      segments.push_back({r.id, r.category_id, r.iscrowd, area[r.id]});
    }
    CHECK(covered + area[0] == h * w);
    CHECK(segments.size() == pan["masks"].size());
    std::vector<eval::PanopticCategory> categories;
    for (const data::CocoCategoryRecord& c : pj.categories)
      categories.push_back({c.id, c.isthing, c.name});
    const eval::LabelView view{ids.data(), ids.size(0), ids.size(1)};
    eval::PanopticQuality pq(categories);
    pq.add_image(image_id, view, segments, view, segments);
    if (!segments.empty()) CHECK(pq.result().all.pq == Approx(1.0));
  }
  CHECK(listed == results.size());
  CHECK(detections.size() == results.size());
}

TEST_CASE("psalm segment: the program's answers are the library's", "[cli][segment]") {
  const Inputs& in = inputs();
  testing::TempDir out("segment_same");
  const ProgramRun r = psalm_program({"segment", in.a.string(), "--model", in.model(), "--out",
                                      out.path.string(), "--gres", "--text", "all discs", "--mask",
                                      in.mask.string(), "--point", "40,25"});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  CHECK_THAT(r.out, Catch::Matchers::Contains("wrote " +
                                              fs::absolute(out.path).lexically_normal().string()));
  Segmenter seg = Segmenter::load(in.model());
  const Tensor<std::uint8_t> image = io::load_image(in.a, {.channels = 3});
  EncodedImage encoded = seg.encode(image);
  const nlohmann::json summary = read_json(out.path / "summary.json");
  const auto& prompts = summary["images"][0]["prompts"];
  const Segmentation gres = seg.segment(encoded, SegmentPrompt::gres("all discs"));
  CHECK(prompts[0]["no_target"] == gres.no_target);
  REQUIRE(prompts[0]["masks"].size() == gres.masks.size());
  if (!gres.masks.empty())
    CHECK(io::load_binary_mask(out.path / prompts[0]["masks"][0]["file"].get<std::string>())
              .to_vector() == gres.masks[0].mask.to_vector());
  const Segmentation regions = seg.segment(
      encoded, SegmentPrompt::interactive({VisualPrompt::from_mask(io::load_binary_mask(in.mask)),
                                           VisualPrompt::point(40, 25)}));
  REQUIRE(prompts[1]["masks"].size() == 2);
  CHECK(prompts[1]["masks"][0]["label"] == "mask");
  CHECK(prompts[1]["masks"][1]["label"] == "point");
  for (std::size_t k = 0; k < 2; ++k) {
    CHECK(io::load_binary_mask(out.path / prompts[1]["masks"][k]["file"].get<std::string>())
              .to_vector() == regions.masks[k].mask.to_vector());
    CHECK(prompts[1]["masks"][k]["score"].get<double>() ==
          Approx(regions.masks[k].score).epsilon(tol::segment_program_score_rtol));
  }
}

TEST_CASE("psalm segment: --dtype bf16 answers with the library's bf16 weights",
          "[cli][segment][bf16]") {
  const Inputs& in = inputs();
  testing::TempDir out("segment_bf16");
  const ProgramRun r = psalm_program({"segment", in.a.string(), "--model", in.model(), "--out",
                                      out.path.string(), "--dtype", "bf16", "--point", "40,25"});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  Segmenter seg = Segmenter::load(in.model(), {.weights_in_bf16 = true});
  const Segmentation want = seg.segment(io::load_image(in.a, {.channels = 3}),
                                        SegmentPrompt::interactive({VisualPrompt::point(40, 25)}));
  const nlohmann::json summary = read_json(out.path / "summary.json");
  const auto& masks = summary["images"][0]["prompts"][0]["masks"];
  REQUIRE(masks.size() == 1);
  CHECK(io::load_binary_mask(out.path / masks[0]["file"].get<std::string>()).to_vector() ==
        want.masks[0].mask.to_vector());
}

TEST_CASE("psalm segment: instance and semantic outputs", "[cli][segment]") {
  const Inputs& in = inputs();
  testing::TempDir out("segment_classes");
  ProgramRun r =
      psalm_program({"segment", in.a.string(), "--model", in.model(), "--out", out.path.string(),
                     "--classes", "square, disc, floor", "--task", "instance"});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  // COCO results scored against ground truth made of their own non-empty masks.
  const nlohmann::json results = read_json(out.path / "results.json");
  nlohmann::json gt{{"images", {{{"id", 1}, {"height", 48}, {"width", 64}}}},
                    {"categories", {{{"id", 1}}, {{"id", 2}}, {{"id", 3}}}},
                    {"annotations", nlohmann::json::array()}};
  for (const auto& res : results) {
    const io::Rle rle = io::rle_from_json(res["segmentation"]);
    if (io::rle_area(rle) == 0) continue;
    gt["annotations"].push_back({{"id", gt["annotations"].size() + 1},
                                 {"image_id", 1},
                                 {"category_id", res["category_id"]},
                                 {"segmentation", res["segmentation"]},
                                 {"area", io::rle_area(rle)},
                                 {"iscrowd", 0}});
  }
  if (!gt["annotations"].empty()) {
    const eval::CocoInstanceResult coco = eval::evaluate_coco_instance(gt, results);
    CHECK(coco.stats[1] > 0.9);  // AP50: every mask finds itself
  }
  r = psalm_program({"segment", in.a.string(), "--model", in.model(), "--out", out.path.string(),
                     "--classes", "square, disc, floor", "--task", "semantic"});
  REQUIRE(r.rc == 0);  // an earlier output in --out is replaced
  CHECK_FALSE(fs::exists(out.path / "a" / "p0_instance"));
  const nlohmann::json summary = read_json(out.path / "summary.json");
  const auto& p = summary["images"][0]["prompts"][0];
  CHECK(p["task"] == "semantic");
  const Tensor<std::int32_t> labels =
      io::load_label_png(out.path / p["semantic_png"].get<std::string>());
  REQUIRE(labels.shape() == Shape{48, 64});
  std::vector<std::int64_t> cover(48 * 64, 0);
  for (const auto& m : p["masks"]) {
    const auto bits = io::load_binary_mask(out.path / m["file"].get<std::string>()).to_vector();
    const std::int64_t label = m["category_id"].get<std::int64_t>() - 1;
    for (std::size_t i = 0; i < bits.size(); ++i) {
      cover[i] += bits[i];
      if (bits[i]) CHECK(labels.data()[i] == label);
    }
  }
  CHECK(std::all_of(cover.begin(), cover.end(), [](std::int64_t c) { return c == 1; }));
}

TEST_CASE("psalm segment: video objects in the DAVIS layout", "[cli][segment]") {
  const Inputs& in = inputs();
  testing::TempDir data("segment_video"), out("segment_video_out");
  fs::create_directories(data.path / "bear");
  for (int t = 0; t < 3; ++t)
    io::save_jpeg(data.path / "bear" / ("0000" + std::to_string(t) + ".jpg"),
                  testing::two_shape_scene(36, 48, 2 * t));
  Tensor<std::uint8_t> anno = Tensor<std::uint8_t>::zeros(Shape{36, 48});
  for (std::int64_t y = 10; y < 17; ++y)
    for (std::int64_t x = 7; x < 15; ++x) anno.data()[y * 48 + x] = 1;
  for (std::int64_t y = 20; y < 28; ++y)
    for (std::int64_t x = 28; x < 36; ++x) anno.data()[y * 48 + x] = 3;
  io::save_indexed_png(data.path / "00000.png", anno, io::davis_palette());
  const ProgramRun r = psalm_program({"segment", "--video", (data.path / "bear").string(),
                                      "--first-mask", (data.path / "00000.png").string(), "--model",
                                      in.model(), "--out", out.path.string()});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  const nlohmann::json summary = read_json(out.path / "summary.json");
  CHECK(summary["objects"] == nlohmann::json::array({1, 3}));
  REQUIRE(summary["frames"].size() == 3);
  std::vector<Tensor<std::int32_t>> frames;  // per frame (H, W) object ids
  for (int t = 0; t < 3; ++t) {
    const fs::path png = out.path / "bear" / ("0000" + std::to_string(t) + ".png");
    const io::IndexedImage indexed = io::load_indexed_png(png);
    REQUIRE(indexed.indices.shape() == Shape{36, 48});
    for (std::uint8_t v : indexed.indices.to_vector()) CHECK((v == 0 || v == 1 || v == 3));
    frames.push_back(io::load_label_png(png).contiguous());  // (H, W)
    CHECK(fs::exists(out.path / "overlay" / ("0000" + std::to_string(t) + ".png")));
  }
  // The index maps load into the J&F evaluator (scored against themselves).
  eval::VideoEvaluator vos;
  std::vector<eval::LabelView> views;
  for (const auto& f : frames) views.push_back({f.data(), f.size(0), f.size(1)});
  vos.add_sequence("bear", views, views);
  CHECK(vos.result().jf_mean == Approx(1.0));
}

TEST_CASE("psalm segment: bad input exits with 2 and leaves --out as it was", "[cli][segment]") {
  const Inputs& in = inputs();
  testing::TempDir work("segment_errors");
  const fs::path out = work.path / "out";
  const ProgramRun ok = psalm_program({"segment", in.a.string(), "--model", in.model(), "--out",
                                       out.string(), "--text", "the disc"});
  REQUIRE(ok.rc == 0);
  const std::string before = slurp(out / "summary.json");
  std::ofstream(work.path / "broken.png") << "not an image";
  fs::create_directories(work.path / "empty");
  // A point that disappears when the 600 x 600 image is resized to the model's 128 x 128.
  io::save_png(work.path / "big.png", testing::two_shape_scene(600, 600));
  std::int64_t lost = -1;
  for (std::int64_t x = 0; x < 600 && lost < 0; ++x) {
    Tensor<std::uint8_t> one = Tensor<std::uint8_t>::zeros(Shape{600, 600});
    one.data()[x * 600 + x] = 1;
    const auto t = resize_pad_mask(one, 128).to_vector();
    if (std::none_of(t.begin(), t.end(), [](std::uint8_t v) { return v != 0; })) lost = x;
  }
  REQUIRE(lost >= 0);
  const std::string lost_box = std::to_string(lost) + "," + std::to_string(lost) + "," +
                               std::to_string(lost) + "," + std::to_string(lost);
  const std::string a = in.a.string(), model = in.model(), o = out.string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"segment", a, "--model", model, "--out", o, "--point", "64,10"}, "outside the 64x48 image"},
      {{"segment", a, "--model", model, "--out", o, "--box", "1,2,3"},
       "must be 4 comma-separated numbers"},
      {{"segment", a, "--model", model, "--out", o, "--scribble", "1,2;x,4"},
       "'x' is not a finite number"},
      {{"segment", a, "--model", model, "--out", o, "--point", "nan,4"},
       "'nan' is not a finite number"},
      {{"segment", a, "--model", model, "--out", o, "--point", "3,4px"}, "'4px' is not a finite"},
      {{"segment", a, "--model", model, "--out", o, "--out", o, "--text", "x"},
       "option --out is given more than once"},
      {{"segment", a, "--model", model, "--out", o, "--classes", " , "}, "lists no class name"},
      {{"segment", a, "--model", model, "--out", o, "--text", " "}, "--text is empty"},
      {{"segment", a, "--model", model, "--out", o}, "no prompt"},
      {{"segment", a, "--model", model, "--out", o, "--task", "instance", "--text", "x"},
       "--task applies to --classes"},
      {{"segment", a, "--model", model, "--out", o, "--classes", "a", "--task", "bogus"},
       "--task must be"},
      {{"segment", a, "--model", model, "--out", o, "--text", "x", "--dtype", "f16"},
       "--dtype must be f32 or bf16, got \"f16\""},
      {{"segment", a, "--model", model, "--out", o, "--classes", "a", "--stuff", "b"},
       "no --classes list holds"},
      {{"segment", (work.path / "broken.png").string(), "--model", model, "--out", o, "--text",
        "x"},
       "broken.png"},
      {{"segment", (work.path / "absent.png").string(), "--model", model, "--out", o, "--text",
        "x"},
       "absent.png"},
      {{"segment", (work.path / "empty").string(), "--model", model, "--out", o, "--text", "x"},
       "holds no PNG"},
      {{"segment", a, "--model", (work.path / "empty").string(), "--out", o, "--text", "x"},
       "not a PSALM model folder"},
      {{"segment", a, "--model", (work.path / "nope").string(), "--out", o, "--text", "x"},
       "does not exist"},
      {{"segment", in.b.string(), "--model", model, "--out", o, "--mask", in.mask.string()},
       "like the image"},
      {{"segment", (work.path / "big.png").string(), "--model", model, "--out", o, "--box",
        lost_box},
       "covers no pixel after resizing"},
      {{"segment", "--video", (work.path / "empty").string(), "--first-mask", in.mask.string(),
        "--model", model, "--out", o},
       "no frame image"},
      {{"segment", "--video", (work.path / "empty").string(), "--model", model, "--out", o},
       "--video needs --first-mask"},
      {{"segment", "--video", (work.path / "empty").string(), "--first-mask", in.mask.string(),
        "--gres", "--model", model, "--out", o},
       "--gres does not apply to --video"},
      {{"segment", a, "--first-mask", in.mask.string(), "--model", model, "--out", o, "--text",
        "x"},
       "--first-mask needs --video"},
      {{"segment", a, "--model", model, "--out", work.path.string(), "--text", "x"}, "not empty"},
  };
  for (const auto& [args, message] : cases) {
    INFO(message);
    const ProgramRun r = psalm_program(args);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err,
               Catch::Matchers::Contains("psalm: error:") && Catch::Matchers::Contains(message));
    CHECK(slurp(out / "summary.json") == before);
  }
  // No temporary folder is left beside --out.
  for (const auto& e : fs::directory_iterator(work.path))
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
}
