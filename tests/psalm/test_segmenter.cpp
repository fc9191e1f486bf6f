// Tests of psalm/psalm/segmenter.hpp (and inference/task_inference.hpp): a randomly initialised
// psalm_tiny saved as a model folder is loaded; every task's answer through the encoded image
// (a second prompt, cached vision side and prefix) equals the evaluation path's answer
// (InputEncoder::encode -> collate -> PsalmModel -> task_inference) bit for bit; answers are at
// the original size; bad folders and bad prompts are clear errors; video objects run end to end.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "psalm/psalm/segmenter.hpp"
#include "support/tiny_model.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

const fs::path& model_folder() { return testing::tiny_model_folder(); }

Segmenter& shared_segmenter() {
  static Segmenter s = Segmenter::load(model_folder());
  return s;
}

/// The evaluation path's answer: the request encoded with its image, one batch, the whole model.
TaskPrediction reference_answer(Segmenter& seg, const Tensor<std::uint8_t>& image,
                                const SegmentPrompt& prompt) {
  Example ex = seg.example_of(prompt, image.size(0), image.size(1));
  ex.image = image;
  const autograd::NoGrad no_grad;
  const EncodedExample encoded = seg.encoder().encode(ex);
  const EncodedBatch batch = collate(std::span<const EncodedExample>(&encoded, 1));
  const PsalmOutput<float> out = seg.model()(batch.inputs);
  return task_inference(ex.task, sample_outputs(out.last(), 0), batch.geometries[0],
                        example_categories(ex), seg.options().inference);
}

void require_same_mask(const Tensor<std::uint8_t>& a, const Tensor<std::uint8_t>& b) {
  REQUIRE(a.shape() == b.shape());
  CHECK(a.to_vector() == b.to_vector());
}

/// Scores equal exactly (tolerance 0) or to a relative tolerance (one assertion per list).
void require_close_scores(const std::vector<float>& got, const std::vector<float>& want,
                          double rtol) {
  REQUIRE(got.size() == want.size());
  double worst = 0.0;  // the largest |got - want| / max(|want|, 1)
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]) /
                                std::max(1.0, std::abs(static_cast<double>(want[i]))));
  if (rtol == 0.0)
    CHECK(got == want);
  else
    CHECK(worst <= rtol);
}

/// The same masks, labels and chosen queries (bit for bit); scores to `rtol` (0: exactly).
void require_same_answer(const TaskPrediction& got, const TaskPrediction& want, double rtol = 0.0) {
  REQUIRE(got.task == want.task);
  switch (got.task) {
    case Task::panoptic:
      CHECK(got.panoptic.segment_ids.to_vector() == want.panoptic.segment_ids.to_vector());
      CHECK(got.panoptic.queries == want.panoptic.queries);
      CHECK(got.panoptic.labels == want.panoptic.labels);
      break;
    case Task::instance: {
      REQUIRE(got.instance.detections.size() == want.instance.detections.size());
      std::vector<float> a, b;
      for (std::size_t i = 0; i < got.instance.detections.size(); ++i) {
        CHECK(got.instance.detections[i].segmentation.counts ==
              want.instance.detections[i].segmentation.counts);
        CHECK(got.instance.labels[i] == want.instance.labels[i]);
        a.push_back(static_cast<float>(got.instance.detections[i].score));
        b.push_back(static_cast<float>(want.instance.detections[i].score));
      }
      require_close_scores(a, b, rtol);
      break;
    }
    case Task::semantic:
      CHECK(got.semantic.labels.to_vector() == want.semantic.labels.to_vector());
      require_close_scores(got.semantic.scores.to_vector(), want.semantic.scores.to_vector(), rtol);
      break;
    case Task::referring:
      require_same_mask(got.referring.mask, want.referring.mask);
      CHECK(got.referring.query == want.referring.query);
      require_close_scores({got.referring.score}, {want.referring.score}, rtol);
      break;
    case Task::gres:
      require_same_mask(got.gres.mask, want.gres.mask);
      CHECK(got.gres.queries == want.gres.queries);
      CHECK(got.gres.no_target == want.gres.no_target);
      require_close_scores(got.gres.scores, want.gres.scores, rtol);
      break;
    case Task::interactive:
      REQUIRE(got.regions.size() == want.regions.size());
      for (std::size_t k = 0; k < got.regions.size(); ++k) {
        require_same_mask(got.regions[k].mask, want.regions[k].mask);
        CHECK(got.regions[k].query == want.regions[k].query);
        require_close_scores({got.regions[k].score}, {want.regions[k].score}, rtol);
      }
      break;
  }
}

