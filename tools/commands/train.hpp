// tools/commands/train.hpp — `psalm train`: trains PSALM (stage 1: projector alignment on
// conversations; stage 2: joint segmentation training) on the synthetic scenes generated on
// the fly, with a progress line, metrics.jsonl, loss.png, held-out evaluation and atomic,
// resumable checkpoints in --out. The library does the work (psalm/train/trainer.hpp); this
// file parses options and prints. See docs/training.md.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "psalm/psalm/weights.hpp"
#include "psalm/train/trainer.hpp"

#ifndef PSALM_GPT2_DIR
#define PSALM_GPT2_DIR "third_party/gpt2-bpe"
#endif

namespace psalm::cli {

namespace detail {

inline std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

}  // namespace detail

inline int run_train(int argc, char** argv) {
  cxxopts::Options options("psalm train",
                           "Train PSALM on the synthetic scenes (docs/training.md). Stage 2 "
                           "trains segmentation jointly on the tasks; stage 1 aligns the "
                           "projector on image conversations.");
  options.add_options()
      ("out", "run folder: checkpoints, metrics.jsonl, loss.png", cxxopts::value<std::string>())
      ("preset", "model size: tiny (128 px, trains on a laptop CPU) or psalm (the released shapes)",
       cxxopts::value<std::string>()->default_value("tiny"))
      ("init", "start from this model folder or checkpoint instead of random weights",
       cxxopts::value<std::string>())
      ("data", "synthetic[:SEED] (scenes generated on the fly)", cxxopts::value<std::string>()->default_value("synthetic"))
      ("stage", "1 or 2", cxxopts::value<int>()->default_value("2"))
      ("tasks", "comma-separated: panoptic, referring, gres, interactive, conversation",
       cxxopts::value<std::string>()->default_value("panoptic,referring,gres,interactive"))
      ("ratios", "comma-separated share of each task (default: equal)", cxxopts::value<std::string>())
      ("steps", "total optimizer steps", cxxopts::value<std::int64_t>()->default_value("0"))
      ("minutes", "time budget instead of --steps", cxxopts::value<double>()->default_value("0"))
      ("batch-size", "examples per step (1..4096)", cxxopts::value<std::int64_t>()->default_value("4"))
      ("lr", "peak learning rate", cxxopts::value<double>()->default_value("1e-4"))
      ("weight-decay", "AdamW weight decay", cxxopts::value<double>()->default_value("0"))
      ("warmup", "warm-up share of the steps", cxxopts::value<double>()->default_value("0.03"))
      ("vision-lr-scale", "learning-rate factor of the vision tower", cxxopts::value<double>()->default_value("1"))
      ("train-vision-tower", "train Swin too (upstream keeps it frozen; needed from random weights)")
      ("clip-grad-norm", "clip the global gradient norm (0: off)", cxxopts::value<double>()->default_value("0"))
      ("skip-non-finite", "skip a step whose loss or gradient is NaN / inf instead of stopping")
      ("config", "a PsalmConfig JSON (as a checkpoint's config.json) instead of --preset",
       cxxopts::value<std::string>())
      ("image-size", "override the preset's input side (a multiple of 64)", cxxopts::value<std::int64_t>())
      ("scene-size", "synthetic scene side in pixels (default: the input side)", cxxopts::value<std::int64_t>())
      ("seed", "seed of weights, data order and sampling", cxxopts::value<std::uint64_t>()->default_value("0"))
      ("log-every", "a metrics line every N steps", cxxopts::value<std::int64_t>()->default_value("10"))
      ("checkpoint-every", "checkpoint every N steps (0: at the end)", cxxopts::value<std::int64_t>()->default_value("200"))
      ("eval-every", "held-out evaluation every N steps (0: at the end)", cxxopts::value<std::int64_t>()->default_value("0"))
      ("eval-examples", "held-out examples per task", cxxopts::value<std::int64_t>()->default_value("64"))
      ("resume", "continue the run in --out from its latest checkpoint")
      ("gpt2", "folder with the GPT-2 BPE files (vocab.json, merges.txt)",
       cxxopts::value<std::string>()->default_value(PSALM_GPT2_DIR));
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;

  train::TrainerOptions opt;
  opt.out = required<std::string>(args, "out");
  opt.stage = args["stage"].as<int>();
  opt.tasks = detail::split_list(args["tasks"].as<std::string>());
  if (args.count("ratios"))
    for (const std::string& r : detail::split_list(args["ratios"].as<std::string>())) {
      try {
        opt.ratios.push_back(std::stod(r));
      } catch (const std::exception&) {
        throw UsageError("--ratios: '" + r + "' is not a number");
      }
    }
  opt.steps = args["steps"].as<std::int64_t>();
  opt.minutes = args["minutes"].as<double>();
  opt.batch_size = args["batch-size"].as<std::int64_t>();
  opt.lr = args["lr"].as<double>();
  opt.weight_decay = args["weight-decay"].as<double>();
  opt.warmup_fraction = args["warmup"].as<double>();
  opt.vision_lr_scale = args["vision-lr-scale"].as<double>();
  opt.train_vision_tower = args.count("train-vision-tower") > 0;
  opt.clip_grad_norm = args["clip-grad-norm"].as<double>();
  opt.skip_non_finite = args.count("skip-non-finite") > 0;
  opt.seed = args["seed"].as<std::uint64_t>();
  opt.log_every = args["log-every"].as<std::int64_t>();
  opt.checkpoint_every = args["checkpoint-every"].as<std::int64_t>();
  opt.eval_every = args["eval-every"].as<std::int64_t>();
  opt.eval_examples = args["eval-examples"].as<std::int64_t>();
  try {
    opt.validate();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }

  // The model: a preset (random weights) or an existing folder.
  PsalmConfig config;
  const std::string preset = args["preset"].as<std::string>();
  std::optional<std::filesystem::path> init;
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
    config.image_size = args["image-size"].as<std::int64_t>();
    try {
      config.validate();
    } catch (const Error& e) {
      throw UsageError(std::string("--image-size: ") + e.what());
    }
  }
  const std::string data = args["data"].as<std::string>();
  std::uint64_t data_seed = opt.seed;
  if (data.rfind("synthetic", 0) != 0 || (data.size() > 9 && data[9] != ':'))
    throw UsageError("--data must be synthetic[:SEED], got '" + data + "'");
  if (data.size() > 10) {
    try {
      data_seed = std::stoull(data.substr(10));
    } catch (const std::exception&) {
      throw UsageError("--data: '" + data.substr(10) + "' is not a seed");
    }
  }
  train::SyntheticExampleOptions synthetic;
  const std::int64_t scene = args.count("scene-size") ? args["scene-size"].as<std::int64_t>()
                                                      : config.image_size;
  if (scene < 64 || scene > 1024) throw UsageError("--scene-size must be in [64, 1024]");
  synthetic.scene.height = synthetic.scene.width = scene;
  synthetic.scene.seed = data_seed;
  const train::DataSources sources =
      train::synthetic_sources(synthetic, opt.tasks, train::held_out_seed(data_seed));

