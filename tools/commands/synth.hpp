// tools/commands/synth.hpp — `psalm synth`: writes the bundled synthetic-scenes dataset in the
// standard formats (COCO panoptic / instances, semantic PNGs, RefCOCO / gRefCOCO style JSON,
// COCO-Interactive style JSON, DAVIS folders), with a progress bar. See docs/data.md.
#pragma once

#include <sstream>
#include <string>

#include "commands/common.hpp"
#include "commands/progress.hpp"
#include "psalm/data/synthetic.hpp"

namespace psalm::cli {

inline int run_synth(int argc, char** argv) {
  namespace syn = psalm::data::synthetic;
  cxxopts::Options options("psalm synth", "Generate the synthetic-scenes dataset (docs/data.md).");
  options.add_options()
      ("out", "output folder (created if missing)", cxxopts::value<std::string>())
      ("split", "train or val (val holds the open-vocabulary categories)", cxxopts::value<std::string>()->default_value("train"))
      ("count", "number of scenes", cxxopts::value<std::int64_t>()->default_value("100"))
      ("size", "image height = width, 64 to 1024", cxxopts::value<std::int64_t>()->default_value("256"))
      ("seed", "dataset seed", cxxopts::value<std::uint64_t>()->default_value("0"))
      ("tasks", "comma-separated subset of panoptic,instances,semantic,refcoco,grefcoco,interactive,davis",
       cxxopts::value<std::string>()->default_value("panoptic,instances,semantic,refcoco,grefcoco,interactive,davis"))
      ("videos", "number of DAVIS-style sequences", cxxopts::value<std::int64_t>()->default_value("4"))
      ("frames", "frames per sequence", cxxopts::value<int>()->default_value("12"));
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  syn::ExportOptions o;
  o.out = required<std::string>(args, "out");
  const std::string split = args["split"].as<std::string>();
  if (split != "train" && split != "val") throw UsageError("--split must be train or val, got '" + split + "'");
  o.split = split == "train" ? syn::Split::train : syn::Split::val;
  o.count = args["count"].as<std::int64_t>();
  o.size = args["size"].as<std::int64_t>();
  o.seed = args["seed"].as<std::uint64_t>();
  o.videos = args["videos"].as<std::int64_t>();
  o.video_frames = args["frames"].as<int>();
  if (o.count < 0 || o.videos < 0 || o.video_frames < 1)
    throw UsageError("--count and --videos must be >= 0 and --frames >= 1");
  if (o.size < 64 || o.size > 1024) throw UsageError("--size must be in [64, 1024], got " + std::to_string(o.size));
  o.tasks.clear();
  std::stringstream tasks(args["tasks"].as<std::string>());
  for (std::string t; std::getline(tasks, t, ',');) {
    static const std::vector<std::string> known = {"panoptic", "instances", "semantic", "refcoco",
                                                   "grefcoco", "interactive", "davis"};
    if (std::find(known.begin(), known.end(), t) == known.end())
      throw UsageError("unknown task '" + t + "' in --tasks");
    o.tasks.push_back(t);
  }
  ProgressBar bar;
  syn::export_dataset(o, [&](std::string_view what, std::int64_t done, std::int64_t total) { bar.update(what, done, total); });
  bar.finish();
  std::printf("wrote %s (%s split, %lld scenes of %lldx%lld, seed %llu)\n", o.out.string().c_str(), split.c_str(),
              static_cast<long long>(o.count), static_cast<long long>(o.size), static_cast<long long>(o.size),
              static_cast<unsigned long long>(o.seed));
  return 0;
}

}  // namespace psalm::cli
