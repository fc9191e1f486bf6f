// Tests of `psalm eval` (tools/commands/eval.hpp), run as the built program: a randomly
// initialised tiny model saved as a model folder and as a run folder (checkpoint + `latest`) is
// evaluated on every synthetic task; the JSON names the held-out seed `psalm train` evaluates on
// and holds fractions; the table prints one row per task in percent; the saved predictions,
// rescored by `psalm score`, reproduce every number; datasets are opened as train/data_spec.hpp
// names them; the conversation task equals train::evaluate_conversation on the same held-out
// scenes; bad inputs exit with code 2 naming what is wrong.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "psalm/nn/state_dict.hpp"
#include "psalm/train/checkpoint.hpp"
#include "psalm/train/data_sources.hpp"
#include "psalm/train/evaluate_conversation.hpp"
#include "support/cli_program.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;
using testing::ProgramRun;
using testing::psalm_program;
using testing::slurp;
namespace fs = std::filesystem;

namespace {

/// `psalm eval args... --gpt2 DIR`.
ProgramRun eval_program(std::vector<std::string> args) {
  args.insert(args.begin(), "eval");
  args.push_back("--gpt2");
  args.push_back(PSALM_GPT2_DIR);
  return psalm_program(args);
}

/// The same, which must succeed; returns what it printed on stdout.
std::string run(std::vector<std::string> args) {
  const ProgramRun r = eval_program(std::move(args));
  INFO(r.err);
  REQUIRE(r.rc == 0);
  return r.out;
}

/// The same expected to fail as bad input (exit code 2); returns stderr.
std::string refused(std::vector<std::string> args) {
  const ProgramRun r = eval_program(std::move(args));
  INFO(r.out);
  CHECK(r.rc == 2);
  return r.err;
}

}  // namespace

