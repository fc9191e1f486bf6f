// tools/commands/eval.hpp — `psalm eval`: a model folder run over a dataset through the
// inference path (psalm/train/evaluate.hpp: the same encoding, post-processing and eval/
// scorers as the trainer's held-out evaluation and `psalm score`), metrics printed with their
// protocol; --save-predictions writes predictions and ground truth in the layouts `psalm score`
// reads, so any number can be recomputed from files. Datasets: the synthetic scenes
// (synthetic:val[:SEED] or synthetic:train[:SEED]) and every dataset train/data_spec.hpp opens
// (coco-panoptic:DIR, refcoco:DIR:val, grefcoco:..., coco-interactive:...). See docs/cli.md.
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "commands/progress.hpp"
#include "commands/segment.hpp"
#include "psalm/io/image.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/train/data_spec.hpp"
#include "psalm/train/evaluate.hpp"
#include "psalm/train/synthetic_examples.hpp"

namespace psalm::cli {

namespace eval_detail {

namespace fs = std::filesystem;

/// "synthetic:val[:SEED]" / "synthetic:train[:SEED]" -> split and seed.
inline void parse_data(const std::string& text, data::synthetic::Split& split,
                       std::uint64_t& seed) {
  const std::string prefix = "synthetic:";
  if (text.rfind(prefix, 0) != 0)
    throw UsageError("--data must be synthetic:val[:SEED] or synthetic:train[:SEED], got '" + text +
                     "'");
  std::string rest = text.substr(prefix.size());
  const std::size_t colon = rest.find(':');
  const std::string name = rest.substr(0, colon);
  if (name == "val")
    split = data::synthetic::Split::val;
  else if (name == "train")
    split = data::synthetic::Split::train;
  else
    throw UsageError("--data: split must be val or train, got '" + name + "'");
  seed = 0;
  if (colon != std::string::npos) {
    const std::string s = rest.substr(colon + 1);
    std::size_t used = 0;
    try {
      seed = std::stoull(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size()) throw UsageError("--data: '" + s + "' is not a seed");
  }
}

/// Writes one answer and its ground truth in `psalm score`'s layout under root/<task>/.
class PredictionWriter {
 public:
  PredictionWriter(fs::path root, Task task)
      : dir_(std::move(root) / to_string(task)), task_(task) {
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

}  // namespace eval_detail

inline int run_eval(int argc, char** argv) {
  namespace ed = eval_detail;
  namespace fs = std::filesystem;
  cxxopts::Options options("psalm eval",
                           "Run a model over a dataset and print each task's metrics with their "
                           "protocol (the evaluators of `psalm score`).");
  // clang-format off
  options.add_options()
      ("model", "model folder (config.json + model.safetensors; default: the shipped psalm-tiny)", cxxopts::value<std::string>())
      ("data", "synthetic:val[:SEED], synthetic:train[:SEED], or a dataset: coco-panoptic:DIR, refcoco:DIR:val, grefcoco:DIR:val, coco-interactive:DIR:val:prompt=point, ... (docs/data.md)", cxxopts::value<std::string>()->default_value("synthetic:val"))
      ("tasks", "synthetic data: comma-separated panoptic, referring, gres, interactive", cxxopts::value<std::string>()->default_value("panoptic,referring,gres,interactive"))
      ("examples", "examples per task (default: 64 synthetic, a dataset's all)", cxxopts::value<std::int64_t>()->default_value("0"))
      ("size", "scene side in pixels (default: the model's input side)", cxxopts::value<std::int64_t>())
      ("batch-size", "examples per forward pass", cxxopts::value<std::int64_t>()->default_value("8"))
      ("save-predictions", "write predictions and ground truth in `psalm score` layouts to this folder", cxxopts::value<std::string>())
      ("json", "print the metrics as one JSON object")
      ("gpt2", "folder with the GPT-2 BPE files", cxxopts::value<std::string>());
  // clang-format on
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  const std::string data_arg = args["data"].as<std::string>();
  const bool synthetic = data_arg.rfind("synthetic", 0) == 0;
  const std::int64_t examples = args["examples"].as<std::int64_t>();
  const std::int64_t batch = args["batch-size"].as<std::int64_t>();
  if (examples < 0 || batch < 1)
    throw UsageError("--examples must be >= 0 and --batch-size positive");
  // Each task with its example source and count.
  struct Job {
    Task task;
    std::function<Example(std::int64_t)> source;
    std::int64_t count;
  };
  std::vector<Job> jobs;
  data::synthetic::Split split = data::synthetic::Split::val;
  std::uint64_t seed = 0;
  std::optional<train::ExampleSource> dataset;
  if (synthetic) {
    ed::parse_data(data_arg, split, seed);
  } else {
    if (args.count("tasks"))
      throw UsageError("--tasks applies to synthetic data; a dataset has its own task");
    if (args.count("size")) throw UsageError("--size applies to synthetic data");
    dataset.emplace(train::open_example_source(train::parse_data_spec(data_arg)));
    if (dataset->size() == 0) throw Error(dataset->description() + ": no example");
    const Task task = dataset->example(0).task;
    if (task == Task::instance || task == Task::semantic)
      throw UsageError(
          std::string("--data ") + data_arg + " is a " + to_string(task) +
          " dataset; psalm eval scores panoptic, referring, gres and interactive data (for " +
          to_string(task) + ": psalm segment, then psalm score)");
    jobs.push_back({task, [&](std::int64_t i) { return dataset->example(i); },
                    examples == 0 ? dataset->size() : std::min(examples, dataset->size())});
  }

  const fs::path model_dir = args.count("model") ? fs::path(args["model"].as<std::string>())
                                                 : segment_detail::default_model_folder();
  SegmenterOptions seg_options;
  seg_options.tokenizer_dir = segment_detail::tokenizer_folder(args, model_dir);
  Segmenter seg = Segmenter::load(model_dir, seg_options);
  train::SyntheticExampleOptions data;
  if (synthetic) {
    data.scene.split = split;
    data.scene.seed = seed;
    const std::int64_t size =
        args.count("size") ? args["size"].as<std::int64_t>() : seg.config().image_size;
    if (size < 64 || size > 1024)
      throw UsageError("--size must be in [64, 1024], got " + std::to_string(size));
    data.scene.height = data.scene.width = size;
    data.include_held_out_classes = split == data::synthetic::Split::val;
    for (const std::string& name : segment_detail::split_classes(args["tasks"].as<std::string>())) {
      Task t;
      try {
        t = parse_task(name);
      } catch (const Error& e) {
        throw UsageError(std::string("--tasks: ") + e.what());
      }
      if (t == Task::instance || t == Task::semantic)
        throw UsageError("--tasks: " + name +
                         " is scored as panoptic on the synthetic scenes; ask for panoptic");
      jobs.push_back({t,
                      [&data, t](std::int64_t i) {
                        return train::synthetic_example(t, data, static_cast<std::uint64_t>(i));
                      },
                      examples == 0 ? 64 : examples});
    }
    if (jobs.empty()) throw UsageError("--tasks lists no task");
  }

  std::optional<segment_detail::StagedFolder> saved;
  if (args.count("save-predictions"))
    saved.emplace(args["save-predictions"].as<std::string>(), false);
  nlohmann::json all{{"model", fs::absolute(model_dir).lexically_normal().string()},
                     {"data", dataset ? dataset->description() : data_arg},
                     {"tasks", nlohmann::json::object()}};
  std::string reports;
  ProgressBar bar;
  for (const Job& job : jobs) {
    const Task task = job.task;
    std::optional<ed::PredictionWriter> writer;
    if (saved) writer.emplace(saved->path(), task);
    train::EvaluateOptions opt;
    opt.batch_size = batch;
    opt.progress = [&](std::int64_t done, std::int64_t total) {
      bar.update(to_string(task), done, total);
    };
    if (writer)
      opt.on_prediction = [&](std::int64_t i, const Example& ex, const TaskPrediction& p) {
        writer->add(i, ex, p);
      };
    const train::EvaluationResult r =
        train::evaluate<cpu>(seg.model(), seg.encoder(), task, job.source, job.count, opt);
    if (writer) writer->finish();
    all["tasks"][to_string(task)] = {
        {"metrics", r.metrics}, {"report", r.report}, {"examples", r.examples}};
    reports += std::string("== ") + to_string(task) + " (" + std::to_string(r.examples) +
               " examples)\n" + r.report + "\n";
  }
  bar.finish();
  if (saved) {
    segment_detail::write_json(saved->path() / "summary.json", all);
    saved->commit();
  }
  if (args.count("json"))
    std::printf("%s\n", all.dump(2).c_str());
  else
    std::printf("%s", reports.c_str());
  return 0;
}

}  // namespace psalm::cli
