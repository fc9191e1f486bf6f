// Tests of psalm/train/trainer.hpp: a tiny PSALM overfits a repeated batch of every task
// (segmentation and conversation), a resumed run is bit-identical to a straight one, a
// non-finite loss stops training with the step and term named (or is skipped), and the run
// folder holds metrics.jsonl, loss.png and a checkpoint that loads as a model.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "psalm/psalm/weights.hpp"
#include "psalm/train/synthetic_examples.hpp"
#include "psalm/train/trainer.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;
namespace fs = std::filesystem;

namespace {

const InputEncoder& encoder() {
  static const InputEncoder e(testing::small_config(), psalm_tokenizer(PSALM_GPT2_DIR));
  return e;
}

train::DataSources synthetic_sources(bool repeat_one) {
  train::SyntheticExampleOptions data;
  data.scene.height = data.scene.width = 64;
  data.scene.max_objects = 3;
  train::DataSources d;
  for (Task t : {Task::panoptic, Task::referring, Task::gres, Task::interactive})
    d.train[to_string(t)] = [t, data, repeat_one](std::int64_t i) {
      return train::synthetic_example(t, data, repeat_one ? 0 : static_cast<std::uint64_t>(i));
    };
  d.conversations = [data, repeat_one](std::int64_t i) {
    return train::synthetic_conversation(data, repeat_one ? 0 : static_cast<std::uint64_t>(i));
  };
  return d;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("psalm_test_trainer_" + name);
  fs::remove_all(dir);
  return dir;
}

std::vector<std::vector<float>> parameters_of(PsalmModel<float>& m) {
  std::vector<std::vector<float>> out;
  m.for_each_parameter(
      [&](const std::string&, Var<float>& p) { out.push_back(p.value().to_vector()); });
  return out;
}

}  // namespace

TEST_CASE("trainer: a tiny PSALM overfits a repeated batch of each task", "[train][trainer]") {
  for (const std::string task : {"panoptic", "referring", "gres", "interactive", "conversation"}) {
    INFO(task);
    nn::InitRng rng{11};
    PsalmModel<float> model(testing::small_config(), rng);
    train::TrainerOptions opt;
    opt.out = fresh_dir("overfit_" + task);
    opt.tasks = {task};
    opt.batch_size = 2;
    opt.steps = 30;
    opt.lr = 2e-3;
    opt.warmup_fraction = 0.0;
    opt.train_vision_tower = true;
    opt.log_every = 1;
    opt.eval_examples = 1;
    train::Trainer<cpu> trainer(model, encoder(), opt, synthetic_sources(true));
    std::vector<double> losses;
    trainer.run([&](const train::StepReport& r) { losses.push_back(r.loss); });
    REQUIRE(losses.size() == 30);
    const double first = (losses[0] + losses[1]) / 2, last = (losses[28] + losses[29]) / 2;
    INFO("first " << first << " last " << last);
    CHECK(last < 0.7 * first);
    fs::remove_all(opt.out);
  }
}

TEST_CASE("trainer: resume continues bit-identically", "[train][trainer]") {
  train::TrainerOptions opt;
  opt.tasks = {"panoptic", "referring", "interactive", "conversation"};
  opt.block = 2;
  opt.batch_size = 2;
  opt.steps = 6;
  opt.lr = 1e-3;
  opt.train_vision_tower = true;
  opt.eval_examples = 1;
  opt.log_every = 1;
  nn::InitRng rng_a{21};
  PsalmModel<float> straight(testing::small_config(), rng_a);
  opt.out = fresh_dir("straight");
  train::Trainer<cpu>(straight, encoder(), opt, synthetic_sources(false)).run();

  // The same run killed during step 4: the checkpoint of step 3 is what survives.
  nn::InitRng rng_d{21};
  PsalmModel<float> planned(testing::small_config(), rng_d);
  opt.out = fresh_dir("planned");
  opt.checkpoint_every = 3;
  {
    train::Trainer<cpu> a(planned, encoder(), opt, synthetic_sources(false));
    std::int64_t n = 0;
    try {
      a.run([&](const train::StepReport&) {
        if (++n == 4) throw std::runtime_error("killed");
      });
    } catch (const std::runtime_error&) {
    }
  }
  nn::InitRng rng_e{77};  // a different init: everything must come from the checkpoint
  PsalmModel<float> continued(testing::small_config(), rng_e);
  train::Trainer<cpu> b(continued, encoder(), opt, synthetic_sources(false));
  b.resume();
  CHECK(b.step() == 3);
  b.run();
  CHECK(b.step() == 6);
  CHECK(parameters_of(continued) == parameters_of(straight));
  CHECK(fs::exists(opt.out / "metrics.jsonl"));
  CHECK(fs::exists(opt.out / "loss.png"));
  // The final checkpoint is a model folder.
  const fs::path dir = train::latest_checkpoint(opt.out);
  nn::InitRng skip = nn::InitRng::for_loading();
  PsalmModel<float> loaded(PsalmConfig::from_json(io::ConfigReader::from_file(dir / "config.json")),
                           skip);
  load_psalm_weights(loaded, io::SafetensorsFile::open(dir / "model.safetensors"));
  CHECK(parameters_of(loaded) == parameters_of(straight));
  for (const char* name : {"straight", "planned"}) fs::remove_all(fresh_dir(name));
}

TEST_CASE("trainer: a non-finite loss stops with the step and term named, or is skipped",
          "[train][trainer]") {
  nn::InitRng rng{5};
  PsalmModel<float> model(testing::small_config(), rng);
  model.predictor.head.mask_embed.layers[0].weight.value().fill(NAN);
  train::TrainerOptions opt;
  opt.out = fresh_dir("nan");
  opt.tasks = {"referring"};
  opt.batch_size = 1;
  opt.steps = 2;
  opt.eval_examples = 1;
  {
    train::Trainer<cpu> t(model, encoder(), opt, synthetic_sources(false));
    CHECK_THROWS_WITH(t.run(),
                      Catch::Contains("step 1") && Catch::Contains("mask logits are not finite"));
  }
  opt.skip_non_finite = true;
  opt.out = fresh_dir("nan_skip");
  std::vector<bool> skipped;
  train::TrainerOptions no_eval = opt;
  train::Trainer<cpu> t(model, encoder(), no_eval, {synthetic_sources(false).train, {}, {}});
  t.run([&](const train::StepReport& r) { skipped.push_back(r.skipped); });
  CHECK(skipped == std::vector<bool>{true, true});
  fs::remove_all(fresh_dir("nan"));
  fs::remove_all(fresh_dir("nan_skip"));
}