std::vector<SegmentPrompt> every_task_prompt() {
  return {
      SegmentPrompt::referring("the red square"),
      SegmentPrompt::gres("all blue things"),
      SegmentPrompt::class_list({"square", "disc", "sky"}, Task::panoptic, {1, 1, 0}),
      SegmentPrompt::class_list({"square", "disc"}, Task::instance),
      SegmentPrompt::class_list({"square", "disc", "floor"}, Task::semantic),
      SegmentPrompt::interactive({VisualPrompt::point(20, 15), VisualPrompt::box(40, 30, 60, 45),
                                  VisualPrompt::scribble({{5, 5}, {30, 10}, {40, 40}})})};
}

}  // namespace

/// Every task's answer on one encoded image, after a first prompt, against the evaluation path.
void check_every_task(Segmenter& seg, double rtol) {
  const Tensor<std::uint8_t> image =
      testing::two_shape_scene(50, 70);  // not square: resize and pad matter
  EncodedImage encoded = seg.encode(image);
  // A first prompt extends the cache past the prefix; later ones must not see it.
  seg.segment(encoded, SegmentPrompt::class_list({"a", "b", "c", "d", "e"}, Task::panoptic));
  for (const SegmentPrompt& prompt : every_task_prompt()) {
    INFO(to_string(prompt.task));
    const Segmentation got = seg.segment(encoded, prompt);
    CHECK(got.height == 50);
    CHECK(got.width == 70);
    require_same_answer(got.prediction, reference_answer(seg, image, prompt), rtol);
    for (const SegmentMask& m : got.masks) CHECK(m.mask.shape() == Shape{50, 70});
  }
}

TEST_CASE(
    "segmenter: with the vision side cached, a second prompt is bit-identical to the "
    "evaluation path",
    "[psalm][segmenter]") {
  Segmenter seg = Segmenter::load(model_folder(), {.cache_prefix = false});
  CHECK(seg.encode(testing::two_shape_scene(20, 20)).cached_positions() == 0);
  check_every_task(seg, 0.0);
}

TEST_CASE(
    "segmenter: with Phi's prefix cached too, masks are identical and scores agree to "
    "rounding",
    "[psalm][segmenter]") {
  Segmenter& seg = shared_segmenter();
  CHECK(seg.encode(testing::two_shape_scene(20, 20)).cached_positions() >
        seg.config().num_image_tokens());
  // The suffix runs through Phi as fewer GEMM rows than the full sequence, which the BLAS may
  // sum in another order: scores differ in the last bits.
  check_every_task(seg, testing::tol::segmenter_prefix_cache_rtol);
}

TEST_CASE("segmenter: a long class list grows the cache and still matches", "[psalm][segmenter]") {
  Segmenter& seg = shared_segmenter();
  const Tensor<std::uint8_t> image = testing::two_shape_scene(40, 40);
  EncodedImage encoded = seg.encode(image);
  std::vector<std::string> names;
  for (int i = 0; i < 90; ++i) names.push_back("class number " + std::to_string(i));
  const SegmentPrompt prompt = SegmentPrompt::class_list(names, Task::semantic);
  const double rtol = testing::tol::segmenter_prefix_cache_rtol;
  require_same_answer(seg.segment(encoded, prompt).prediction, reference_answer(seg, image, prompt),
                      rtol);
  // ... and a short prompt after it still matches.
  const SegmentPrompt refer = SegmentPrompt::referring("the disc");
  require_same_answer(seg.segment(encoded, refer).prediction, reference_answer(seg, image, refer),
                      rtol);
}

