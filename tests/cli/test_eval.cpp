// Tests of tools/commands/eval.hpp (`psalm eval`): a randomly initialised tiny model saved as a
// model folder and as a run folder (checkpoint + `latest`) is evaluated on every task; the JSON
// names the held-out seed `psalm train` evaluates on and holds fractions; the table prints one
// row per task in percent; bad inputs are usage errors (exit code 2 in the program).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "commands/eval.hpp"
#include "psalm/nn/state_dict.hpp"

using namespace psalm;
namespace fs = std::filesystem;

namespace {

PsalmConfig small_config() {
  PsalmConfig c = PsalmConfig::from_json(
      io::ConfigReader::from_file(std::string(PSALM_TEST_DATA_DIR) + "/psalm/parity/config.json"));
  c.phi.vocab_size = 50297;
  c.seg_token_id = 50296;
  c.pad_token_id = 50295;
  return c;
}

/// A fresh temporary folder.
fs::path fresh(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("psalm_test_eval_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

/// Runs `psalm eval` with `args`; returns what it printed on stdout.
std::string run(std::vector<std::string> args) {
  args.insert(args.begin(), "psalm eval");
  args.push_back("--gpt2");
  args.push_back(PSALM_GPT2_DIR);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  int rc = -1;
  try {
    rc = cli::eval_main(static_cast<int>(argv.size()), argv.data(), out);
  } catch (...) {
    std::fclose(out);
    throw;
  }
  CHECK(rc == 0);
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(out);
  return text;
}

}  // namespace

TEST_CASE("psalm eval: a model folder and a run folder on every task", "[cli][eval]") {
  const PsalmConfig config = small_config();
  nn::InitRng rng{21};
  PsalmModel<float> model(config, rng);
  const fs::path folder = fresh("model");
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
  const fs::path run_dir = fresh("run");
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
  const std::string m = folder.string();
  CHECK_THROWS_WITH(run({"--model", "/nonexistent-psalm-model"}),
                    Catch::Contains("is not a folder"));
  CHECK_THROWS_WITH(run({"--model", fresh("empty").string()}), Catch::Contains("holds neither"));
  CHECK_THROWS_WITH(run({}), Catch::Contains("missing required option --model"));
  CHECK_THROWS_WITH(run({"--model", m, "--tasks", "panoptic,bogus"}),
                    Catch::Contains("unknown task 'bogus'"));
  CHECK_THROWS_WITH(run({"--model", m, "--data", "coco"}), Catch::Contains("--data must be"));
  CHECK_THROWS_WITH(run({"--model", m, "--data", "synthetic:val:x1"}),
                    Catch::Contains("not a seed"));
  CHECK_THROWS_WITH(run({"--model", m, "--frames", "2"}), Catch::Contains("--frames"));
  CHECK_THROWS_WITH(run({"--model", m, "--examples", "0"}), Catch::Contains("--examples"));
  CHECK_THROWS_AS(run({"--model", m, "--examples", "0"}), cli::UsageError);
  fs::remove(folder / "model.safetensors");
  std::FILE* bad = std::fopen((folder / "model.safetensors").c_str(), "w");
  std::fputs("not a safetensors file", bad);
  std::fclose(bad);
  CHECK_THROWS_AS(run({"--model", m, "--tasks", "panoptic", "--examples", "1"}), Error);
  for (const char* name : {"model", "run", "empty"})
    fs::remove_all(fs::temp_directory_path() / (std::string("psalm_test_eval_") + name));
}
