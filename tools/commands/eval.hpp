// tools/commands/eval.hpp — `psalm eval`: held-out metrics of a trained model on the synthetic
// scenes, per task, with the library's evaluation (psalm/train/evaluate*.hpp): panoptic PQ,
// referring cIoU, gRES gIoU / N-acc, interactive mIoU per prompt kind, zero-shot video object
// segmentation J&F through the interactive path, and open vocabulary (PQ / AP on the categories
// held out of training, named at test time). The held-out scenes are those `psalm train`
// evaluates on (train::held_out_seed), so the numbers compare. A progress bar on stderr; a
// table in percent or JSON on stdout. See docs/cli.md.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "commands/progress.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/psalm/special_tokens.hpp"
#include "psalm/psalm/weights.hpp"
#include "psalm/train/checkpoint.hpp"
#include "psalm/train/data_sources.hpp"
#include "psalm/train/evaluate.hpp"
#include "psalm/train/evaluate_video.hpp"

#ifndef PSALM_GPT2_DIR
#define PSALM_GPT2_DIR "third_party/gpt2-bpe"
#endif

namespace psalm::cli {

namespace eval_detail {

namespace fs = std::filesystem;

/// The tasks `psalm eval` knows, in the order it runs them.
inline const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"panoptic",    "referring", "gres",
                                                 "interactive", "vos",       "open-vocab"};
  return names;
}

/// The model folder `path` names: the folder itself when it holds config.json and
/// model.safetensors (a model folder or a checkpoint), or for a run folder its `latest`
/// checkpoint.
inline fs::path model_folder(const fs::path& path) {
  if (!fs::is_directory(path)) throw UsageError("--model: " + path.string() + " is not a folder");
  if (fs::is_regular_file(path / train::kConfigFile) &&
      fs::is_regular_file(path / train::kModelFile))
    return path;
  if (fs::exists(path / train::kLatestFile)) return train::latest_checkpoint(path);
  throw UsageError("--model: " + path.string() + " holds neither " + train::kConfigFile + " + " +
                   train::kModelFile + " (a model or checkpoint folder) nor a run's `" +
                   train::kLatestFile + "` file");
}

/// --data synthetic[:val|:train][:SEED]: which scenes and the training seed they relate to.
struct DataChoice {
  bool held_out = true;                      ///< val: the held-out scenes of held_out_seed(seed)
  std::optional<std::uint64_t> training_seed;  ///< the run's data seed; unset: from the run
};

inline DataChoice parse_data(const std::string& text) {
  const std::string usage =
      "--data must be synthetic, synthetic:val[:SEED] or synthetic:train[:SEED], got '" + text + "'";
  std::vector<std::string> parts;
  std::size_t from = 0;
  for (std::size_t colon; (colon = text.find(':', from)) != std::string::npos; from = colon + 1)
    parts.push_back(text.substr(from, colon - from));
  parts.push_back(text.substr(from));
  if (parts.size() > 3 || parts[0] != "synthetic") throw UsageError(usage);
  DataChoice d;
  if (parts.size() >= 2) {
    if (parts[1] != "val" && parts[1] != "train") throw UsageError(usage);
    d.held_out = parts[1] == "val";
  }
  if (parts.size() == 3) {
    const std::string& s = parts[2];
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
      throw UsageError("--data: '" + s + "' is not a seed (a non-negative integer)");
    try {
      d.training_seed = std::stoull(s);
    } catch (const std::exception&) {
      throw UsageError("--data: seed '" + s + "' is out of range");
    }
  }
  return d;
}

/// The metrics a task's table row shows first (the rest follow in name order).
inline std::vector<std::string> headline(const std::string& task) {
  if (task == "panoptic") return {"pq", "sq", "rq", "pq_things", "pq_stuff"};
  if (task == "referring") return {"ciou", "giou"};
  if (task == "gres") return {"giou", "ciou", "n_acc", "t_acc"};
  if (task == "interactive") return {"miou", "ciou"};
  if (task == "vos") return {"jf", "j", "f"};
  return {"pq", "pq_held_out", "pq_seen", "ap", "ap_held_out", "ap_seen"};
}

}  // namespace eval_detail

