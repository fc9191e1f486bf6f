// Tests of psalm/train/evaluate.hpp: every task's evaluation runs a model over synthetic
// examples end to end (encode, forward, post-process, score) and reports metrics in [0, 1];
// the panoptic ground truth it builds scores a perfect prediction 1.
#include <catch2/catch.hpp>

#include "psalm/train/evaluate.hpp"
#include "psalm/train/synthetic_examples.hpp"

using namespace psalm;

namespace {

PsalmConfig small_config() {
  PsalmConfig c = PsalmConfig::from_json(io::ConfigReader::from_file(
      std::string(PSALM_TEST_DATA_DIR) + "/psalm/parity/config.json"));
  c.phi.vocab_size = 50297;
  c.seg_token_id = 50296;
  c.pad_token_id = 50295;
  return c;
}

}  // namespace

TEST_CASE("evaluate: every task runs end to end and reports fractions", "[train][evaluate]") {
  const PsalmConfig config = small_config();
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
        model, encoder, task, [&](std::int64_t i) { return train::synthetic_example(task, data, i); },
        3, {.batch_size = 2, .progress = [&](std::int64_t, std::int64_t) { ++calls; }});
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
    categories.push_back({static_cast<std::int64_t>(c + 1), ex.class_is_thing[c] != 0, ex.class_names[c]});
  eval::PanopticQuality pq(categories);
  const eval::LabelView view{ids.data(), ids.size(0), ids.size(1)};
  pq.add_image(0, view, segments, view, segments);
  CHECK(pq.result().all.pq == Approx(1.0));
}