  const InputEncoder encoder(config, psalm_tokenizer(args["gpt2"].as<std::string>()));
  nn::InitRng rng = init ? nn::InitRng::for_loading() : nn::InitRng{opt.seed};
  PsalmModel<float> model(config, rng);
  if (init) load_psalm_weights(model, io::SafetensorsFile::open(*init / "model.safetensors"));
  train::Trainer<cpu> trainer(model, encoder, opt, sources);
  if (args.count("resume")) {
    trainer.resume();
    std::fprintf(stderr, "resumed %s at step %lld of %lld\n", opt.out.string().c_str(),
                 static_cast<long long>(trainer.step()), static_cast<long long>(trainer.total_steps()));
  }
  std::fprintf(stderr, "training %s: %lld parameters (%lld trainable), input %lld px, %s\n",
               init ? init->string().c_str() : preset.c_str(),
               static_cast<long long>(model.parameter_count()),
               static_cast<long long>([&] {
                 std::int64_t n = 0;
                 for (auto& p : model.trainable_parameters()) n += p.numel();
                 return n;
               }()),
               static_cast<long long>(config.image_size), args["tasks"].as<std::string>().c_str());
  const bool tty = isatty(fileno(stderr)) != 0;
  trainer.run(
      [&](const train::StepReport& r) {
        if (!tty && r.step % opt.log_every != 0 && r.step != r.total) return;
        std::string terms;
        for (const auto& [name, v] : r.terms) {
          char buf[64];
          std::snprintf(buf, sizeof buf, " %s %.3f", name.c_str() + (name.rfind("loss_", 0) == 0 ? 5 : 0), v);
          terms += buf;
        }
        const double eta = r.total > 0 && r.steps_per_second > 0
                               ? static_cast<double>(r.total - r.step) / r.steps_per_second
                               : NAN;
        std::fprintf(stderr, "%sstep %lld/%lld %-11s loss %.4f (%s ) lr %.2e %.2f steps/s eta %s%s%s",
                     tty ? "\r\033[K" : "", static_cast<long long>(r.step), static_cast<long long>(r.total),
                     r.task.c_str(), r.loss, terms.c_str() + 1, r.lr, r.steps_per_second,
                     detail::format_duration(eta).c_str(), r.skipped ? " SKIPPED" : "", tty ? "" : "\n");
        std::fflush(stderr);
      },
      [&](const train::EvaluationResult& e, std::int64_t step) {
        std::fprintf(stderr, "%seval step %lld %s (%lld examples):", tty ? "\n" : "",
                     static_cast<long long>(step), to_string(e.task), static_cast<long long>(e.examples));
        for (const auto& [k, v] : e.metrics.items())
          if (v.is_number()) std::fprintf(stderr, " %s %.4f", k.c_str(), v.get<double>());
        std::fprintf(stderr, "\n");
      });
  if (tty) std::fprintf(stderr, "\n");
  std::printf("trained %lld steps; latest checkpoint %s\n", static_cast<long long>(trainer.step()),
              train::latest_checkpoint(opt.out).string().c_str());
  return 0;
}

}  // namespace psalm::cli
