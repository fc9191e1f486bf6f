// tools/commands/train.hpp — `psalm train`: trains PSALM (stage 1: projector alignment on
// conversations; stage 2: joint segmentation training) on the synthetic scenes generated on
// the fly, with a progress line, metrics.jsonl, loss.png, held-out evaluation and atomic,
// resumable checkpoints in --out. The library does the work (psalm/train/trainer.hpp); this
// file checks every option first (ranges, numbers read whole, the run folder new or empty
// unless --resume: bad input is exit 2 before anything is built) and prints. Started by
// mpirun (a build with MPI), every process is one data-parallel rank and rank 0 alone prints
// and writes the run folder (docs/distributed.md). See docs/cli.md.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "commands/common.hpp"
#include "psalm/dist/communicator.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/psalm/weights.hpp"
#include "psalm/train/trainer.hpp"
#ifdef PSALM_WITH_MPI
#include "psalm/dist/mpi.hpp"
#endif

#ifndef PSALM_GPT2_DIR
#define PSALM_GPT2_DIR "third_party/gpt2-bpe"
#endif

namespace psalm::cli {

namespace detail {

inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

/// This process's rank among those mpirun started (a one-process group without mpirun).
inline std::unique_ptr<dist::Communicator> communicator() {
#ifdef PSALM_WITH_MPI
  if (dist::MpiCommunicator::launched_by_mpirun()) return std::make_unique<dist::MpiCommunicator>();
#else
  const char* ranks = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (ranks == nullptr) ranks = std::getenv("PMI_SIZE");
  if (ranks != nullptr && std::string(ranks) != "1")
    throw UsageError("started by mpirun with " + std::string(ranks) +
                     " ranks, but this psalm was built without MPI (install libopenmpi-dev and "
                     "rebuild; docs/distributed.md)");
#endif
  return std::make_unique<dist::SingleProcess>();
}

/// Upper bounds of the counting options (each stated in --help): far beyond any real run, low
/// enough that nothing derived from them overflows.
inline constexpr std::int64_t kMaxTrainSteps = 1'000'000'000;
inline constexpr std::int64_t kMaxEvalExamples = 100'000;

}  // namespace detail

inline int run_train(int argc, char** argv) {
  namespace fs = std::filesystem;
  const std::string max_steps = std::to_string(detail::kMaxTrainSteps);
  cxxopts::Options options("psalm train",
                           "Train PSALM on the synthetic scenes (docs/cli.md). Stage 2 "
                           "trains segmentation jointly on the tasks; stage 1 aligns the "
                           "projector on image conversations.");
  options.add_options(
      "",
      {
          {"out", "run folder: checkpoints, metrics.jsonl, loss.png; new or empty unless --resume",
           cxxopts::value<std::string>()},
          {"preset",
           "model size: tiny (128 px, trains on a laptop CPU) or psalm (the released shapes)",
           cxxopts::value<std::string>()->default_value("tiny")},
          {"init",
           "start from this model folder (config.json, model.safetensors or a sharded index: "
           "psalm init's output, the released PSALM) instead of "
           "random weights of a --preset",
           cxxopts::value<std::string>()},
          {"data", "synthetic[:SEED] (scenes generated on the fly)",
           cxxopts::value<std::string>()->default_value("synthetic")},
          {"stage", "1 or 2", cxxopts::value<int>()->default_value("2")},
          {"tasks",
           "comma-separated, each once: panoptic, instance, semantic, referring, gres, "
           "interactive; conversation (stage 1)",
           cxxopts::value<std::string>()->default_value("panoptic,referring,gres,interactive")},
          {"ratios", "comma-separated positive share of each task (default: equal)",
           cxxopts::value<std::string>()},
          {"steps", "total optimizer steps, 0 to " + max_steps + " (0: from --minutes)",
           cxxopts::value<std::int64_t>()->default_value("0")},
          {"minutes", "time budget instead of --steps, 0 to 1e6",
           cxxopts::value<std::string>()->default_value("0")},
          {"batch-size",
           "examples per step and rank (under mpirun: the step's batch is ranks x "
           "this), 1 to 4096",
           cxxopts::value<std::int64_t>()->default_value("4")},
          {"lr", "peak learning rate, in (0, 10)",
           cxxopts::value<std::string>()->default_value("1e-4")},
          {"weight-decay", "AdamW weight decay, 0 to 10",
           cxxopts::value<std::string>()->default_value("0")},
          {"warmup", "warm-up share of the steps, in [0, 1)",
           cxxopts::value<std::string>()->default_value("0.03")},
          {"vision-lr-scale", "learning-rate factor of the vision tower, 0 to 1000",
           cxxopts::value<std::string>()->default_value("1")},
          {"train-vision-tower",
           "train Swin too (upstream keeps it frozen; needed from random weights)"},
          {"clip-grad-norm", "clip the global gradient norm, 0 to 1e9 (0: off)",
           cxxopts::value<std::string>()->default_value("0")},
          {"skip-non-finite",
           "skip a step whose loss or gradient is NaN / inf instead of stopping"},
          {"config", "a PsalmConfig JSON (as a model folder's config.json) instead of a --preset",
           cxxopts::value<std::string>()},
          {"image-size", "override the input side: 64 to 4096, a multiple of 64",
           cxxopts::value<std::int64_t>()},
          {"scene-size", "synthetic scene side in pixels, 64 to 1024 (default: the input side)",
           cxxopts::value<std::int64_t>()},
          {"seed", "seed of weights, data order and sampling, 0 to 2^64 - 1",
           cxxopts::value<std::uint64_t>()->default_value("0")},
          {"log-every", "a metrics line every N steps, 1 to " + max_steps,
           cxxopts::value<std::int64_t>()->default_value("10")},
          {"checkpoint-every", "checkpoint every N steps, 0 to " + max_steps + " (0: at the end)",
           cxxopts::value<std::int64_t>()->default_value("200")},
          {"eval-every",
           "held-out evaluation every N steps, 0 to " + max_steps + " (0: at the end)",
           cxxopts::value<std::int64_t>()->default_value("0")},
          {"eval-examples",
           "held-out examples per task, 1 to " + std::to_string(detail::kMaxEvalExamples),
           cxxopts::value<std::int64_t>()->default_value("64")},
          {"resume", "continue the run in --out from its latest checkpoint"},
          {"threads",
           "CPU threads of this process, 1 to 1024 (default: OMP_NUM_THREADS, else every core; "
           "under mpirun give each rank its share)",
           cxxopts::value<int>()},
          {"gpt2",
           "folder with the GPT-2 BPE files (vocab.json, merges.txt); with --init, the model "
           "folder's own tokenizer files are the default when it has them",
           cxxopts::value<std::string>()->default_value(PSALM_GPT2_DIR)},
      });
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;

  // Every option is checked here, before the tokenizer, the model or the run folder is touched.
  train::TrainerOptions opt;
  opt.out = required<std::string>(args, "out");
  opt.stage = in_range<int>(args, "stage", 1, 2);
  opt.tasks = comma_items(args["tasks"].as<std::string>(), "tasks");
  for (std::size_t i = 0; i < opt.tasks.size(); ++i)
    if (std::find(opt.tasks.begin(), opt.tasks.begin() + static_cast<std::ptrdiff_t>(i),
                  opt.tasks[i]) != opt.tasks.begin() + static_cast<std::ptrdiff_t>(i))
      throw UsageError("--tasks names '" + opt.tasks[i] + "' twice");
  if (args.count("ratios")) {
    for (const std::string& r : comma_items(args["ratios"].as<std::string>(), "ratios")) {
      const double v = parse_number<double>(r, "--ratios");
      if (!(v > 0 && v < 1e6)) throw UsageError("--ratios: '" + r + "' is not in (0, 1e6)");
      opt.ratios.push_back(v);
    }
    if (opt.ratios.size() != opt.tasks.size())
      throw UsageError("--ratios gives " + std::to_string(opt.ratios.size()) + " shares for " +
                       std::to_string(opt.tasks.size()) + " --tasks");
  }
  opt.steps = in_range<std::int64_t>(args, "steps", 0, detail::kMaxTrainSteps);
  opt.minutes = real_in_range(args, "minutes", 0, 1e6);
  opt.batch_size = in_range<std::int64_t>(args, "batch-size", 1, 4096);
  opt.lr = real_in_range(args, "lr", 0, 10);
  opt.weight_decay = real_in_range(args, "weight-decay", 0, 10);
  opt.warmup_fraction = real_in_range(args, "warmup", 0, 1);
  opt.vision_lr_scale = real_in_range(args, "vision-lr-scale", 0, 1000);
  opt.train_vision_tower = args.count("train-vision-tower") > 0;
  opt.clip_grad_norm = real_in_range(args, "clip-grad-norm", 0, 1e9);
  opt.skip_non_finite = args.count("skip-non-finite") > 0;
  opt.seed = args["seed"].as<std::uint64_t>();
  opt.log_every = in_range<std::int64_t>(args, "log-every", 1, detail::kMaxTrainSteps);
  opt.checkpoint_every =
      in_range<std::int64_t>(args, "checkpoint-every", 0, detail::kMaxTrainSteps);
  opt.eval_every = in_range<std::int64_t>(args, "eval-every", 0, detail::kMaxTrainSteps);
  opt.eval_examples = in_range<std::int64_t>(args, "eval-examples", 1, detail::kMaxEvalExamples);
  std::optional<int> threads;
  if (args.count("threads")) threads = in_range<int>(args, "threads", 1, 1024);
  try {
    opt.validate();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  if (args.count("init") && (args.count("preset") || args.count("config")))
    throw UsageError(std::string(args.count("preset") ? "--preset" : "--config") +
                     " does not apply with --init (the model folder's config.json "
                     "gives the shapes)");
  if (args.count("config") && args.count("preset"))
    throw UsageError("--preset and --config both give the model's shapes; pass one of them");
  const bool resume = args.count("resume") > 0;
  const std::unique_ptr<dist::Communicator> comm = detail::communicator();
  const bool root = comm->is_root();
  if (threads) cpu_backend::set_threads(*threads);
  // Rank 0 alone writes the run folder, so it alone requires it empty (the others would see
  // what it has begun to write).
  if (root || resume) {
    std::error_code ec;
    const auto st = fs::status(opt.out, ec);
    if (fs::exists(st) && !fs::is_directory(st))
      throw UsageError("--out " + opt.out.string() + ": is a file, not a folder");
    const bool empty =
        !fs::exists(st) || fs::directory_iterator(opt.out, ec) == fs::directory_iterator();
    if (resume && empty)
      throw UsageError("--resume: " + opt.out.string() + " holds no run to continue");
    if (!resume && !empty && root)
      throw UsageError("--out " + opt.out.string() +
                       ": folder is not empty; choose a new or empty folder, or pass --resume "
                       "to continue the run there");
  }
  const std::string data = args["data"].as<std::string>();
  std::uint64_t data_seed = opt.seed;
  if (data.rfind("synthetic", 0) != 0 || (data.size() > 9 && data[9] != ':'))
    throw UsageError("--data must be synthetic[:SEED], got '" + data + "'");
  if (data.size() > 9) data_seed = parse_number<std::uint64_t>(data.substr(10), "--data seed");
  std::optional<std::int64_t> scene_size;
  if (args.count("scene-size")) scene_size = in_range<std::int64_t>(args, "scene-size", 64, 1024);

  // The model: a preset (random weights) or an existing folder.
  PsalmConfig config;
  const std::string preset = args["preset"].as<std::string>();
  std::optional<fs::path> init;
  if (args.count("init")) {
    init = args["init"].as<std::string>();
    config = PsalmConfig::from_json(io::ConfigReader::from_file(*init / "config.json"));
  } else if (args.count("config")) {
    config = PsalmConfig::from_json(io::ConfigReader::from_file(args["config"].as<std::string>()));
  } else if (preset == "tiny") {
    config = PsalmConfig::psalm_tiny();
  } else if (preset == "psalm") {
    config = PsalmConfig::psalm_swin_b_phi_1_5();
  } else {
    throw UsageError("--preset must be tiny or psalm, got '" + preset + "'");
  }
  if (args.count("image-size")) {
    config.image_size = in_range<std::int64_t>(args, "image-size", 64, 4096);
    try {
      config.validate();
    } catch (const Error& e) {
      throw UsageError(std::string("--image-size: ") + e.what());
    }
  }
  train::SyntheticExampleOptions synthetic;
  const std::int64_t scene = scene_size ? *scene_size : config.image_size;
  if (scene < 64 || scene > 1024)
    throw UsageError("the scene side (the input side " + std::to_string(scene) +
                     " unless --scene-size is given) must be in [64, 1024]");
  synthetic.scene.height = synthetic.scene.width = scene;
  synthetic.scene.seed = data_seed;
  const train::DataSources sources =
      train::synthetic_sources(synthetic, opt.tasks, train::held_out_seed(data_seed));

  // An --init folder with its own tokenizer files (psalm init's output, the released folder)
  // tokenizes as psalm segment does with it, unless --gpt2 is given.
  const bool folder_tokens = init && !args.count("gpt2") && psalm::detail::has_gpt2_files(*init);
  const InputEncoder encoder(config, folder_tokens
                                         ? psalm::detail::folder_tokenizer(*init, config)
                                         : psalm_tokenizer(args["gpt2"].as<std::string>()));
  nn::InitRng rng = init ? nn::InitRng::for_loading() : nn::InitRng{opt.seed};
  PsalmModel<float> model(config, rng);
  if (init) load_psalm_weights(model, io::SafetensorsCheckpoint::open(*init));  // single or sharded
  train::Trainer<cpu> trainer(model, encoder, opt, sources, comm.get());
  if (resume) {
    trainer.resume();
    if (root)
      std::fprintf(stderr, "resumed %s at step %lld of %lld\n", opt.out.string().c_str(),
                   static_cast<long long>(trainer.step()),
                   static_cast<long long>(trainer.total_steps()));
  }
  if (root && comm->size() > 1)
    std::fprintf(stderr,
                 "data parallel: %d ranks (%s) x batch %lld = %lld samples per step, %d "
                 "thread(s) on rank 0\n",
                 comm->size(), comm->backend(), static_cast<long long>(opt.batch_size),
                 static_cast<long long>(opt.batch_size * comm->size()),
                 Executor<cpu>::max_threads());
  if (root)
    std::fprintf(stderr, "training %s: %lld parameters (%lld trainable), input %lld px, %s\n",
                 init ? init->string().c_str() : preset.c_str(),
                 static_cast<long long>(model.parameter_count()), static_cast<long long>([&] {
                   std::int64_t n = 0;
                   for (auto& p : model.trainable_parameters()) n += p.numel();
                   return n;
                 }()),
                 static_cast<long long>(config.image_size),
                 args["tasks"].as<std::string>().c_str());
  const bool tty = isatty(fileno(stderr)) != 0;
  double seconds = 0.0;
  trainer.run(
      [&](const train::StepReport& r) {
        seconds = r.seconds;
        if (!tty && r.step % opt.log_every != 0 && r.step != r.total) return;
        std::string terms;
        for (const auto& [name, v] : r.terms) {
          char buf[64];
          std::snprintf(buf, sizeof buf, " %s %.3f",
                        name.c_str() + (name.rfind("loss_", 0) == 0 ? 5 : 0), v);
          terms += buf;
        }
        const double eta = r.total > 0 && r.steps_per_second > 0
                               ? static_cast<double>(r.total - r.step) / r.steps_per_second
                               : NAN;
        std::fprintf(
            stderr, "%sstep %lld/%lld %-11s loss %.4f (%s ) lr %.2e %.2f steps/s eta %s%s%s",
            tty ? "\r\033[K" : "", static_cast<long long>(r.step), static_cast<long long>(r.total),
            r.task.c_str(), r.loss, terms.c_str() + 1, r.lr, r.steps_per_second,
            detail::format_duration(eta).c_str(), r.skipped ? " SKIPPED" : "", tty ? "" : "\n");
        std::fflush(stderr);
      },
      [&](const train::EvaluationResult& e, std::int64_t step) {
        std::fprintf(stderr, "%seval step %lld %s (%lld examples):", tty ? "\n" : "",
                     static_cast<long long>(step), to_string(e.task),
                     static_cast<long long>(e.examples));
        for (const auto& [k, v] : e.metrics.items())
          if (v.is_number()) std::fprintf(stderr, " %s %.4f", k.c_str(), v.get<double>());
        std::fprintf(stderr, "\n");
      });
  if (!root) return 0;
  if (tty) std::fprintf(stderr, "\n");
  if (comm->size() > 1 && seconds > 0)
    std::fprintf(stderr, "communication: %.1f s of %.1f s (%.1f%%) on rank 0\n",
                 trainer.communication_seconds(), seconds,
                 100.0 * trainer.communication_seconds() / seconds);
  std::printf("trained %lld steps; latest checkpoint %s\n", static_cast<long long>(trainer.step()),
              train::latest_checkpoint(opt.out).string().c_str());
  return 0;
}

}  // namespace psalm::cli