TEST_CASE("segmenter: the answer's masks, labels and scores", "[psalm][segmenter]") {
  Segmenter& seg = shared_segmenter();
  const Tensor<std::uint8_t> image = testing::two_shape_scene(30, 80);
  EncodedImage encoded = seg.encode(image);
  SECTION("interactive: one mask per visual prompt, labelled by kind") {
    const Segmentation s = seg.segment(
        encoded,
        SegmentPrompt::interactive({VisualPrompt::point(3, 3), VisualPrompt::box(10, 5, 40, 20)}));
    REQUIRE(s.masks.size() == 2);
    CHECK(s.masks[0].label == "point");
    CHECK(s.masks[1].label == "box");
    CHECK(s.masks[1].category == 1);
    for (const SegmentMask& m : s.masks) {
      CHECK(m.score >= 0.0f);
      CHECK(m.score <= 1.0f);
    }
  }
  SECTION("panoptic: masks are the segments of the id map") {
    const Segmentation s =
        seg.segment(encoded, SegmentPrompt::class_list({"x", "y"}, Task::panoptic));
    const auto ids = s.prediction.panoptic.segment_ids.to_vector();
    REQUIRE(s.masks.size() == s.prediction.panoptic.segments.size());
    for (const SegmentMask& m : s.masks) {
      const auto bits = m.mask.to_vector();
      for (std::size_t i = 0; i < bits.size(); ++i)
        CHECK((bits[i] == 1) == (ids[i] == m.segment_id));
      CHECK((m.label == "x" || m.label == "y"));
    }
  }
  SECTION("instance: masks decode the detections' RLE") {
    const Segmentation s =
        seg.segment(encoded, SegmentPrompt::class_list({"x", "y"}, Task::instance));
    REQUIRE(s.masks.size() == s.prediction.instance.detections.size());
    for (std::size_t i = 0; i < s.masks.size(); ++i)
      CHECK(io::rle_encode(s.masks[i].mask.data(), 30, 80).counts ==
            s.prediction.instance.detections[i].segmentation.counts);
  }
  SECTION("semantic: the masks partition the image") {
    const Segmentation s =
        seg.segment(encoded, SegmentPrompt::class_list({"x", "y", "z"}, Task::semantic));
    std::vector<int> cover(30 * 80, 0);
    for (const SegmentMask& m : s.masks)
      for (std::int64_t i = 0; i < 30 * 80; ++i)
        cover[static_cast<std::size_t>(i)] += m.mask.data()[i];
    CHECK(std::all_of(cover.begin(), cover.end(), [](int c) { return c == 1; }));
  }
  SECTION("gres: no target means no mask") {
    const Segmentation s = seg.segment(encoded, SegmentPrompt::gres("nothing at all"));
    CHECK(s.no_target == s.prediction.gres.no_target);
    CHECK(s.masks.size() == (s.no_target ? 0u : 1u));
  }
}

TEST_CASE("segmenter: bad prompts are clear errors", "[psalm][segmenter]") {
  Segmenter& seg = shared_segmenter();
  EncodedImage encoded = seg.encode(testing::two_shape_scene(30, 40));
  using Catch::Matchers::Contains;
  REQUIRE_THROWS_WITH(
      seg.segment(encoded, SegmentPrompt::interactive({VisualPrompt::point(40, 5)})),
      Contains("outside the 40x30 image"));
  REQUIRE_THROWS_WITH(
      seg.segment(encoded, SegmentPrompt::interactive({VisualPrompt::box(-3, 0, 5, 5)})),
      Contains("visual prompt 0"));
  REQUIRE_THROWS_WITH(seg.segment(encoded, SegmentPrompt::class_list({}, Task::panoptic)),
                      Contains("at least one class name"));
  REQUIRE_THROWS_WITH(seg.segment(encoded, SegmentPrompt::class_list({"a", " "}, Task::panoptic)),
                      Contains("class name 1 is empty"));
  REQUIRE_THROWS_WITH(seg.segment(encoded, SegmentPrompt::referring("  ")),
                      Contains("needs a sentence"));
  REQUIRE_THROWS_WITH(seg.segment(encoded, SegmentPrompt::interactive({})),
                      Contains("at least one visual prompt"));
  VisualPrompt wrong = VisualPrompt::from_mask(Tensor<std::uint8_t>::zeros(Shape{10, 10}));
  REQUIRE_THROWS_WITH(seg.segment(encoded, SegmentPrompt::interactive({wrong})),
                      Contains("like the image"));
  // The encoding is still usable after the errors.
  const SegmentPrompt refer = SegmentPrompt::referring("the square");
  require_same_answer(seg.segment(encoded, refer).prediction,
                      reference_answer(seg, testing::two_shape_scene(30, 40), refer),
                      testing::tol::segmenter_prefix_cache_rtol);
}

