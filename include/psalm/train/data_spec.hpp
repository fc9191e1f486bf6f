// psalm/train/data_spec.hpp — datasets named the way `psalm eval --data` / `psalm train --data`
// name them ("coco-panoptic:DIR", "refcoco:DIR:val", "coco-interactive:DIR:val:prompt=point",
// "davis:DIR", "ade20k-150:DIR", ...), resolved against the published folder layouts (and the
// layout `psalm synth` writes), and opened as one lazy indexed source of Examples. Every path
// tried is named when none fits. Host code.
// Depends on: train/*_examples. Test: tests/data/test_data_spec.cpp. Docs: docs/data.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/open_vocabulary.hpp"
#include "psalm/data/refer_original.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/train/coco_examples.hpp"
#include "psalm/train/davis_examples.hpp"
#include "psalm/train/interactive_examples.hpp"
#include "psalm/train/referring_examples.hpp"
#include "psalm/train/semantic_examples.hpp"

namespace psalm::train {

/// "<kind>:<path>[:<split>][:<key>=<value>]...". Kinds: coco-panoptic, coco-instances,
/// refcoco, refcoco+, refcocog, grefcoco, coco-interactive, davis, ade20k-150,
/// pascal-context-59, pascal-context-459, pascal-voc-20. Options: images=DIR (the image
/// folder), task=panoptic|instance|semantic (coco-panoptic), sentences=joined|each (referring),
/// prompt=point|scribble|box|mask and seed=N (coco-interactive), resolution=480p (davis).
struct DataSpec {
  std::string kind;
  std::filesystem::path path;
  std::string split;  ///< empty: the kind's default
  std::map<std::string, std::string> options;

