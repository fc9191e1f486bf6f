// tools/commands/score.hpp — `psalm score`: metrics from standard files, printed as a table
// in percent (with the protocol used) or as JSON with fractions of 1 (--json). One function per
// task; the file layouts are described in --help and docs/cli.md. Zero samples, an absent
// folder and an option that does not apply to the task are errors, never silent numbers.
#pragma once

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "commands/score_files.hpp"
#include "psalm/data/annotation_json.hpp"
#include "psalm/eval/coco_instance.hpp"
#include "psalm/eval/gres.hpp"
#include "psalm/eval/interactive.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/eval/referring.hpp"
#include "psalm/eval/semantic.hpp"
#include "psalm/eval/video.hpp"

namespace psalm::cli {

inline void print_result(bool json, const nlohmann::json& numbers, const std::string& table) {
  if (json)
    std::printf("%s\n", json_with_nonfinite_as_strings(numbers).dump(2).c_str());
  else
    std::printf("%s\n", table.c_str());
}

inline int score_instance(const cxxopts::ParseResult& args, bool json) {
  const auto gt_path = required<std::string>(args, "gt");
  const auto pred_path = required<std::string>(args, "pred");
  eval::CocoGroundTruth truth;
  std::vector<eval::CocoDetection> detections;
  const nlohmann::json gt_json = data::read_annotation_json(gt_path);  // its errors name the file
  try {
    truth = eval::coco_ground_truth_from_json(gt_json);
  } catch (const Error& e) {
    throw Error(gt_path + ": " + e.what());
  }
  if (truth.images.empty())
    throw Error(gt_path + ": no images in the ground truth (nothing to score)");
  const nlohmann::json pred_json = data::read_annotation_json(pred_path);
  try {
    detections = eval::coco_detections_from_json(pred_json);
  } catch (const Error& e) {
    throw Error(pred_path + ": " + e.what());
  }
  const eval::CocoInstanceResult r = eval::evaluate_coco_instance(truth, detections);
  static const char* names[12] = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                  "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  nlohmann::json out{{"task", "instance"}, {"protocol", eval::describe_protocol(r.params)}};
  for (int i = 0; i < 12; ++i) out[names[i]] = r.stats[i];
  print_result(json, out, r.to_string());
  return 0;
}

inline int score_semantic(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_dir = required<std::string>(args, "gt-dir"),
                 pred_dir = required<std::string>(args, "pred-dir");
  const auto classes = in_range<std::int64_t>(args, "num-classes", 1, eval::kMaxSemanticClasses);
  const auto ignore = args["ignore"].as<std::int64_t>();
  if (ignore >= 0 && ignore < classes)
    throw UsageError("--ignore " + std::to_string(ignore) +
                     " is a class id when --num-classes is " + std::to_string(classes) +
                     ": give an ignore label outside [0, " + std::to_string(classes) +
                     ") (e.g. --ignore 65535)");
  const auto gt_files = png_files(gt_dir, "--gt-dir");
  require_folder(pred_dir, "--pred-dir");
  if (gt_files.empty()) throw Error("--gt-dir " + gt_dir.string() + ": no ground-truth PNG files");
  eval::SemanticEvaluator evaluator(classes, ignore);
  for (const fs::path& gt_path : gt_files) {
    const LoadedLabels gt = load_labels(gt_path), pred = load_labels(pred_dir / gt_path.filename());
    try {
      evaluator.add(pred.view(), gt.view());
    } catch (const Error& e) {
      throw Error(gt_path.filename().string() + ": " + e.what());
    }
  }
  const eval::SemanticResult r = evaluator.result();
  print_result(json,
               {{"task", "semantic"},
                {"images", r.images},
                {"mIoU", r.miou},
                {"fwIoU", r.fwiou},
                {"mACC", r.macc},
                {"pACC", r.pacc},
                {"IoU", r.iou}},
               r.to_string());
  return 0;
}

/// Calls add(pred, gt) for every gt mask PNG of gt_dir and its namesake in pred_dir (an absent
/// prediction file is an empty mask; an absent pred_dir is an error). Returns the pairs seen.
template <class Add>
std::size_t for_each_mask_pair(const fs::path& gt_dir, const fs::path& pred_dir, const Add& add,
                               const std::string& gt_option = "--gt-dir",
                               const std::string& pred_option = "--pred-dir") {
  const auto gt_files = png_files(gt_dir, gt_option);
  require_folder(pred_dir, pred_option);
  for (const fs::path& gt_path : gt_files) {
    const LoadedMask gt{io::load_binary_mask(gt_path).contiguous()};
    const LoadedMask pred =
        load_mask_or_empty(pred_dir / gt_path.filename(), gt.pixels.size(0), gt.pixels.size(1));
    add(pred, gt);
  }
  return gt_files.size();
}

inline nlohmann::json referring_json(const eval::ReferringResult& r) {
  nlohmann::json out{{"samples", r.samples}, {"cIoU", r.ciou}, {"gIoU", r.giou}};
  for (std::size_t i = 0; i < r.thresholds.size(); ++i)
    out["Pr@" + std::to_string(r.thresholds[i]).substr(0, 3)] = r.precision[i];
  return out;
}

inline eval::ReferringProtocol referring_protocol(const cxxopts::ParseResult& args) {
  const std::string name = args["protocol"].as<std::string>();
  if (name == "psalm") return eval::ReferringProtocol::psalm();
  if (name == "lisa") return eval::ReferringProtocol::lisa();
  if (name == "exact") return eval::ReferringProtocol::exact();
  throw UsageError("--protocol must be psalm, lisa or exact, got '" + name + "'");
}

inline void require_samples(std::size_t n, const fs::path& gt_dir) {
  if (n == 0)
    throw Error("--gt-dir " + gt_dir.string() + ": no ground-truth masks (nothing to score)");
}

inline int score_referring(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_dir = required<std::string>(args, "gt-dir"),
                 pred_dir = required<std::string>(args, "pred-dir");
  eval::ReferringEvaluator evaluator(referring_protocol(args));
  require_samples(for_each_mask_pair(gt_dir, pred_dir,
                                     [&](const LoadedMask& pred, const LoadedMask& gt) {
                                       evaluator.add(pred.view(), gt.view());
                                     }),
                  gt_dir);
  const eval::ReferringResult r = evaluator.result();
  nlohmann::json out = referring_json(r);
  out["task"] = "referring";
  out["protocol"] = r.protocol;
  print_result(json, out, r.to_string());
  return 0;
}

inline int score_gres(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_dir = required<std::string>(args, "gt-dir"),
                 pred_dir = required<std::string>(args, "pred-dir");
  eval::GresEvaluator evaluator;
  // An empty gt mask is a no-target sample; an empty (or absent) prediction says "no target".
  require_samples(for_each_mask_pair(gt_dir, pred_dir,
                                     [&](const LoadedMask& pred, const LoadedMask& gt) {
                                       evaluator.add(pred.view(), gt.view());
                                     }),
                  gt_dir);
  const eval::GresResult r = evaluator.result();
  nlohmann::json out{{"task", "gres"}, {"samples", r.samples}, {"cIoU", r.ciou},
                     {"gIoU", r.giou}, {"N-acc", r.n_acc},     {"T-acc", r.t_acc}};
  print_result(json, out, r.to_string());
  return 0;
}

inline int score_interactive(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_dir = required<std::string>(args, "gt-dir"),
                 pred_dir = required<std::string>(args, "pred-dir");
  eval::InteractiveEvaluator evaluator(referring_protocol(args));
  const auto types = sub_folders(gt_dir, "--gt-dir");
  require_folder(pred_dir, "--pred-dir");
  if (types.empty())
    throw Error("--gt-dir " + gt_dir.string() + ": no point/, scribble/, box/ or mask/ sub-folder");
  std::size_t samples = 0;
  for (const fs::path& type_dir : types) {
    const std::string type_name = type_dir.filename().string();
    eval::PromptType type;
    try {
      type = eval::parse_prompt_type(type_name);
    } catch (const Error&) {
      throw Error(type_dir.string() +
                  ": interactive ground truth folders must be named point, scribble, box or mask");
    }
    const fs::path pred_type = pred_dir / type_name;
    if (!fs::is_directory(pred_type))
      throw Error("--pred-dir " + pred_type.string() + ": no such folder (the ground truth has " +
                  type_name + "/ masks)");
    samples += for_each_mask_pair(
        type_dir, pred_type,
        [&](const LoadedMask& pred, const LoadedMask& gt) {
          evaluator.add(type, pred.view(), gt.view());
        },
        "--gt-dir", "--pred-dir");
  }
  require_samples(samples, gt_dir);
  const eval::InteractiveResult r = evaluator.result();
  nlohmann::json out{{"task", "interactive"}, {"overall", referring_json(r.overall)}};
  for (std::size_t t = 0; t < eval::kPromptTypeCount; ++t)
    if (r.per_type[t].samples > 0)
      out[eval::to_string(static_cast<eval::PromptType>(t))] = referring_json(r.per_type[t]);
  print_result(json, out, r.to_string());
  return 0;
}

inline int score_vos(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_dir = required<std::string>(args, "gt-dir"),
                 pred_dir = required<std::string>(args, "pred-dir");
  eval::VideoEvaluator evaluator;
  const auto sequences = sub_folders(gt_dir, "--gt-dir");
  require_folder(pred_dir, "--pred-dir");
  if (sequences.empty())
    throw Error("--gt-dir " + gt_dir.string() +
                ": no ground-truth sequence folders (DAVIS layout: "
                "Annotations/480p/<sequence>/<frame>.png)");
  for (const fs::path& seq : sequences) {
    require_folder(pred_dir / seq.filename(), "--pred-dir");
    std::vector<LoadedLabels> gt, pred;
    for (const fs::path& frame : png_files(seq, "--gt-dir")) {
      gt.push_back(load_labels(frame));
      pred.push_back(load_labels(pred_dir / seq.filename() / frame.filename()));
    }
    std::vector<eval::LabelView> gv, pv;
    for (std::size_t i = 0; i < gt.size(); ++i) {
      gv.push_back(gt[i].view());
      pv.push_back(pred[i].view());
    }
    evaluator.add_sequence(seq.filename().string(), pv, gv);
  }
  const eval::VideoResult r = evaluator.result();
  if (r.objects.empty())
    throw Error("--gt-dir " + gt_dir.string() +
                ": no ground-truth objects in any first frame (nothing to score)");
  print_result(json,
               {{"task", "vos"},
                {"objects", r.objects.size()},
                {"J&F", r.jf_mean},
                {"J-mean", r.j_mean},
                {"J-recall", r.j_recall},
                {"J-decay", r.j_decay},
                {"F-mean", r.f_mean},
                {"F-recall", r.f_recall},
                {"F-decay", r.f_decay}},
               r.to_string());
  return 0;
}

inline int score_panoptic(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_json = required<std::string>(args, "gt-json"),
                 pred_json = required<std::string>(args, "pred-json");
  const fs::path gt_dir = required<std::string>(args, "gt-dir"),
                 pred_dir = required<std::string>(args, "pred-dir");
  require_folder(gt_dir, "--gt-dir");
  require_folder(pred_dir, "--pred-dir");
  const PanopticJson gt = read_panoptic_json(gt_json, true),
                     pred = read_panoptic_json(pred_json, false);
  if (gt.images.empty())
    throw Error(gt_json.string() + ": no images in the ground truth (nothing to score)");
  eval::PanopticQuality pq(gt.categories);
  for (const auto& [image_id, g] : gt.images) {
    const auto p = pred.images.find(image_id);
    if (p == pred.images.end())
      throw Error(pred_json.string() + ": no prediction for image_id " + std::to_string(image_id));
    const LoadedLabels gt_ids = load_panoptic_png(gt_dir / g.file_name);
    const LoadedLabels pred_ids = load_panoptic_png(pred_dir / p->second.file_name);
    try {
      pq.add_image(image_id, gt_ids.view(), g.segments, pred_ids.view(), p->second.segments);
    } catch (const Error& e) {
      throw Error(p->second.file_name + ": " + e.what());
    }
  }
  const eval::PanopticQualityResult r = pq.result();
  // panopticapi uses the JSON areas unchecked; say where they disagree with the PNGs.
  const std::size_t shown = 10;
  for (std::size_t i = 0; i < r.area_mismatches.size() && i < shown; ++i) {
    const auto& m = r.area_mismatches[i];
    std::fprintf(
        stderr,
        "psalm: warning: %s: image_id %lld segment %lld has area %lld in segments_info but "
        "%lld pixels in its PNG (scored with the JSON area, as panopticapi does)\n",
        gt_json.string().c_str(), static_cast<long long>(m.image_id),
        static_cast<long long>(m.segment_id), static_cast<long long>(m.json_area),
        static_cast<long long>(m.pixels));
  }
  if (r.area_mismatches.size() > shown)
    std::fprintf(stderr,
                 "psalm: warning: ... %zu ground-truth segments in all have inconsistent areas\n",
                 r.area_mismatches.size());
  auto scores = [](const eval::PqScores& s) {
    return nlohmann::json{{"PQ", s.pq}, {"SQ", s.sq}, {"RQ", s.rq}, {"n", s.n}};
  };
  print_result(json,
               {{"task", "panoptic"},
                {"images", gt.images.size()},
                {"All", scores(r.all)},
                {"Things", scores(r.things)},
                {"Stuff", scores(r.stuff)},
                {"inconsistent_gt_areas", r.area_mismatches.size()}},
               r.to_string());
  return 0;
}

inline int run_score(int argc, char** argv) {
  cxxopts::Options options(
      "psalm score",
      "Compute evaluation metrics from standard files. Tables are in percent; --json gives\n"
      "fractions of 1.\n"
      "  --task instance    --gt G.json --pred results.json      COCO annotations / results (RLE)\n"
      "  --task panoptic    --gt-json G.json --gt-dir G/ --pred-json P.json --pred-dir P/   COCO "
      "panoptic\n"
      "  --task semantic    --gt-dir G/ --pred-dir P/ --num-classes N [--ignore 255]   label PNGs\n"
      "  --task referring   --gt-dir G/ --pred-dir P/ [--protocol psalm|lisa|exact]   binary mask "
      "PNGs\n"
      "  --task gres        --gt-dir G/ --pred-dir P/   binary masks; an empty gt mask is a "
      "no-target sample\n"
      "  --task interactive --gt-dir G/ --pred-dir P/ [--protocol ...]   "
      "G/{point,scribble,box,mask}/*.png, P/ alike\n"
      "  --task vos         --gt-dir Annotations/480p/ --pred-dir P/   DAVIS: "
      "<sequence>/<frame>.png indexed\n"
      "Mask files are matched by name; an absent prediction mask counts as empty, an absent\n"
      "folder is an error. `psalm synth` writes gt folders for every task: semantic_<split>/,\n"
      "refcoco_<split>/, grefcoco_<split>/, interactive_<split>/, davis/Annotations/480p/.");
  options.add_options(
      "",
      {
          {"task", "instance, panoptic, semantic, referring, gres, interactive or vos",
           cxxopts::value<std::string>()},
          {"gt", "instance: COCO annotations JSON", cxxopts::value<std::string>()},
          {"pred", "instance: COCO results JSON", cxxopts::value<std::string>()},
          {"gt-json", "panoptic: ground-truth COCO panoptic JSON", cxxopts::value<std::string>()},
          {"pred-json", "panoptic: predicted COCO panoptic JSON", cxxopts::value<std::string>()},
          {"gt-dir", "ground-truth PNG folder", cxxopts::value<std::string>()},
          {"pred-dir", "predicted PNG folder", cxxopts::value<std::string>()},
          {"num-classes",
           "semantic: number of classes, 1 to " + std::to_string(eval::kMaxSemanticClasses),
           cxxopts::value<std::int64_t>()},
          {"ignore", "semantic: ignored gt label (not a class id)",
           cxxopts::value<std::int64_t>()->default_value("255")},
          {"protocol", "referring / interactive: psalm, lisa or exact",
           cxxopts::value<std::string>()->default_value("psalm")},
          {"json", "print the numbers as one JSON object (fractions of 1)"},
      });
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  const std::string task = required<std::string>(args, "task");
  const bool json = args.count("json") > 0;
  // Each task takes only its own options: one given for another task is an error.
  static const std::map<std::string, std::set<std::string>> task_options = {
      {"instance", {"gt", "pred"}},
      {"panoptic", {"gt-json", "gt-dir", "pred-json", "pred-dir"}},
      {"semantic", {"gt-dir", "pred-dir", "num-classes", "ignore"}},
      {"referring", {"gt-dir", "pred-dir", "protocol"}},
      {"gres", {"gt-dir", "pred-dir"}},
      {"interactive", {"gt-dir", "pred-dir", "protocol"}},
      {"vos", {"gt-dir", "pred-dir"}}};
  if (const auto it = task_options.find(task); it != task_options.end()) {
    std::set<std::string> allowed = it->second;
    allowed.insert({"task", "json"});
    only_options(args, allowed, "--task " + task);
  }
  if (task == "instance") return score_instance(args, json);
  if (task == "panoptic") return score_panoptic(args, json);
  if (task == "semantic") return score_semantic(args, json);
  if (task == "referring") return score_referring(args, json);
  if (task == "gres") return score_gres(args, json);
  if (task == "interactive") return score_interactive(args, json);
  if (task == "vos") return score_vos(args, json);
  throw UsageError("unknown --task '" + task +
                   "' (instance, panoptic, semantic, referring, gres, interactive, vos)");
}

}  // namespace psalm::cli
