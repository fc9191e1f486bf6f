// tools/commands/score.hpp — `psalm score`: metrics from standard files, printed as a table
// (with the protocol used) or as JSON. Tasks that read mask PNGs (panoptic, semantic,
// referring, gres, interactive, vos) join once psalm's PNG reader lands; today: instance.
#pragma once

#include <cstdio>
#include <string>

#include "commands/common.hpp"
#include "psalm/eval/coco_instance.hpp"

namespace psalm::cli {

inline int score_instance(const cxxopts::ParseResult& args, bool json) {
  const auto gt_path = required<std::string>(args, "gt");
  const auto pred_path = required<std::string>(args, "pred");
  const nlohmann::json gt = read_json_file(gt_path);
  const nlohmann::json pred = read_json_file(pred_path);
  eval::CocoGroundTruth truth;
  try {
    truth = eval::coco_ground_truth_from_json(gt);
  } catch (const Error& e) {
    throw Error(gt_path + ": " + e.what());
  }
  std::vector<eval::CocoDetection> detections;
  try {
    detections = eval::coco_detections_from_json(pred);
  } catch (const Error& e) {
    throw Error(pred_path + ": " + e.what());
  }
  const eval::CocoInstanceResult r = eval::evaluate_coco_instance(truth, detections);
  if (json) {
    static const char* names[12] = {"AP", "AP50", "AP75", "APs", "APm", "APl",
                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
    nlohmann::json out{{"task", "instance"}, {"protocol", eval::describe_protocol(r.params)}};
    for (int i = 0; i < 12; ++i) out[names[i]] = r.stats[i];
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s\n", r.to_string().c_str());
  }
  return 0;
}

inline int run_score(int argc, char** argv) {
  cxxopts::Options options("psalm score",
                           "Compute evaluation metrics from standard files.\n"
                           "  --task instance --gt G.json --pred results.json   (COCO annotations and "
                           "COCO results with RLE masks; pycocotools' COCOeval segm)");
  options.add_options()
      ("task", "instance", cxxopts::value<std::string>())
      ("gt", "ground truth (COCO annotations JSON for instance)", cxxopts::value<std::string>())
      ("pred", "predictions (COCO results JSON for instance)", cxxopts::value<std::string>())
      ("json", "print the numbers as one JSON object");
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  const std::string task = required<std::string>(args, "task");
  const bool json = args.count("json") > 0;
  if (task == "instance") return score_instance(args, json);
  throw UsageError("unknown --task '" + task + "' (available: instance)");
}

}  // namespace psalm::cli