/// `psalm eval` writing its table or JSON to `out` (the tests pass a file).
inline int eval_main(int argc, char** argv, std::FILE* out) {
  namespace fs = std::filesystem;
  cxxopts::Options options(
      "psalm eval",
      "Evaluate a model on held-out synthetic scenes (docs/cli.md): the scenes `psalm train` "
      "evaluates on, so the numbers compare. vos: zero-shot video object segmentation (J&F) "
      "through the interactive path, the first frame's masks as prompts; open-vocab: panoptic "
      "scenes holding the categories held out of training, every category named (PQ and "
      "instance AP, also on the held-out categories alone).");
  options.add_options()
      ("model", "a model folder (config.json + model.safetensors), a checkpoint folder, or a run "
       "folder (its latest checkpoint)", cxxopts::value<std::string>())
      ("data", "synthetic[:val|:train][:SEED]: val = the held-out scenes of a run trained on "
       "scenes of SEED (default: the run's --seed, else 0); train = the training scenes",
       cxxopts::value<std::string>()->default_value("synthetic:val"))
      ("tasks", "comma-separated: panoptic, referring, gres, interactive, vos, open-vocab",
       cxxopts::value<std::string>()->default_value("panoptic,referring,gres,interactive,vos,open-vocab"))
      ("examples", "examples per task (videos for vos)", cxxopts::value<std::int64_t>()->default_value("64"))
      ("frames", "frames per video (vos), 3 to 64", cxxopts::value<int>()->default_value("12"))
      ("no-memory", "vos: always prompt from the first frame (upstream with_memory=False)")
      ("batch-size", "examples per forward pass", cxxopts::value<std::int64_t>()->default_value("8"))
      ("scene-size", "synthetic scene side in pixels (default: the model's input side, as "
       "`psalm train`)", cxxopts::value<std::int64_t>())
      ("json", "print the metrics as JSON instead of a table")
      ("gpt2", "folder with the GPT-2 BPE files (vocab.json, merges.txt)",
       cxxopts::value<std::string>()->default_value(PSALM_GPT2_DIR));
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;

  const std::string model_arg = required<std::string>(args, "model");
  const eval_detail::DataChoice data = eval_detail::parse_data(args["data"].as<std::string>());
  const std::vector<std::string> tasks = [&] {
    std::vector<std::string> list;
    std::stringstream in(args["tasks"].as<std::string>());
    for (std::string t; std::getline(in, t, ',');) {
      const auto& known = eval_detail::task_names();
      if (std::find(known.begin(), known.end(), t) == known.end())
        throw UsageError("unknown task '" + t + "' in --tasks (expected panoptic, referring, gres, "
                         "interactive, vos or open-vocab)");
      if (std::find(list.begin(), list.end(), t) == list.end()) list.push_back(t);
    }
    if (list.empty()) throw UsageError("--tasks names no task");
    return list;
  }();
  const std::int64_t examples = args["examples"].as<std::int64_t>();
  const std::int64_t batch_size = args["batch-size"].as<std::int64_t>();
  const int frames = args["frames"].as<int>();
  if (examples < 1 || examples > 1000000) throw UsageError("--examples must be in [1, 1000000]");
  if (batch_size < 1 || batch_size > 4096) throw UsageError("--batch-size must be in [1, 4096]");
  if (frames < 3 || frames > 64)
    throw UsageError("--frames must be in [3, 64] (the first and last frame are not scored)");

  // The model and what the run recorded about itself.
  const fs::path folder = eval_detail::model_folder(model_arg);
  const PsalmConfig config =
      PsalmConfig::from_json(io::ConfigReader::from_file(folder / train::kConfigFile));
  std::optional<std::int64_t> step;
  std::uint64_t run_seed = 0;
  if (fs::is_regular_file(folder / train::kTrainerStateFile)) {
    const nlohmann::json state = read_json_file(folder / train::kTrainerStateFile);
    if (state.contains("step") && state["step"].is_number_integer()) step = state["step"].get<std::int64_t>();
    if (state.contains("seed") && state["seed"].is_number_unsigned()) run_seed = state["seed"].get<std::uint64_t>();
  }
  nn::InitRng rng = nn::InitRng::for_loading();
  PsalmModel<float> model(config, rng);
  load_psalm_weights(model, io::SafetensorsFile::open(folder / train::kModelFile));
  const InputEncoder encoder(config, psalm_tokenizer(args["gpt2"].as<std::string>()));

  // The scenes: those of `psalm train --data synthetic:SEED` (train) or its held-out ones (val).
  const std::uint64_t training_seed = data.training_seed.value_or(run_seed);
  const std::uint64_t seed = data.held_out ? train::held_out_seed(training_seed) : training_seed;
  train::SyntheticExampleOptions synthetic;
  const std::int64_t side =
      args.count("scene-size") ? args["scene-size"].as<std::int64_t>() : config.image_size;
  if (side < 64 || side > 1024) throw UsageError("--scene-size must be in [64, 1024]");
  synthetic.scene.height = synthetic.scene.width = side;
  synthetic.scene.seed = data.held_out ? training_seed : seed;  // synthetic_sources' training seed
  std::vector<std::string> image_tasks;
  for (const std::string& t : tasks)
    if (t != "vos" && t != "open-vocab") image_tasks.push_back(t);
  train::DataSources sources;
  if (data.held_out) {
    sources = train::synthetic_sources(synthetic, image_tasks, seed);
  } else {
    // The training scenes themselves (as `psalm train` draws them), for a fit check.
    sources = train::synthetic_sources(synthetic, image_tasks, train::held_out_seed(seed));
    sources.held_out = sources.train;
  }

  std::fprintf(stderr, "psalm eval: %s%s, %s synthetic scenes (seed %llu, %lld px), %lld examples per task\n",
               folder.string().c_str(),
               step ? (" (step " + std::to_string(*step) + ")").c_str() : "",
               data.held_out ? "held-out" : "training", static_cast<unsigned long long>(seed),
               static_cast<long long>(side), static_cast<long long>(examples));
  nlohmann::json report{{"model", folder.string()},
                        {"data", {{"split", data.held_out ? "val" : "train"},
                                  {"seed", seed},
                                  {"training_seed", training_seed},
                                  {"scene_size", side}}},
                        {"examples", examples},
                        {"tasks", nlohmann::json::object()}};
  if (step) report["step"] = *step;
  ProgressBar bar;
  for (const std::string& task : tasks) {
    const auto began = std::chrono::steady_clock::now();
    const auto progress = [&](std::int64_t done, std::int64_t total) { bar.update(task, done, total); };
    progress(0, examples);  // starts the clock of the rate
    train::EvaluationResult r;
    if (task == "vos") {
      train::VideoEvaluateOptions o;
      o.batch_size = batch_size;
      o.tracking.with_memory = args.count("no-memory") == 0;
      o.progress = progress;
      r = train::evaluate_video<cpu>(model, encoder, train::synthetic_video_source(synthetic, seed, frames),
                                     examples, o);
    } else if (task == "open-vocab") {
      const train::OpenVocabularySource ov = train::synthetic_open_vocabulary(synthetic, seed);
      r = train::evaluate<cpu>(model, encoder, Task::panoptic, ov.examples, examples,
                               {.batch_size = batch_size,
                                .instance_ap = true,
                                .held_out_classes = ov.held_out_classes,
                                .progress = progress});
    } else {
      r = train::evaluate<cpu>(model, encoder, parse_task(task), sources.held_out.at(task), examples,
                               {.batch_size = batch_size, .progress = progress});
    }
    bar.finish();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    report["tasks"][task] = {{"examples", r.examples}, {"seconds", seconds}, {"metrics", r.metrics}};
  }

  if (args.count("json")) {
    std::fprintf(out, "%s\n", report.dump(2).c_str());
    return 0;
  }
  std::fprintf(out, "%-12s %8s %8s  %s\n", "task", "examples", "time", "metrics (%)");
  for (const std::string& task : tasks) {
    const nlohmann::json& t = report["tasks"][task];
    std::vector<std::string> keys = eval_detail::headline(task);
    for (const auto& [k, v] : t["metrics"].items())
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    std::string line;
    for (const std::string& k : keys) {
      if (!t["metrics"].contains(k) || !t["metrics"][k].is_number()) continue;
      char cell[64];
      std::snprintf(cell, sizeof cell, "  %s %.2f", k.c_str(), 100.0 * t["metrics"][k].get<double>());
      line += cell;
    }
    std::fprintf(out, "%-12s %8lld %7.1fs %s\n", task.c_str(), static_cast<long long>(t["examples"].get<std::int64_t>()),
                 t["seconds"].get<double>(), line.c_str());
  }
  return 0;
}

inline int run_eval(int argc, char** argv) { return eval_main(argc, argv, stdout); }

}  // namespace psalm::cli