TEST_CASE("psalm eval: a model folder and a run folder on every task", "[cli][eval]") {
  const PsalmConfig config = testing::small_config();
  nn::InitRng rng{21};
  PsalmModel<float> model(config, rng);
  testing::TempDir model_dir("eval_model");
  const fs::path folder = model_dir.path;
  nn::save_safetensors(model, folder / "model.safetensors", {{"format", "pt"}});
  {
    std::FILE* f = std::fopen((folder / "config.json").c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs(config.to_json().dump(2).c_str(), f);
    std::fclose(f);
  }

  const nlohmann::json j =
      nlohmann::json::parse(run({"--model", folder.string(), "--examples", "2", "--frames", "3",
                                 "--batch-size", "2", "--json"}));
  CHECK(j.at("data").at("seed").get<std::uint64_t>() == train::held_out_seed(0));
  CHECK(j.at("data").at("split") == "val");
  CHECK_FALSE(j.contains("step"));
  for (const std::string task :
       {"panoptic", "referring", "gres", "interactive", "vos", "open-vocab"}) {
    INFO(task);
    REQUIRE(j.at("tasks").contains(task));
    const nlohmann::json& t = j.at("tasks").at(task);
    CHECK(t.at("examples").get<std::int64_t>() == 2);
    CHECK_FALSE(t.at("metrics").empty());
    for (const auto& [name, value] : t.at("metrics").items()) {
      INFO(name);
      if (name.find("decay") != std::string::npos) continue;  // a difference of means
      CHECK(value.get<double>() >= 0.0);
      CHECK(value.get<double>() <= 1.0);
    }
  }
  CHECK(j["tasks"]["vos"]["metrics"].contains("jf"));
  CHECK(j["tasks"]["open-vocab"]["metrics"].contains("ap"));
  CHECK(j["tasks"]["panoptic"]["metrics"].contains("pq"));

  // A run folder: its latest checkpoint, the run's seed, a table in percent.
  testing::TempDir run_tmp("eval_run");
  const fs::path run_dir = run_tmp.path;
  train::save_checkpoint(run_dir, 7, model, config.to_json(), train::NamedOptimizer<float, cpu>{},
                         {{"seed", 5}});
  const nlohmann::json r = nlohmann::json::parse(
      run({"--model", run_dir.string(), "--tasks", "referring", "--examples", "1", "--json"}));
  CHECK(r.at("step").get<std::int64_t>() == 7);
  CHECK(r.at("data").at("seed").get<std::uint64_t>() == train::held_out_seed(5));
  CHECK(r.at("tasks").size() == 1);
  const nlohmann::json explicit_seed =
      nlohmann::json::parse(run({"--model", run_dir.string(), "--tasks", "referring", "--examples",
                                 "1", "--json", "--data", "synthetic:val:9"}));
  CHECK(explicit_seed.at("data").at("seed").get<std::uint64_t>() == train::held_out_seed(9));
  const nlohmann::json training =
      nlohmann::json::parse(run({"--model", run_dir.string(), "--tasks", "referring", "--examples",
                                 "1", "--json", "--data", "synthetic:train"}));
  CHECK(training.at("data").at("seed").get<std::uint64_t>() == 5);
  const std::string table =
      run({"--model", run_dir.string(), "--tasks", "gres,referring", "--examples", "1"});
  CHECK(table.find("gres") < table.find("referring"));
  CHECK(table.find("n_acc") != std::string::npos);
  CHECK(table.find("metrics (%)") != std::string::npos);

  // Bad inputs: usage errors naming what is wrong.
  testing::TempDir empty("eval_empty");
  const std::string m = folder.string();
  CHECK_THAT(refused({"--model", "/nonexistent-psalm-model"}),
             Catch::Matchers::Contains("is not a folder"));
  CHECK_THAT(refused({"--model", empty.path.string()}), Catch::Matchers::Contains("holds neither"));
  CHECK_THAT(refused({"--model", m, "--tasks", "panoptic,bogus"}),
             Catch::Matchers::Contains("unknown task 'bogus'"));
  CHECK_THAT(refused({"--model", m, "--data", "coco"}),
             Catch::Matchers::Contains("expected <kind>:<path>"));
  CHECK_THAT(refused({"--model", m, "--data", "synthetic:test"}),
             Catch::Matchers::Contains("--data must be synthetic"));
  CHECK_THAT(refused({"--model", m, "--data", "refcoco:/nonexistent:val", "--tasks", "gres"}),
             Catch::Matchers::Contains("--tasks applies to synthetic data"));
  CHECK_THAT(refused({"--model", m, "--data", "synthetic:val:x1"}),
             Catch::Matchers::Contains("not a seed"));
  CHECK_THAT(refused({"--model", m, "--frames", "2"}), Catch::Matchers::Contains("--frames"));
  CHECK_THAT(refused({"--model", m, "--examples", "0"}), Catch::Matchers::Contains("--examples"));
  // The CLI's conventions (tools/commands/common.hpp), as psalm train reads its options.
  CHECK_THAT(refused({"--model", m, "--tasks", "panoptic,,gres"}),
             Catch::Matchers::Contains("has an empty item"));
  CHECK_THAT(refused({"--model", m, "--tasks", "gres,panoptic,gres"}),
             Catch::Matchers::Contains("--tasks names 'gres' twice"));
  CHECK_THAT(refused({"--model", m, "--tasks", "panoptic", "--frames", "5"}),
             Catch::Matchers::Contains("--frames applies to the vos task"));
  CHECK_THAT(refused({"--model", m, "--examples", "2", "--examples", "3"}),
             Catch::Matchers::Contains("option --examples is given more than once"));
  fs::remove(folder / "model.safetensors");
  std::FILE* bad = std::fopen((folder / "model.safetensors").c_str(), "w");
  std::fputs("not a safetensors file", bad);
  std::fclose(bad);
  CHECK_THAT(refused({"--model", m, "--tasks", "panoptic", "--examples", "1"}),
             Catch::Matchers::Contains("psalm: error:"));
}

TEST_CASE("psalm eval: metrics through the evaluators, predictions that psalm score rescores",
          "[cli][eval]") {
  testing::TempDir work("eval_cli");
  const fs::path saved = work.path / "pred";
  const ProgramRun r = psalm_program(
      {"eval", "--model", testing::tiny_model_folder().string(), "--data", "synthetic:val:3",
       "--examples", "3", "--scene-size", "64", "--batch-size", "2", "--tasks",
       "panoptic,referring,gres,interactive", "--save-predictions", saved.string(), "--json"});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  const nlohmann::json out = nlohmann::json::parse(r.out);
  CHECK(out == nlohmann::json::parse(slurp(saved / "summary.json")));
  const auto& tasks = out["tasks"];
  REQUIRE(tasks.size() == 4);
  auto score = [&](const std::vector<std::string>& args) {
    std::vector<std::string> all = {"score", "--json"};
    all.insert(all.end(), args.begin(), args.end());
    const ProgramRun s = psalm_program(all);
    INFO(s.err);
    REQUIRE(s.rc == 0);
    return nlohmann::json::parse(s.out);
  };
  const std::string d = saved.string();
  // NaN (no sample of a kind) is written as "nan" by psalm eval and psalm score alike.
  auto same = [](const nlohmann::json& a, const nlohmann::json& b) {
    if (a.is_string() || b.is_string()) return a == b;
    return a.get<double>() == Approx(b.get<double>());
  };
  const nlohmann::json referring = score({"--task", "referring", "--gt-dir", d + "/referring/gt",
                                          "--pred-dir", d + "/referring/pred"});
  CHECK(same(referring["cIoU"], tasks["referring"]["metrics"]["ciou"]));
  CHECK(same(referring["gIoU"], tasks["referring"]["metrics"]["giou"]));
  const nlohmann::json interactive =
      score({"--task", "interactive", "--gt-dir", d + "/interactive/gt", "--pred-dir",
             d + "/interactive/pred"});
  CHECK(same(interactive["overall"]["gIoU"], tasks["interactive"]["metrics"]["miou"]));
  const nlohmann::json panoptic = score(
      {"--task", "panoptic", "--gt-json", d + "/panoptic/gt.json", "--gt-dir", d + "/panoptic/gt",
       "--pred-json", d + "/panoptic/pred.json", "--pred-dir", d + "/panoptic/pred"});
  CHECK(same(panoptic["All"]["PQ"], tasks["panoptic"]["metrics"]["pq"]));
  const nlohmann::json gres =
      score({"--task", "gres", "--gt-dir", d + "/gres/gt", "--pred-dir", d + "/gres/pred"});
  CHECK(same(gres["cIoU"], tasks["gres"]["metrics"]["ciou"]));
  const ProgramRun bad = psalm_program(
      {"eval", "--model", testing::tiny_model_folder().string(), "--data", "coco:val"});
  CHECK(bad.rc == 2);
  CHECK_THAT(bad.err, Catch::Matchers::Contains("unknown dataset kind \"coco\""));
}

TEST_CASE("psalm eval: datasets named as train/data_spec.hpp names them", "[cli][eval]") {
  testing::TempDir work("eval_datasets");
  const std::string d = (work.path / "synth").string();
  REQUIRE(psalm_program({"synth", "--out", d, "--split", "val", "--count", "3", "--size", "64",
                         "--tasks", "panoptic,refcoco,interactive", "--seed", "2"})
              .rc == 0);
  for (const auto& [spec, task] : std::vector<std::pair<std::string, std::string>>{
           {"refcoco:" + d + ":val", "referring"},
           {"coco-panoptic:" + d, "panoptic"},
           {"coco-interactive:" + d + ":val:prompt=box", "interactive"}}) {
    INFO(spec);
    const ProgramRun r = psalm_program({"eval", "--model", testing::tiny_model_folder().string(),
                                        "--data", spec, "--examples", "2", "--json"});
    INFO(r.err);
    REQUIRE(r.rc == 0);
    const nlohmann::json out = nlohmann::json::parse(r.out);
    REQUIRE(out["tasks"].size() == 1);
    CHECK(out["tasks"][task]["examples"] == 2);
  }
  const ProgramRun instances =
      psalm_program({"eval", "--model", testing::tiny_model_folder().string(), "--data",
                     "coco-panoptic:" + d + ":val:task=instance"});
  CHECK(instances.rc == 2);
  CHECK_THAT(instances.err, Catch::Matchers::Contains("psalm segment, then psalm score"));
  const ProgramRun tasks = psalm_program({"eval", "--model", testing::tiny_model_folder().string(),
                                          "--data", "refcoco:" + d + ":val", "--tasks", "gres"});
  CHECK(tasks.rc == 2);
  const ProgramRun missing =
      psalm_program({"eval", "--model", testing::tiny_model_folder().string(), "--data",
                     "refcoco:/nonexistent:val"});
  CHECK(missing.rc == 2);
}

TEST_CASE("psalm eval: conversations on the held-out scenes, as evaluate_conversation scores them",
          "[cli][eval][chat]") {
  const fs::path folder = testing::tiny_model_folder();
  const nlohmann::json report = nlohmann::json::parse(
      run({"--model", folder.string(), "--tasks", "conversation", "--examples", "6", "--json"}));
  const nlohmann::json& got = report["tasks"]["conversation"];
  CHECK(got["examples"] == 6);
  // The library on the scenes `psalm eval` names: the held-out seed of training seed 0, the
  // model's input side, train split.
  Segmenter seg = Segmenter::load(folder);
  train::SyntheticExampleOptions opt;
  opt.scene.height = opt.scene.width = seg.config().image_size;
  opt.scene.seed = train::held_out_seed(0);
  const train::EvaluationResult want = train::evaluate_conversation(
      seg,
      [&](std::int64_t i) {
        return train::synthetic_conversation(opt, static_cast<std::uint64_t>(i));
      },
      6, {.kind_of = train::synthetic_question_kind});
  CHECK(got["metrics"] == want.metrics);
  CHECK(got["metrics"].contains("chance"));
  const std::string table =
      run({"--model", folder.string(), "--tasks", "conversation", "--examples", "6"});
  CHECK_THAT(table, Catch::Matchers::Contains("conversation") &&
                        Catch::Matchers::Contains("exact_match") &&
                        Catch::Matchers::Contains("chance"));
}
