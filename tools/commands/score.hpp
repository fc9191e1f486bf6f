// tools/commands/score.hpp — `psalm score`: metrics from standard files, printed as a table
// (with the protocol used) or as JSON (--json). One function per task; the file layouts are
// described in --help and docs/cli.md.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "commands/score_files.hpp"
#include "psalm/eval/coco_instance.hpp"
#include "psalm/eval/gres.hpp"
#include "psalm/eval/interactive.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/eval/referring.hpp"
#include "psalm/eval/semantic.hpp"
#include "psalm/eval/video.hpp"

namespace psalm::cli {

inline void print_result(bool json, const nlohmann::json& numbers, const std::string& table) {
  if (json) std::printf("%s\n", numbers.dump(2).c_str());
  else std::printf("%s\n", table.c_str());
}

inline int score_instance(const cxxopts::ParseResult& args, bool json) {
  const auto gt_path = required<std::string>(args, "gt");
  const auto pred_path = required<std::string>(args, "pred");
  eval::CocoGroundTruth truth;
  std::vector<eval::CocoDetection> detections;
  try {
    truth = eval::coco_ground_truth_from_json(read_json_file(gt_path));
  } catch (const Error& e) {
    throw Error(gt_path + ": " + e.what());
  }
  try {
    detections = eval::coco_detections_from_json(read_json_file(pred_path));
  } catch (const Error& e) {
    throw Error(pred_path + ": " + e.what());
  }
  const eval::CocoInstanceResult r = eval::evaluate_coco_instance(truth, detections);
  static const char* names[12] = {"AP", "AP50", "AP75", "APs", "APm", "APl",
                                  "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  nlohmann::json out{{"task", "instance"}, {"protocol", eval::describe_protocol(r.params)}};
  for (int i = 0; i < 12; ++i) out[names[i]] = r.stats[i];
  print_result(json, out, r.to_string());
  return 0;
}

inline int score_semantic(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_dir = required<std::string>(args, "gt-dir"), pred_dir = required<std::string>(args, "pred-dir");
  const auto classes = required<std::int64_t>(args, "num-classes");
  eval::SemanticEvaluator evaluator(classes, args["ignore"].as<std::int64_t>());
  for (const fs::path& gt_path : png_files(gt_dir)) {
    const LoadedLabels gt = load_labels(gt_path), pred = load_labels(pred_dir / gt_path.filename());
    try {
      evaluator.add(pred.view(), gt.view());
    } catch (const Error& e) {
      throw Error(gt_path.filename().string() + ": " + e.what());
    }
  }
  const eval::SemanticResult r = evaluator.result();
  print_result(json, {{"task", "semantic"}, {"mIoU", r.miou}, {"fwIoU", r.fwiou}, {"mACC", r.macc},
                      {"pACC", r.pacc}, {"IoU", r.iou}},
               r.to_string());
  return 0;
}

/// Calls add(pred, gt, name) for every gt mask PNG of gt_dir and its namesake in pred_dir.
template <class Add>
void for_each_mask_pair(const fs::path& gt_dir, const fs::path& pred_dir, const Add& add) {
  for (const fs::path& gt_path : png_files(gt_dir)) {
    const LoadedMask gt{io::load_binary_mask(gt_path).contiguous()};
    const LoadedMask pred = load_mask_or_empty(pred_dir / gt_path.filename(), gt.pixels.size(0), gt.pixels.size(1));
    add(pred, gt, gt_path.filename().string());
  }
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

inline int score_referring(const cxxopts::ParseResult& args, bool json) {
  eval::ReferringEvaluator evaluator(referring_protocol(args));
  for_each_mask_pair(required<std::string>(args, "gt-dir"), required<std::string>(args, "pred-dir"),
                     [&](const LoadedMask& pred, const LoadedMask& gt, const std::string&) {
                       evaluator.add(pred.view(), gt.view());
                     });
  const eval::ReferringResult r = evaluator.result();
  nlohmann::json out = referring_json(r);
  out["task"] = "referring";
  out["protocol"] = r.protocol;
  print_result(json, out, r.to_string());
  return 0;
}

inline int score_gres(const cxxopts::ParseResult& args, bool json) {
  eval::GresEvaluator evaluator;
  // An empty gt mask is a no-target sample; an empty (or absent) prediction says "no target".
  for_each_mask_pair(required<std::string>(args, "gt-dir"), required<std::string>(args, "pred-dir"),
                     [&](const LoadedMask& pred, const LoadedMask& gt, const std::string&) {
                       evaluator.add(pred.view(), gt.view());
                     });
  const eval::GresResult r = evaluator.result();
  nlohmann::json out{{"task", "gres"}, {"cIoU", r.ciou}, {"gIoU", r.giou}, {"N-acc", r.n_acc}, {"T-acc", r.t_acc}};
  print_result(json, out, r.to_string());
  return 0;
}

inline int score_interactive(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_dir = required<std::string>(args, "gt-dir"), pred_dir = required<std::string>(args, "pred-dir");
  eval::InteractiveEvaluator evaluator(referring_protocol(args));
  bool any = false;
  for (const fs::path& type_dir : sub_folders(gt_dir)) {
    const std::string type_name = type_dir.filename().string();
    eval::PromptType type;
    try {
      type = eval::parse_prompt_type(type_name);
    } catch (const Error&) {
      throw Error(type_dir.string() + ": interactive ground truth folders must be named point, scribble, box or mask");
    }
    any = true;
    for_each_mask_pair(type_dir, pred_dir / type_name, [&](const LoadedMask& pred, const LoadedMask& gt, const std::string&) {
      evaluator.add(type, pred.view(), gt.view());
    });
  }
  if (!any) throw Error(gt_dir.string() + ": no point/, scribble/, box/ or mask/ sub-folder");
  const eval::InteractiveResult r = evaluator.result();
  nlohmann::json out{{"task", "interactive"}, {"overall", referring_json(r.overall)}};
  for (std::size_t t = 0; t < eval::kPromptTypeCount; ++t)
    if (r.per_type[t].samples > 0) out[eval::to_string(static_cast<eval::PromptType>(t))] = referring_json(r.per_type[t]);
  print_result(json, out, r.to_string());
  return 0;
}

inline int score_vos(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_dir = required<std::string>(args, "gt-dir"), pred_dir = required<std::string>(args, "pred-dir");
  eval::VideoEvaluator evaluator;
  const auto sequences = sub_folders(gt_dir);
  if (sequences.empty()) throw Error(gt_dir.string() + ": no sequence folders (DAVIS layout: Annotations/<sequence>/<frame>.png)");
  for (const fs::path& seq : sequences) {
    std::vector<LoadedLabels> gt, pred;
    for (const fs::path& frame : png_files(seq)) {
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
  print_result(json, {{"task", "vos"}, {"J&F", r.jf_mean}, {"J-mean", r.j_mean}, {"J-recall", r.j_recall},
                      {"J-decay", r.j_decay}, {"F-mean", r.f_mean}, {"F-recall", r.f_recall}, {"F-decay", r.f_decay}},
               r.to_string());
  return 0;
}

inline int score_panoptic(const cxxopts::ParseResult& args, bool json) {
  const fs::path gt_json = required<std::string>(args, "gt-json"), pred_json = required<std::string>(args, "pred-json");
  const fs::path gt_dir = required<std::string>(args, "gt-dir"), pred_dir = required<std::string>(args, "pred-dir");
  const PanopticJson gt = read_panoptic_json(gt_json, true), pred = read_panoptic_json(pred_json, false);
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
  auto scores = [](const eval::PqScores& s) { return nlohmann::json{{"PQ", s.pq}, {"SQ", s.sq}, {"RQ", s.rq}, {"n", s.n}}; };
  print_result(json, {{"task", "panoptic"}, {"All", scores(r.all)}, {"Things", scores(r.things)}, {"Stuff", scores(r.stuff)}},
               eval::describe_panoptic_protocol() + "\n" + r.to_string());
  return 0;
}

inline int run_score(int argc, char** argv) {
  cxxopts::Options options(
      "psalm score",
      "Compute evaluation metrics from standard files.\n"
      "  --task instance    --gt G.json --pred results.json      COCO annotations / results (RLE)\n"
      "  --task panoptic    --gt-json G.json --gt-dir G/ --pred-json P.json --pred-dir P/   COCO panoptic\n"
      "  --task semantic    --gt-dir G/ --pred-dir P/ --num-classes N [--ignore 255]   label PNGs\n"
      "  --task referring   --gt-dir G/ --pred-dir P/ [--protocol psalm|lisa|exact]   binary mask PNGs\n"
      "  --task gres        --gt-dir G/ --pred-dir P/   binary masks; an empty gt mask is a no-target sample\n"
      "  --task interactive --gt-dir G/ --pred-dir P/   G/{point,scribble,box,mask}/*.png, P/ alike\n"
      "  --task vos         --gt-dir Annotations/ --pred-dir P/   DAVIS: <sequence>/<frame>.png indexed\n"
      "Mask files are matched by name; an absent prediction mask counts as empty.");
  options.add_options()
      ("task", "instance, panoptic, semantic, referring, gres, interactive or vos", cxxopts::value<std::string>())
      ("gt", "instance: COCO annotations JSON", cxxopts::value<std::string>())
      ("pred", "instance: COCO results JSON", cxxopts::value<std::string>())
      ("gt-json", "panoptic: ground-truth COCO panoptic JSON", cxxopts::value<std::string>())
      ("pred-json", "panoptic: predicted COCO panoptic JSON", cxxopts::value<std::string>())
      ("gt-dir", "ground-truth PNG folder", cxxopts::value<std::string>())
      ("pred-dir", "predicted PNG folder", cxxopts::value<std::string>())
      ("num-classes", "semantic: number of classes", cxxopts::value<std::int64_t>())
      ("ignore", "semantic: ignored gt label", cxxopts::value<std::int64_t>()->default_value("255"))
      ("protocol", "referring / interactive: psalm, lisa or exact", cxxopts::value<std::string>()->default_value("psalm"))
      ("json", "print the numbers as one JSON object");
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  const std::string task = required<std::string>(args, "task");
  const bool json = args.count("json") > 0;
  if (task == "instance") return score_instance(args, json);
  if (task == "panoptic") return score_panoptic(args, json);
  if (task == "semantic") return score_semantic(args, json);
  if (task == "referring") return score_referring(args, json);
  if (task == "gres") return score_gres(args, json);
  if (task == "interactive") return score_interactive(args, json);
  if (task == "vos") return score_vos(args, json);
  throw UsageError("unknown --task '" + task + "' (instance, panoptic, semantic, referring, gres, interactive, vos)");
}

}  // namespace psalm::cli
