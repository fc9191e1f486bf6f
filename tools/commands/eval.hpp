// tools/commands/eval.hpp — `psalm eval`: held-out metrics of a model with the library's
// evaluation (psalm/train/evaluate*.hpp: the encoding, post-processing and eval/ scorers of the
// trainer's held-out evaluation and `psalm score`). On the synthetic scenes: panoptic PQ,
// referring cIoU, gRES gIoU / N-acc, interactive mIoU per prompt kind, zero-shot video object
// segmentation J&F through the interactive path, and open vocabulary (PQ / AP on the categories
// held out of training, named at test time), and conversations (questions about held-out
// scenes answered as `psalm chat` answers them: exact match and token accuracy per question kind
// beside the majority answer's chance level); the held-out scenes are those `psalm train`
// evaluates on (train::held_out_seed), so the numbers compare. Or on a dataset train/data_spec.hpp
// opens (coco-panoptic:DIR, refcoco:DIR:val, grefcoco:..., coco-interactive:...), with its own
// task. --save-predictions writes answers and ground truth in the layouts `psalm score` reads.
// A progress bar on stderr; a table in percent or JSON on stdout. See docs/cli.md.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "commands/progress.hpp"
#include "commands/segment.hpp"
#include "psalm/io/image.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/train/checkpoint.hpp"
#include "psalm/train/data_sources.hpp"
#include "psalm/train/data_spec.hpp"
#include "psalm/train/evaluate.hpp"
#include "psalm/train/evaluate_conversation.hpp"
#include "psalm/train/evaluate_video.hpp"

namespace psalm::cli {

namespace eval_detail {

namespace fs = std::filesystem;

/// The tasks `psalm eval` knows, in the order it runs them.
inline const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {
      "panoptic", "referring", "gres", "interactive", "vos", "open-vocab", "conversation"};
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
  bool held_out = true;                        ///< val: the held-out scenes of held_out_seed(seed)
  std::optional<std::uint64_t> training_seed;  ///< the run's data seed; unset: from the run
};

inline DataChoice parse_data(const std::string& text) {
  const std::string usage =
      "--data must be synthetic, synthetic:val[:SEED] or synthetic:train[:SEED], got '" + text +
      "'";
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
  if (task == "conversation") return {"exact_match", "token_accuracy", "chance"};
  return {"pq", "pq_held_out", "pq_seen", "ap", "ap_held_out", "ap_seen"};
}

/// Writes one answer and its ground truth in `psalm score`'s layout under root/<task>/.
class PredictionWriter {
 public:
  explicit PredictionWriter(fs::path dir, Task task) : dir_(std::move(dir)), task_(task) {
    fs::create_directories(dir_ / "gt");
    fs::create_directories(dir_ / "pred");
  }

  void add(std::int64_t index, const Example& ex, const TaskPrediction& p) {
    const std::string name = std::to_string(index) + ".png";
    const std::int64_t h = ex.image.size(0), w = ex.image.size(1);
    switch (condition_kind(task_)) {
      case ConditionKind::classes: {
        Tensor<std::int32_t> gt_ids;
        std::vector<eval::PanopticSegment> gt_segments;
        train::detail::panoptic_ground_truth(ex, gt_ids, gt_segments);
        io::save_png(dir_ / "gt" / name, io::panoptic_ids_to_rgb(gt_ids));
        io::save_png(dir_ / "pred" / name, io::panoptic_ids_to_rgb(p.panoptic.segment_ids));
        gt_json_["annotations"].push_back(annotation(index, name, gt_segments));
        pred_json_["annotations"].push_back(annotation(index, name, p.panoptic.segments));
        if (gt_json_["categories"].empty())
          for (const eval::PanopticCategory& c : example_categories(ex))
            gt_json_["categories"].push_back(
                {{"id", c.id}, {"name", c.name}, {"isthing", c.isthing ? 1 : 0}});
        break;
      }
      case ConditionKind::referring: {
        Tensor<std::uint8_t> gt = Tensor<std::uint8_t>::zeros(Shape{h, w});  // (H0, W0)
        for (std::int64_t n = 0; n < ex.num_targets(); ++n)
          for (std::int64_t i = 0; i < h * w; ++i)
            gt.data()[i] |= ex.target_masks.data()[n * h * w + i];
        io::save_binary_mask(dir_ / "gt" / name, gt);
        io::save_binary_mask(dir_ / "pred" / name,
                             task_ == Task::gres ? p.gres.mask : p.referring.mask);
        break;
      }
      case ConditionKind::regions:
        for (std::int64_t k = 0; k < ex.num_regions(); ++k) {
          const std::string kind =
              to_string(ex.prompt_kinds.empty() ? VisualPromptKind::point
                                                : ex.prompt_kinds[static_cast<std::size_t>(k)]);
          const std::string file = std::to_string(index) + "_" + std::to_string(k) + ".png";
          fs::create_directories(dir_ / "gt" / kind);
          fs::create_directories(dir_ / "pred" / kind);
          io::save_binary_mask(dir_ / "gt" / kind / file,
                               ex.target_masks.select(0, k).contiguous());
          io::save_binary_mask(dir_ / "pred" / kind / file,
                               p.regions[static_cast<std::size_t>(k)].mask);
        }
        break;
    }
  }