  std::string option(const std::string& key, std::string fallback = {}) const {
    const auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
  }
};

inline const std::vector<std::string>& data_kinds() {
  static const std::vector<std::string> kinds = {
      "coco-panoptic",      "coco-instances",   "refcoco", "refcoco+",   "refcocog",
      "grefcoco",           "coco-interactive", "davis",   "ade20k-150", "pascal-context-59",
      "pascal-context-459", "pascal-voc-20"};
  return kinds;
}

inline DataSpec parse_data_spec(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = text.find(':', start);
    parts.emplace_back(text.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  PSALM_CHECK(parts.size() >= 2 && !parts[1].empty(), "--data \"", text,
              "\": expected <kind>:<path>[:<split>][:key=value...]");
  DataSpec spec;
  spec.kind = parts[0];
  bool known = false;
  for (const auto& k : data_kinds()) known = known || k == spec.kind;
  if (!known) {
    std::string list;
    for (const auto& k : data_kinds()) list += (list.empty() ? "" : ", ") + k;
    fail("--data \"", text, "\": unknown dataset kind \"", spec.kind, "\" (known: ", list, ")");
  }
  spec.path = parts[1];
  for (std::size_t i = 2; i < parts.size(); ++i) {
    const std::size_t eq = parts[i].find('=');
    if (eq == std::string::npos) {
      PSALM_CHECK(i == 2 && !parts[i].empty(), "--data \"", text, "\": \"", parts[i],
                  "\" is neither the split (third field) nor key=value");
      spec.split = parts[i];
      continue;
    }
    const std::string key = parts[i].substr(0, eq);
    PSALM_CHECK(key == "images" || key == "task" || key == "sentences" || key == "prompt" ||
                    key == "seed" || key == "resolution",
                "--data \"", text, "\": unknown option \"", key,
                "\" (images, task, sentences, prompt, seed, resolution)");
    PSALM_CHECK(spec.options.emplace(key, parts[i].substr(eq + 1)).second, "--data \"", text,
                "\": option \"", key, "\" given twice");
  }
  return spec;
}

/// A dataset as a lazy indexed source of Examples (size(), example(i)), whatever its format.
class ExampleSource {
 public:
  ExampleSource(std::int64_t size, std::function<Example(std::int64_t)> example,
                std::string description)
      : size_(size), example_(std::move(example)), description_(std::move(description)) {}

  /// Wraps a source with size() and example(i) (CocoPanopticSource, ReferringSource, ...).
  template <class Source>
  static ExampleSource of(Source source, std::string description) {
    auto held = std::make_shared<const Source>(std::move(source));
    const std::int64_t n = held->size();
    return ExampleSource(
        n, [held](std::int64_t i) { return held->example(i); }, std::move(description));
  }

  std::int64_t size() const { return size_; }
  Example example(std::int64_t i) const {
    PSALM_CHECK(i >= 0 && i < size_, description_, ": example ", i, " of ", size_);
    return example_(i);
  }
  /// "coco-panoptic: <json> (<n> examples)".
  const std::string& description() const { return description_; }

 private:
  std::int64_t size_;
  std::function<Example(std::int64_t)> example_;
  std::string description_;
};

namespace detail {

/// The first candidate that exists (as a file when `file`, else as a folder), or an error that
/// lists them all.
inline std::filesystem::path first_existing(const std::vector<std::filesystem::path>& candidates,
                                            bool file, std::string_view what,
                                            const DataSpec& spec) {
  std::error_code ec;
  for (const auto& c : candidates)
    if (file ? std::filesystem::is_regular_file(c, ec) : std::filesystem::is_directory(c, ec))
      return c;
  std::string tried;
  for (const auto& c : candidates) tried += "\n  " + c.string();
  fail(spec.kind, ":", spec.path.string(), ": no ", what, " found; tried:", tried);
}

inline std::filesystem::path image_folder(const DataSpec& spec,
                                          std::vector<std::filesystem::path> candidates) {
  if (spec.options.count("images")) candidates = {spec.option("images")};
  return first_existing(candidates, false, "image folder (give images=DIR)", spec);
}

inline std::string split_or(const DataSpec& spec, std::string fallback) {
  return spec.split.empty() ? std::move(fallback) : spec.split;
}

inline ExampleSource open_coco(const DataSpec& spec) {
  const auto& p = spec.path;
  const bool panoptic = spec.kind == "coco-panoptic";
  const std::string name = panoptic ? "panoptic_" : "instances_";
  // COCO's own names (val2017) first, then psalm synth's (val).
  std::vector<std::string> splits = spec.split.empty() ? std::vector<std::string>{"val2017", "val"}
                                                       : std::vector<std::string>{spec.split};
  std::vector<std::filesystem::path> jsons;
  for (const auto& s : splits) {
    jsons.push_back(p / "annotations" / (name + s + ".json"));
    jsons.push_back(p / (name + s + ".json"));
  }
  const std::filesystem::path json = first_existing(jsons, true, "annotation file", spec);
  const std::string s = json.stem().string().substr(name.size());
  const std::filesystem::path images = image_folder(spec, {p / s, p / "images" / s});
  if (!panoptic)
    return ExampleSource::of(coco_instances_source(json, images),
                             "coco-instances: " + json.string());
  const std::string task = spec.option("task", "panoptic");
  PSALM_CHECK(task == "panoptic" || task == "instance" || task == "semantic", spec.kind,
              ": task=", task, " (panoptic, instance or semantic)");
  const std::filesystem::path pngs =
      first_existing({p / ("panoptic_" + s)}, false, "panoptic PNG folder", spec);
  return ExampleSource::of(coco_panoptic_source(json, images, pngs, parse_task(task)),
                           "coco-panoptic: " + json.string());
}

inline ExampleSource open_referring(const DataSpec& spec) {
  const auto& p = spec.path;
  const std::string& k = spec.kind;
  const std::string s = split_or(spec, "val");
  const bool gres = k == "grefcoco";
  const std::string mode = spec.option("sentences", "joined");
  PSALM_CHECK(mode == "joined" || mode == "each", k, ": sentences=", mode, " (joined or each)");
  const ReferringSentences sentences =
      mode == "joined" ? ReferringSentences::joined : ReferringSentences::per_sentence;
  std::vector<data::ReferringRecord> records;
  std::string described;
  std::error_code ec;
  const std::vector<std::filesystem::path> converted = {
      p / (k + "_" + s + ".json"), p / k / (k + "_" + s + ".json"), p / (s + "_psalm.json"),
      p / k / (s + "_psalm.json")};
  std::optional<std::filesystem::path> json;
  if (std::filesystem::is_regular_file(p, ec)) json = p;
  for (const auto& c : converted)
    if (!json && std::filesystem::is_regular_file(c, ec)) json = c;
  if (json) {
    records = data::read_referring_json(
        *json, gres ? data::ReferringKind::grefcoco : data::ReferringKind::refcoco);
    described = json->string();
  } else if (gres) {
    // gRefCOCO as shipped: grefs(unc).json + instances.json.
    const std::filesystem::path refs = first_existing(
        {p / "grefs(unc).json", p / "grefcoco" / "grefs(unc).json"}, true,
        "converted file (grefcoco_<split>.json, <split>_psalm.json) or grefs(unc).json", spec);
    records = data::read_grefcoco_original(refs, refs.parent_path() / "instances.json", s);
    described = refs.string();
  } else {
    (void)first_existing(converted, true, "converted file", spec);  // throws, naming them
  }
  const std::filesystem::path root = json ? json->parent_path() : p;
  const std::filesystem::path images =
      image_folder(spec, {p / "images" / s, p / "images" / "mscoco" / "images" / "train2014",
                          p / "images" / "mscoco" / "train2014", p / "images" / "train2014",
                          p / "train2014", root / "images" / s});
  const auto n = static_cast<std::int64_t>(records.size());
  return ExampleSource::of(
      ReferringSource(std::move(records), images, gres ? Task::gres : Task::referring, sentences),
      k + ": " + described + " (" + std::to_string(n) + " entries)");
}

inline ExampleSource open_interactive(const DataSpec& spec) {
  const auto& p = spec.path;
  const std::string s = split_or(spec, "val");
  std::error_code ec;
  const std::filesystem::path json =
      std::filesystem::is_regular_file(p, ec)
          ? p
          : first_existing({p / ("coco_interactive_" + s + "_psalm.json"),
                            p / "annotations" / ("coco_interactive_" + s + "_psalm.json")},
                           true, "COCO-Interactive file", spec);
  const std::filesystem::path root = json.parent_path();
  InteractiveOptions opt;
  if (spec.options.count("prompt")) {
    const std::string t = spec.option("prompt");
    bool found = false;
    for (auto kind : {VisualPromptKind::point, VisualPromptKind::scribble, VisualPromptKind::box,
                      VisualPromptKind::mask}) {
      if (t != to_string(kind)) continue;
      opt.prompt_type = kind;
      found = true;
    }
    PSALM_CHECK(found, spec.kind, ": prompt=", t, " (point, scribble, box or mask)");
  }
  if (spec.options.count("seed")) {
    const std::string t = spec.option("seed");
    PSALM_CHECK(
        !t.empty() && t.find_first_not_of("0123456789") == std::string::npos && t.size() < 20,
        spec.kind, ": seed=", t, " is not a non-negative integer");
    opt.seed = std::stoull(t);
  }
  const std::filesystem::path images =
      image_folder(spec, {root / (s + "2017"), root / "images" / s, root / s});
  return ExampleSource::of(coco_interactive_source(json, images, opt),
                           "coco-interactive: " + json.string());
}

inline ExampleSource open_semantic(const DataSpec& spec) {
  const data::OpenVocabularySet set = data::parse_open_vocabulary_set(spec.kind);
  const std::string s = split_or(spec, "validation");
  const std::map<std::string, std::string> label_dirs = {
      {"ade20k-150", "annotations_detectron2"},
      {"pascal-context-59", "annotations_ctx59"},
      {"pascal-context-459", "annotations_ctx459"},
      {"pascal-voc-20", "annotations_pascal20"}};
  const auto& p = spec.path;
  const std::filesystem::path images = image_folder(spec, {p / "images" / s});
  const std::filesystem::path labels =
      first_existing({p / label_dirs.at(spec.kind) / s}, false, "label folder", spec);
  return ExampleSource::of(open_vocabulary_source(set, images, labels),
                           spec.kind + ": " + labels.string());
}

}  // namespace detail

/// Opens a dataset given as a DataSpec. Folder layouts tried (first that exists; S the split):
///  coco-panoptic   annotations/panoptic_S.json or panoptic_S.json, panoptic_S/, S/ or
///                  images/S/  (S default val2017, then val as `psalm synth` writes)
///  coco-instances  annotations/instances_S.json or instances_S.json, S/ or images/S/
///  refcoco[+|g], grefcoco   the path itself (a .json), <kind>_S.json, <kind>/<kind>_S.json,
///                  S_psalm.json, <kind>/S_psalm.json; gRefCOCO also grefs(unc).json +
///                  instances.json; images images/S, images/mscoco/images/train2014, ...
///  coco-interactive  the path (a .json) or coco_interactive_S_psalm.json; images S2017/,
///                  images/S/, S/
///  ade20k-150, pascal-context-59/459, pascal-voc-20   FC-CLIP's folders: images/S +
///                  annotations_detectron2 / annotations_ctx59 / annotations_ctx459 /
///                  annotations_pascal20 / S (S default validation)
/// DAVIS is a video dataset: open it with open_davis.
inline ExampleSource open_example_source(const DataSpec& spec) {
  const std::string& k = spec.kind;
  if (k == "coco-panoptic" || k == "coco-instances") return detail::open_coco(spec);
  if (k == "refcoco" || k == "refcoco+" || k == "refcocog" || k == "grefcoco")
    return detail::open_referring(spec);
  if (k == "coco-interactive") return detail::open_interactive(spec);
  if (k == "davis")
    fail("davis:", spec.path.string(),
         ": DAVIS is a video dataset; open it with open_davis (per-sequence frames, "
         "annotations and first-frame objects)");
  return detail::open_semantic(spec);
}

/// DAVIS-2017 from `davis:DIR[:split][:resolution=480p]`: DIR holds JPEGImages / Annotations /
/// ImageSets, or is the DAVIS root with 2017/trainval/ below it. Split default val.
inline DavisSource open_davis(const DataSpec& spec) {
  PSALM_CHECK(spec.kind == "davis", "open_davis: a ", spec.kind, " dataset is not DAVIS");
  const auto& p = spec.path;
  const std::filesystem::path root =
      detail::first_existing(
          {p / "ImageSets", p / "2017" / "trainval" / "ImageSets", p / "trainval" / "ImageSets"},
          false, "DAVIS ImageSets folder", spec)
          .parent_path();
  return davis_source(root, detail::split_or(spec, "val"), spec.option("resolution", "480p"));
}

}  // namespace psalm::train
