// Tests of psalm/train/evaluate.hpp: every task's evaluation runs a model over synthetic
// examples end to end (encode, forward, post-process, score) and reports metrics in [0, 1];
// the panoptic ground truth it builds scores a perfect prediction 1; open vocabulary: the
// held-out categories' PQ and AP (train/data_sources.hpp synthetic_open_vocabulary).
#include <catch2/catch.hpp>

#include "psalm/train/data_sources.hpp"
#include "psalm/train/evaluate.hpp"
#include "psalm/train/synthetic_examples.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;

TEST_CASE("evaluate: every task runs end to end and reports fractions", "[train][evaluate]") {
  const PsalmConfig config = testing::small_config();
  const InputEncoder encoder(config, psalm_tokenizer(PSALM_GPT2_DIR));
  nn::InitRng rng{3};
  PsalmModel<float> model(config, rng);
  train::SyntheticExampleOptions data;
  data.scene.height = data.scene.width = 64;
  data.scene.split = data::synthetic::Split::val;
  for (Task task : {Task::panoptic, Task::referring, Task::gres, Task::interactive}) {
    INFO(to_string(task));
    std::int64_t calls = 0;
    const train::EvaluationResult r = train::evaluate<cpu>(
        model, encoder, task,
        [&](std::int64_t i) { return train::synthetic_example(task, data, i); }, 3,
        {.batch_size = 2, .progress = [&](std::int64_t, std::int64_t) { ++calls; }});
    CHECK(r.examples == 3);
    CHECK(calls == 2);
    CHECK_FALSE(r.report.empty());
    for (const auto& [name, value] : r.metrics.items()) {
      INFO(name);
      if (value.is_number() && !std::isnan(value.get<double>())) {
        CHECK(value.get<double>() >= 0.0);
        CHECK(value.get<double>() <= 1.0);
      }
    }
  }
}

TEST_CASE("evaluate: the panoptic ground truth scores itself perfectly", "[train][evaluate]") {
  train::SyntheticExampleOptions data;
  const Example ex = train::synthetic_example(Task::panoptic, data, 0);
  Tensor<std::int32_t> ids;
  std::vector<eval::PanopticSegment> segments;
  train::detail::panoptic_ground_truth(ex, ids, segments);
  std::vector<eval::PanopticCategory> categories;
  for (std::size_t c = 0; c < ex.class_names.size(); ++c)
    categories.push_back(
        {static_cast<std::int64_t>(c + 1), ex.class_is_thing[c] != 0, ex.class_names[c]});
  eval::PanopticQuality pq(categories);
  const eval::LabelView view{ids.data(), ids.size(0), ids.size(1)};
  pq.add_image(0, view, segments, view, segments);
  CHECK(pq.result().all.pq == Approx(1.0));
}

TEST_CASE("evaluate: open vocabulary, PQ and AP over all classes and the held-out ones",
          "[train][evaluate]") {
  train::SyntheticExampleOptions data;
  data.scene.height = data.scene.width = 64;
  const train::OpenVocabularySource ov =
      train::synthetic_open_vocabulary(data, train::held_out_seed(0));
  REQUIRE(ov.held_out_classes == std::vector<std::string>{"heart", "moon"});
  // The prompts name every category, and held-out objects are labelled.
  std::vector<std::int64_t> held_ids;
  bool held_object = false;
  for (std::int64_t i = 0; i < 8; ++i) {
    const Example ex = ov.examples(i);
    REQUIRE(ex.class_names.size() == data::synthetic::panoptic_categories().size());
    for (std::int64_t label : ex.target_labels)
      held_object = held_object || ex.class_names[static_cast<std::size_t>(label)] == "heart" ||
                    ex.class_names[static_cast<std::size_t>(label)] == "moon";
  }
  CHECK(held_object);

  // The ground truth as the prediction: PQ 1 on the held-out classes, AP 1 on them.
  const Example ex = [&] {
    for (std::int64_t i = 0;; ++i) {
      Example e = ov.examples(i);
      for (std::int64_t label : e.target_labels)
        if (e.class_names[static_cast<std::size_t>(label)] == "heart" ||
            e.class_names[static_cast<std::size_t>(label)] == "moon")
          return e;
    }
  }();
  std::vector<eval::PanopticCategory> categories;
  std::vector<std::int64_t> held, things;
  for (std::size_t c = 0; c < ex.class_names.size(); ++c) {
    categories.push_back(
        {static_cast<std::int64_t>(c + 1), ex.class_is_thing[c] != 0, ex.class_names[c]});
    if (ex.class_names[c] == "heart" || ex.class_names[c] == "moon")
      held.push_back(std::int64_t(c + 1));
    if (ex.class_is_thing[c]) things.push_back(std::int64_t(c + 1));
  }
  Tensor<std::int32_t> ids;
  std::vector<eval::PanopticSegment> segments;
  train::detail::panoptic_ground_truth(ex, ids, segments);
  eval::PanopticQuality pq(categories);
  const eval::LabelView view{ids.data(), ids.size(0), ids.size(1)};
  pq.add_image(0, view, segments, view, segments);
  CHECK(train::detail::mean_pq(pq.result(), held) == Approx(1.0));
  eval::CocoGroundTruth gt;
  gt.category_ids = things;
  train::detail::add_instance_ground_truth(ex, 0, categories, gt);
  REQUIRE_FALSE(gt.annotations.empty());
  std::vector<eval::CocoDetection> perfect;
  for (const auto& a : gt.annotations) perfect.push_back({0, a.category_id, 1.0, a.segmentation});
  CHECK(train::detail::coco_ap(gt, perfect, held) == Approx(1.0));
  CHECK(train::detail::coco_ap(gt, perfect, things) == Approx(1.0));
  // A held-out object labelled as a seen class: AP on the held-out classes drops to 0.
  std::vector<eval::CocoDetection> confused = perfect;
  for (auto& d : confused)
    if (std::find(held.begin(), held.end(), d.category_id) != held.end()) d.category_id = 1;
  CHECK(train::detail::coco_ap(gt, confused, held) == Approx(0.0));

  // A tiny random model through the whole open-vocabulary evaluation.
  const PsalmConfig config = testing::small_config();
  const InputEncoder encoder(config, psalm_tokenizer(PSALM_GPT2_DIR));
  nn::InitRng rng{3};
  PsalmModel<float> model(config, rng);
  const train::EvaluationResult r = train::evaluate<cpu>(
      model, encoder, Task::panoptic, ov.examples, 3,
      {.batch_size = 3, .instance_ap = true, .held_out_classes = ov.held_out_classes});
  for (const char* key : {"pq", "pq_seen", "ap"}) {
    INFO(key);
    REQUIRE(r.metrics.contains(key));
    CHECK(r.metrics[key].get<double>() >= 0.0);
    CHECK(r.metrics[key].get<double>() <= 1.0);
  }
  CHECK(r.report.find("maxDets") != std::string::npos);  // the COCO summary is in the report
  CHECK_THROWS_WITH(train::evaluate<cpu>(model, encoder, Task::panoptic, ov.examples, 1,
                                         {.held_out_classes = {"unicorn"}}),
                    Catch::Contains("held-out class \"unicorn\""));
}