  /// The panoptic JSON files (other tasks need none).
  void finish() const {
    if (condition_kind(task_) != ConditionKind::classes) return;
    segment_detail::write_json(dir_ / "gt.json", gt_json_);
    segment_detail::write_json(dir_ / "pred.json", pred_json_);
  }

 private:
  static nlohmann::json annotation(std::int64_t index, const std::string& name,
                                   const std::vector<eval::PanopticSegment>& segments) {
    nlohmann::json info = nlohmann::json::array();
    for (const eval::PanopticSegment& s : segments)
      info.push_back({{"id", s.id},
                      {"category_id", s.category_id},
                      {"iscrowd", s.iscrowd ? 1 : 0},
                      {"area", s.area.value_or(0)}});
    return {{"image_id", index}, {"file_name", name}, {"segments_info", info}};
  }

  fs::path dir_;
  Task task_;
  nlohmann::json gt_json_{{"annotations", nlohmann::json::array()},
                          {"categories", nlohmann::json::array()}};
  nlohmann::json pred_json_{{"annotations", nlohmann::json::array()}};
};

/// One evaluation: a task's name as the table shows it and how to run it.
struct EvalJob {
  std::string name;
  Task task;  ///< the rule its answers follow
  std::function<train::EvaluationResult(const train::EvaluateOptions&)> run;
  bool saves_predictions = true;  ///< vos answers are index maps per video: not written
};

}  // namespace eval_detail

