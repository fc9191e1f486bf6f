// Tests of psalm/train/evaluate_video.hpp and the synthetic videos it reads
// (train/synthetic_examples.hpp synthetic_video, train/data_sources.hpp synthetic_video_source):
// the videos' annotations follow the generator's scenes and score themselves perfectly through
// eval::VideoEvaluator; a tiny random model runs the whole VOS evaluation end to end, and
// running videos side by side gives what running them one by one gives.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "psalm/train/data_sources.hpp"
#include "psalm/train/evaluate_video.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;
namespace syn = psalm::data::synthetic;

TEST_CASE("synthetic_video: objects of the first frame numbered 1..K in every frame",
          "[train][video]") {
  syn::VideoOptions o;
  o.scene.height = o.scene.width = 64;
  o.scene.seed = 11;
  o.frames = 5;
  for (std::uint64_t index : {0u, 1u, 2u}) {
    const VideoExample v = train::synthetic_video(o, index);
    REQUIRE(v.num_frames() == 5);
    REQUIRE(v.annotations.size() == 5);
    // The generator's frames, in its object order: object j of the scene (visible in frame 0)
    // is id 1 + (number of visible objects before it) in every frame.
    const syn::Video g =
        syn::generate_video(o, (1ull << 32) + index * 64);  // attempt 0 has objects here
    const syn::Scene& first = g.frames.front();
    std::vector<std::int32_t> want_id(first.objects.size() + 64, 0);
    std::int32_t k = 0;
    for (const syn::Object& obj : first.objects)
      if (std::count(first.object_map.begin(), first.object_map.end(), obj.id) > 0)
        want_id[static_cast<std::size_t>(obj.id)] = ++k;
    REQUIRE(k >= 1);
    const auto [masks, ids] = first_frame_objects(v);
    CHECK(static_cast<std::int32_t>(ids.size()) == k);
    for (std::size_t t = 0; t < 5; ++t) {
      CHECK(v.frames[t].to_vector() == g.frames[t].image.to_vector());
      for (std::size_t p = 0; p < g.frames[t].object_map.size(); ++p) {
        const std::int32_t id = g.frames[t].object_map[p];
        REQUIRE(v.annotations[t].data()[p] == (id > 0 ? want_id[static_cast<std::size_t>(id)] : 0));
      }
    }
    // The ground truth as the prediction: every metric perfect.
    std::vector<eval::LabelView> views;
    for (const auto& a : v.annotations) views.push_back(label_view(a));
    eval::VideoEvaluator ev;
    ev.add_sequence(v.name, views, views);
    CHECK(ev.result().jf_mean == Approx(1.0));
  }
  // Deterministic, and the held-out source uses the held-out seed's train-split scenes.
  CHECK(train::synthetic_video(o, 1).annotations[3].to_vector() ==
        train::synthetic_video(o, 1).annotations[3].to_vector());
  train::SyntheticExampleOptions data;
  data.scene = o.scene;
  const auto held_out = train::synthetic_video_source(data, 99, 4);
  syn::VideoOptions h = o;
  h.scene.seed = 99;
  h.frames = 4;
  CHECK(held_out(2).frames.back().to_vector() ==
        train::synthetic_video(h, 2).frames.back().to_vector());
  CHECK(train::held_out_seed(0) != 0);
}

TEST_CASE("evaluate_video: a tiny model runs the DAVIS scheme end to end", "[train][video]") {
  const PsalmConfig config = testing::small_config();
  const InputEncoder encoder(config, psalm_tokenizer(PSALM_GPT2_DIR));
  nn::InitRng rng{7};
  PsalmModel<float> model(config, rng);
  train::SyntheticExampleOptions data;
  data.scene.height = data.scene.width = 64;
  const auto source = train::synthetic_video_source(data, train::held_out_seed(0), 4);

  std::int64_t calls = 0;
  const train::EvaluationResult r = train::evaluate_video<cpu>(
      model, encoder, source, 3,
      {.batch_size = 2, .progress = [&](std::int64_t, std::int64_t) { ++calls; }});
  CHECK(r.task == Task::interactive);
  CHECK(r.examples == 3);
  CHECK(calls == 2);
  CHECK_FALSE(r.report.empty());
  for (const char* key : {"jf", "j", "f", "j_recall", "f_recall"}) {
    INFO(key);
    REQUIRE(r.metrics.contains(key));
    CHECK(r.metrics[key].get<double>() >= 0.0);
    CHECK(r.metrics[key].get<double>() <= 1.0);
  }
  CHECK(r.metrics["jf"].get<double>() ==
        Approx((r.metrics["j"].get<double>() + r.metrics["f"].get<double>()) / 2));

  // Side by side (one batch per frame, regions pooled from each video's own reference tokens)
  // or one by one: the same answers up to float rounding of the batched kernels.
  const train::EvaluationResult single =
      train::evaluate_video<cpu>(model, encoder, source, 3, {.batch_size = 1});
  CHECK(std::abs(single.metrics["jf"].get<double>() - r.metrics["jf"].get<double>()) < 0.01);

  CHECK_THROWS_AS(train::evaluate_video<cpu>(model, encoder, source, 0), Error);
}
