// tools/commands/synth.hpp — `psalm synth`: writes the bundled synthetic-scenes dataset in the
// standard formats (COCO panoptic / instances, semantic PNGs, RefCOCO / gRefCOCO style JSON,
// COCO-Interactive style JSON, DAVIS folders, and mask PNG folders for `psalm score`), with a
// progress bar. Every option is checked before anything is written; a non-empty --out needs
// --overwrite. See docs/data.md and docs/cli.md.
#pragma once

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>

#include "commands/common.hpp"
#include "commands/progress.hpp"
#include "psalm/data/synthetic.hpp"

namespace psalm::cli {

inline int run_synth(int argc, char** argv) {
  namespace syn = psalm::data::synthetic;
  namespace fs = std::filesystem;
  const std::string max_count = std::to_string(syn::kMaxExportScenes);
  const std::string max_videos = std::to_string(syn::kMaxExportVideos);
  cxxopts::Options options("psalm synth", "Generate the synthetic-scenes dataset (docs/data.md).");
  options.add_options(
      "",
      {
          {"out", "output folder: created if missing; must be empty unless --overwrite",
           cxxopts::value<std::string>()},
          {"overwrite",
           "write into a non-empty --out: first remove what an earlier psalm synth of this "
           "split wrote there (other files stay)"},
          {"split", "train or val (val holds the open-vocabulary categories)",
           cxxopts::value<std::string>()->default_value("train")},
          {"count", "number of scenes, 0 to " + max_count,
           cxxopts::value<std::int64_t>()->default_value("100")},
          {"size", "image height = width, 64 to 1024",
           cxxopts::value<std::int64_t>()->default_value("256")},
          {"seed", "dataset seed, 0 to 2^64 - 1",
           cxxopts::value<std::uint64_t>()->default_value("0")},
          {"tasks",
           "comma-separated subset of "
           "panoptic,instances,semantic,refcoco,grefcoco,interactive,davis",
           cxxopts::value<std::string>()->default_value(
               "panoptic,instances,semantic,refcoco,grefcoco,interactive,davis")},
          {"videos", "number of DAVIS-style sequences, 0 to " + max_videos,
           cxxopts::value<std::int64_t>()->default_value("4")},
          {"frames", "frames per sequence, 2 to 64", cxxopts::value<int>()->default_value("12")},
      });
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  syn::ExportOptions o;
  o.out = required<std::string>(args, "out");
  const std::string split = args["split"].as<std::string>();
  if (split != "train" && split != "val")
    throw UsageError("--split must be train or val, got '" + split + "'");
  o.split = split == "train" ? syn::Split::train : syn::Split::val;
  o.count = in_range<std::int64_t>(args, "count", 0, syn::kMaxExportScenes);
  o.size = in_range<std::int64_t>(args, "size", 64, 1024);
  o.seed = args["seed"].as<std::uint64_t>();
  o.videos = in_range<std::int64_t>(args, "videos", 0, syn::kMaxExportVideos);
  o.video_frames = in_range<int>(args, "frames", 2, 64);
  o.overwrite = args.count("overwrite") > 0;
  o.tasks.clear();
  std::stringstream tasks(args["tasks"].as<std::string>());
  for (std::string t; std::getline(tasks, t, ',');) {
    static const std::vector<std::string> known = {"panoptic", "instances",   "semantic", "refcoco",
                                                   "grefcoco", "interactive", "davis"};
    if (std::find(known.begin(), known.end(), t) == known.end())
      throw UsageError("unknown task '" + t + "' in --tasks");
    if (std::find(o.tasks.begin(), o.tasks.end(), t) == o.tasks.end()) o.tasks.push_back(t);
  }
  if (o.tasks.empty()) throw UsageError("--tasks names no task");
  // The folder: a file there, or a non-empty folder without --overwrite, stops here.
  std::error_code ec;
  const auto st = fs::status(o.out, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st))
      throw UsageError("--out " + o.out.string() + ": is a file, not a folder");
    if (!o.overwrite && fs::directory_iterator(o.out, ec) != fs::directory_iterator())
      throw UsageError(
          "--out " + o.out.string() +
          ": folder is not empty; choose an empty or new folder, or pass --overwrite to "
          "replace what psalm synth wrote there before");
  }
  ProgressBar bar;
  syn::export_dataset(o, [&](std::string_view what, std::int64_t done, std::int64_t total) {
    bar.update(what, done, total);
  });
  bar.finish();
  std::printf("wrote %s (%s split, %lld scenes of %lldx%lld, seed %llu)\n", o.out.string().c_str(),
              split.c_str(), static_cast<long long>(o.count), static_cast<long long>(o.size),
              static_cast<long long>(o.size), static_cast<unsigned long long>(o.seed));
  return 0;
}

}  // namespace psalm::cli