/// `psalm eval` writing its table or JSON to `out`.
inline int eval_main(int argc, char** argv, std::FILE* out) {
  namespace ed = eval_detail;
  namespace fs = std::filesystem;
  cxxopts::Options options(
      "psalm eval",
      "Evaluate a model (docs/cli.md). On held-out synthetic scenes, the scenes `psalm train` "
      "evaluates on, so the numbers compare; vos: zero-shot video object segmentation (J&F) "
      "through the interactive path, the first frame's masks as prompts; open-vocab: panoptic "
      "scenes holding the categories held out of training, every category named (PQ and "
      "instance AP, also on the held-out categories alone). Or on a dataset, with its task.");
  // clang-format off
  options.add_options()
      ("model", "a model folder (config.json + model.safetensors), a checkpoint folder, or a run "
       "folder (its latest checkpoint); default: the shipped psalm-tiny", cxxopts::value<std::string>())
      ("data", "synthetic[:val|:train][:SEED]: val = the held-out scenes of a run trained on "
       "scenes of SEED (default: the run's --seed, else 0); train = the training scenes. Or a "
       "dataset: coco-panoptic:DIR, refcoco:DIR:val, grefcoco:DIR:val, "
       "coco-interactive:DIR:val:prompt=point, ... (docs/data.md)",
       cxxopts::value<std::string>()->default_value("synthetic:val"))
      ("tasks", "synthetic data, comma-separated: panoptic, referring, gres, interactive, vos, "
       "open-vocab, conversation (not in the default)", cxxopts::value<std::string>()->default_value("panoptic,referring,gres,interactive,vos,open-vocab"))
      ("examples", "examples per task (videos for vos); default: 64 synthetic, all of a dataset",
       cxxopts::value<std::int64_t>())
      ("frames", "frames per video (vos), 3 to 64", cxxopts::value<int>()->default_value("12"))
      ("no-memory", "vos: always prompt from the first frame (upstream with_memory=False)")
      ("batch-size", "examples per forward pass", cxxopts::value<std::int64_t>()->default_value("8"))
      ("scene-size", "synthetic scene side in pixels (default: the model's input side, as "
       "`psalm train`)", cxxopts::value<std::int64_t>())
      ("save-predictions", "write answers and ground truth in `psalm score` layouts to this "
       "folder (one sub-folder per task; not for vos)", cxxopts::value<std::string>())
      ("json", "print the metrics as JSON instead of a table")
      ("gpt2", "folder with the GPT-2 BPE files (default: the model folder's, else the "
       "installed ones)", cxxopts::value<std::string>());
  // clang-format on
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;

  const std::string data_arg = args["data"].as<std::string>();
  const bool synthetic = data_arg == "synthetic" || data_arg.rfind("synthetic:", 0) == 0;
  // As psalm train reads --tasks: no empty item, no task named twice.
  const std::vector<std::string> tasks = comma_items(args["tasks"].as<std::string>(), "tasks");
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const auto& known = ed::task_names();
    if (std::find(known.begin(), known.end(), tasks[i]) == known.end())
      throw UsageError("unknown task '" + tasks[i] +
                       "' in --tasks (expected panoptic, referring, gres, "
                       "interactive, vos, open-vocab or conversation)");
    if (std::find(tasks.begin(), tasks.begin() + static_cast<std::ptrdiff_t>(i), tasks[i]) !=
        tasks.begin() + static_cast<std::ptrdiff_t>(i))
      throw UsageError("--tasks names '" + tasks[i] + "' twice");
  }
  // 0: not given (64 synthetic examples, all of a dataset).
  const std::int64_t examples_arg =
      args.count("examples") ? in_range<std::int64_t>(args, "examples", 1, 1000000) : 0;
  const std::int64_t batch_size = in_range<std::int64_t>(args, "batch-size", 1, 4096);
  // The first and last frame of a video are not scored.
  const int frames = in_range<int>(args, "frames", 3, 64);
  const bool runs_vos = synthetic && std::find(tasks.begin(), tasks.end(), "vos") != tasks.end();
  if (!runs_vos && (args.count("frames") || args.count("no-memory")))
    throw UsageError(std::string("--") + (args.count("frames") ? "frames" : "no-memory") +
                     " applies to the vos task, which this run does not have");
  if (args.count("scene-size")) in_range<std::int64_t>(args, "scene-size", 64, 1024);
  std::optional<ed::DataChoice> choice;
  std::optional<train::ExampleSource> dataset;
  if (synthetic) {
    choice = ed::parse_data(data_arg);
  } else {
    if (args.count("tasks"))
      throw UsageError("--tasks applies to synthetic data; a dataset has its own task");
    if (args.count("scene-size")) throw UsageError("--scene-size applies to synthetic data");
    const train::DataSpec spec = train::parse_data_spec(data_arg);
    if (spec.kind == "davis")
      throw UsageError("--data " + data_arg +
                       ": for DAVIS run psalm segment --video, then "
                       "psalm score --task vos (psalm eval's vos runs on synthetic videos)");
    dataset.emplace(train::open_example_source(spec));
    if (dataset->size() == 0) throw Error(dataset->description() + ": no example");
  }

  // The model and what the run recorded about itself.
  const fs::path folder = args.count("model") ? ed::model_folder(args["model"].as<std::string>())
                                              : segment_detail::default_model_folder();
  SegmenterOptions seg_options;
  seg_options.tokenizer_dir = segment_detail::tokenizer_folder(args, folder);
  Segmenter seg = Segmenter::load(folder, seg_options);
  PsalmModel<float>& model = seg.model();
  const InputEncoder& encoder = seg.encoder();
  std::optional<std::int64_t> step;
  std::uint64_t run_seed = 0;
  if (fs::is_regular_file(folder / train::kTrainerStateFile)) {
    const nlohmann::json state = io::read_json_file(folder / train::kTrainerStateFile);
    if (state.contains("step") && state["step"].is_number_integer())
      step = state["step"].get<std::int64_t>();
    if (state.contains("seed") && state["seed"].is_number_unsigned())
      run_seed = state["seed"].get<std::uint64_t>();
  }

  nlohmann::json report{{"model", fs::absolute(folder).lexically_normal().string()},
                        {"tasks", nlohmann::json::object()}};
  if (step) report["step"] = *step;
  std::vector<ed::EvalJob> jobs;
  if (dataset) {
    const Task task = dataset->example(0).task;
    if (task == Task::instance || task == Task::semantic)
      throw UsageError(std::string("--data ") + data_arg + " is a " + to_string(task) +
                       " dataset; psalm eval scores panoptic, referring, gres and interactive data "
                       "(for " +
                       to_string(task) + ": psalm segment, then psalm score)");
    const std::int64_t count =
        examples_arg > 0 ? std::min(examples_arg, dataset->size()) : dataset->size();
    report["data"] = {{"dataset", dataset->description()}};
    report["examples"] = count;
    std::fprintf(stderr, "psalm eval: %s%s on %s, %lld examples\n", folder.string().c_str(),
                 step ? (" (step " + std::to_string(*step) + ")").c_str() : "",
                 dataset->description().c_str(), static_cast<long long>(count));
    jobs.push_back({to_string(task), task, [&, task, count](const train::EvaluateOptions& o) {
                      return train::evaluate<cpu>(
                          model, encoder, task, [&](std::int64_t i) { return dataset->example(i); },
                          count, o);
                    }});
  } else {
    // The scenes: those of `psalm train --data synthetic:SEED` (train) or its held-out ones (val).
    const std::uint64_t training_seed = choice->training_seed.value_or(run_seed);
    const std::uint64_t seed =
        choice->held_out ? train::held_out_seed(training_seed) : training_seed;
    const std::int64_t examples = examples_arg > 0 ? examples_arg : 64;
    auto synthetic_options = std::make_shared<train::SyntheticExampleOptions>();
    const std::int64_t side = args.count("scene-size")
                                  ? in_range<std::int64_t>(args, "scene-size", 64, 1024)
                                  : seg.config().image_size;
    synthetic_options->scene.height = synthetic_options->scene.width = side;
    // synthetic_sources takes the training seed and draws held-out scenes from its argument.
    synthetic_options->scene.seed = choice->held_out ? training_seed : seed;
    std::vector<std::string> image_tasks;
    for (const std::string& t : tasks)
      if (t != "vos" && t != "open-vocab" && t != "conversation") image_tasks.push_back(t);
    auto sources = std::make_shared<train::DataSources>();
    if (choice->held_out) {
      *sources = train::synthetic_sources(*synthetic_options, image_tasks, seed);
    } else {
      // The training scenes themselves (as `psalm train` draws them), for a fit check.
      *sources =
          train::synthetic_sources(*synthetic_options, image_tasks, train::held_out_seed(seed));
      sources->held_out = sources->train;
    }
    report["data"] = {{"split", choice->held_out ? "val" : "train"},
                      {"seed", seed},
                      {"training_seed", training_seed},
                      {"scene_size", side}};
    report["examples"] = examples;
    std::fprintf(
        stderr,
        "psalm eval: %s%s, %s synthetic scenes (seed %llu, %lld px), %lld examples per task\n",
        folder.string().c_str(), step ? (" (step " + std::to_string(*step) + ")").c_str() : "",
        choice->held_out ? "held-out" : "training", static_cast<unsigned long long>(seed),
        static_cast<long long>(side), static_cast<long long>(examples));
    const bool memory = args.count("no-memory") == 0;
    for (const std::string& task : tasks) {
      if (task == "vos") {
        jobs.push_back(
            {task, Task::interactive,
             [&, synthetic_options, seed, examples, memory](const train::EvaluateOptions& o) {
               train::VideoEvaluateOptions v;
               v.batch_size = o.batch_size;
               v.tracking.with_memory = memory;
               v.progress = o.progress;
               return train::evaluate_video<cpu>(
                   model, encoder, train::synthetic_video_source(*synthetic_options, seed, frames),
                   examples, v);
             },
             false});
      } else if (task == "conversation") {
        // The questions about the scenes of `seed` (held-out or training), train split.
        train::SyntheticExampleOptions conversation = *synthetic_options;
        conversation.scene.seed = seed;
        conversation.scene.split = data::synthetic::Split::train;
        jobs.push_back({task, Task::referring,
                        [&seg, conversation, examples](const train::EvaluateOptions& o) {
                          return train::evaluate_conversation(
                              seg,
                              [&conversation](std::int64_t i) {
                                return train::synthetic_conversation(conversation,
                                                                     static_cast<std::uint64_t>(i));
                              },
                              examples,
                              {.kind_of = train::synthetic_question_kind, .progress = o.progress});
                        },
                        false});
      } else if (task == "open-vocab") {
        jobs.push_back({task, Task::panoptic,
                        [&, synthetic_options, seed, examples](train::EvaluateOptions o) {
                          const train::OpenVocabularySource ov =
                              train::synthetic_open_vocabulary(*synthetic_options, seed);
                          o.instance_ap = true;
                          o.held_out_classes = ov.held_out_classes;
                          return train::evaluate<cpu>(model, encoder, Task::panoptic, ov.examples,
                                                      examples, o);
                        }});
      } else {
        jobs.push_back(
            {task, parse_task(task), [&, sources, task, examples](const train::EvaluateOptions& o) {
               return train::evaluate<cpu>(model, encoder, parse_task(task),
                                           sources->held_out.at(task), examples, o);
             }});
      }
    }
  }

  std::optional<segment_detail::StagedFolder> saved;
  if (args.count("save-predictions"))
    saved.emplace(args["save-predictions"].as<std::string>(), false);
  ProgressBar bar;
  for (const ed::EvalJob& job : jobs) {
    const auto began = std::chrono::steady_clock::now();
    std::optional<ed::PredictionWriter> writer;
    train::EvaluateOptions opt;
    opt.batch_size = batch_size;
    opt.progress = [&](std::int64_t done, std::int64_t total) {
      bar.update(job.name, done, total);
    };
    if (saved && job.saves_predictions) {
      writer.emplace(saved->path() / job.name, job.task);
      opt.on_prediction = [&](std::int64_t i, const Example& ex, const TaskPrediction& p) {
        writer->add(i, ex, p);
      };
    }
    const train::EvaluationResult r = job.run(opt);
    bar.finish();
    if (writer) writer->finish();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    report["tasks"][job.name] = {{"examples", r.examples},
                                 {"seconds", seconds},
                                 {"metrics", r.metrics},
                                 {"report", r.report}};
  }
  if (saved) {
    segment_detail::write_json(saved->path() / "summary.json", report);
    saved->commit();
  }

  if (args.count("json")) {
    std::fprintf(out, "%s\n", json_with_nonfinite_as_strings(report).dump(2).c_str());
    return 0;
  }
  std::fprintf(out, "%-12s %8s %8s  %s\n", "task", "examples", "time", "metrics (%)");
  for (const ed::EvalJob& job : jobs) {
    const nlohmann::json& t = report["tasks"][job.name];
    std::vector<std::string> keys = ed::headline(job.name);
    for (const auto& [k, v] : t["metrics"].items())
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    std::string line;
    for (const std::string& k : keys) {
      if (!t["metrics"].contains(k) || !t["metrics"][k].is_number()) continue;
      char cell[64];
      std::snprintf(cell, sizeof cell, "  %s %.2f", k.c_str(),
                    100.0 * t["metrics"][k].get<double>());
      line += cell;
    }
    std::fprintf(out, "%-12s %8lld %7.1fs %s\n", job.name.c_str(),
                 static_cast<long long>(t["examples"].get<std::int64_t>()),
                 t["seconds"].get<double>(), line.c_str());
  }
  return 0;
}

inline int run_eval(int argc, char** argv) { return eval_main(argc, argv, stdout); }

}  // namespace psalm::cli