TEST_CASE("segmenter: folders that are not a model are clear errors", "[psalm][segmenter]") {
  using Catch::Matchers::Contains;
  TempDir dir("segmenter_bad");
  REQUIRE_THROWS_WITH(Segmenter::load(dir.path / "absent"), Contains("does not exist"));
  REQUIRE_THROWS_WITH(Segmenter::load(dir.path), Contains("has no config.json"));
  fs::copy_file(model_folder() / "config.json", dir.path / "config.json");
  REQUIRE_THROWS_WITH(Segmenter::load(dir.path), Contains("no model.safetensors"));
  std::ofstream(dir.path / "model.safetensors") << "not a safetensors file";
  REQUIRE_THROWS_AS(Segmenter::load(dir.path), Error);
  // Weights of another shape than config.json says.
  fs::remove(dir.path / "model.safetensors");
  fs::copy_file(model_folder() / "model.safetensors", dir.path / "model.safetensors");
  nlohmann::json config = PsalmConfig::psalm_tiny().to_json();
  config["mask_decoder"]["dim_feedforward"] = 128;
  std::ofstream(dir.path / "config.json", std::ios::trunc) << config.dump();
  REQUIRE_THROWS_WITH(Segmenter::load(dir.path), Contains("do not fit config.json"));
  std::ofstream(dir.path / "config.json", std::ios::trunc) << "{\"model_type\": \"llava\"}";
  REQUIRE_THROWS_WITH(Segmenter::load(dir.path), Contains("not a PSALM config"));
}

TEST_CASE("segmenter: a training run folder loads its latest checkpoint", "[psalm][segmenter]") {
  TempDir run("segmenter_run");
  fs::create_directories(run.path / "checkpoint-000007");
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(model_folder() / f, run.path / "checkpoint-000007" / f);
  std::ofstream(run.path / "latest") << "checkpoint-000007\n";
  Segmenter seg = Segmenter::load(run.path);
  const SegmentPrompt refer = SegmentPrompt::referring("the square");
  const Tensor<std::uint8_t> image = testing::two_shape_scene(20, 20);
  require_same_answer(seg.segment(image, refer).prediction,
                      shared_segmenter().segment(image, refer).prediction);
  // `latest` is read through io's bounded reader (as train/checkpoint.hpp reads it): a file of
  // more than 1 MiB is refused before it is read.
  TempDir huge("segmenter_run_huge");
  std::ofstream(huge.path / "latest") << std::string((std::size_t{1} << 20) + 1, 'c');
  REQUIRE_THROWS_WITH(Segmenter::load(huge.path),
                      Catch::Matchers::Contains("exceeds the limit of 1048576 bytes"));
}

TEST_CASE("segmenter: video objects from a first-frame annotation", "[psalm][segmenter]") {
  Segmenter& seg = shared_segmenter();
  std::vector<Tensor<std::uint8_t>> frames;
  for (std::int64_t t = 0; t < 3; ++t) frames.push_back(testing::two_shape_scene(36, 48, 2 * t));
  std::vector<Tensor<std::uint8_t>> first(2, Tensor<std::uint8_t>::zeros(Shape{36, 48}));
  for (std::int64_t y = 10; y < 17; ++y)
    for (std::int64_t x = 7; x < 15; ++x) first[0].data()[y * 48 + x] = 1;
  first[1] = Tensor<std::uint8_t>::zeros(Shape{36, 48});
  for (std::int64_t y = 20; y < 28; ++y)
    for (std::int64_t x = 28; x < 36; ++x) first[1].data()[y * 48 + x] = 1;
  std::int64_t calls = 0;
  const std::vector<VideoFramePrediction> out = seg.segment_video(
      3, [&](std::int64_t t) { return frames[static_cast<std::size_t>(t)]; }, first, {3, 7}, {},
      [&](std::int64_t done, std::int64_t total) {
        CHECK(done == ++calls);
        CHECK(total == 3);
      });
  REQUIRE(out.size() == 3);
  CHECK(calls == 3);
  for (const VideoFramePrediction& f : out) {
    CHECK(f.index_map.shape() == Shape{36, 48});
    CHECK(f.masks.size() == 2);
    for (std::int32_t v : f.index_map.to_vector()) CHECK((v == 0 || v == 3 || v == 7));
  }
  // Frame 0 is prompted with the annotation on itself: the first object's pick is the
  // interactive answer's (nothing is taken before it).
  EncodedImage e0 = seg.encode(frames[0]);
  const Segmentation s0 =
      seg.segment(e0, SegmentPrompt::interactive(
                          {VisualPrompt::from_mask(first[0]), VisualPrompt::from_mask(first[1])}));
  CHECK(out[0].queries[0] == s0.masks[0].query);
  CHECK(out[0].scores[0] == s0.masks[0].score);
  require_same_mask(out[0].masks[0], s0.masks[0].mask);
  REQUIRE_THROWS_WITH(
      seg.segment_video(
          2, [&](std::int64_t t) { return t == 0 ? frames[0] : testing::two_shape_scene(20, 20); },
          first, {3, 7}),
      Catch::Matchers::Contains("same size"));
}
