// psalm/data/synthetic/export.hpp — writes synthetic scenes in the real dataset formats: COCO
// panoptic (JSON + RGB id PNGs), COCO instances (JSON, compressed RLE), semantic label PNGs,
// RefCOCO-style (PSALM's converted json: sentences per referent), gRefCOCO-style (several or no
// targets), COCO-Interactive-style (prompt masks as RLE) and a DAVIS-style folder (JPEG frames,
// indexed PNG annotations). The JSON builders also serve in-memory use.
// Depends on: io/image, io/rle, scene, referring, prompts, video.
// Test: tests/data/test_synthetic_export.cpp (pycocotools fixtures in tests/fixtures/synthetic/).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/synthetic/prompts.hpp"
#include "psalm/data/synthetic/referring.hpp"
#include "psalm/data/synthetic/scene.hpp"
#include "psalm/data/synthetic/video.hpp"
#include "psalm/io/atomic_file.hpp"
#include "psalm/io/image.hpp"
#include "psalm/io/rle.hpp"

namespace psalm::data::synthetic {

struct ExportOptions {
  std::filesystem::path out;  // created if missing
  Split split = Split::train;
  std::int64_t count = 100;  // scenes
  std::int64_t size = 256;   // height = width
  std::uint64_t seed = 0;
  /// Any of: panoptic, instances, semantic, refcoco, grefcoco, interactive, davis.
  std::vector<std::string> tasks = {"panoptic", "instances",   "semantic", "refcoco",
                                    "grefcoco", "interactive", "davis"};
  std::int64_t videos = 4;  // DAVIS sequences
  int video_frames = 12;    // 2 .. 64
  /// An `out` folder that is not empty is an error unless `overwrite`, which first removes
  /// everything an export of this split writes (export_paths); other files stay.
  bool overwrite = false;
};

/// Bounds of ExportOptions, checked before anything is written.
inline constexpr std::int64_t kMaxExportScenes = 1000000;
inline constexpr std::int64_t kMaxExportVideos = 100000;

/// Called after each scene or video: (task group, done, total).
using ProgressCallback = std::function<void(std::string_view, std::int64_t, std::int64_t)>;

inline std::string split_name(Split s) { return s == Split::train ? "train" : "val"; }

inline SceneOptions scene_options(const ExportOptions& o) {
  SceneOptions s;
  s.height = s.width = o.size;
  s.seed = o.seed;
  s.split = o.split;
  return s;
}

/// Scene index `i` of a split: train and val draw disjoint index ranges of the same seed.
inline std::uint64_t scene_index(Split split, std::int64_t i) {
  return (split == Split::train ? 0u : (1ull << 40)) + static_cast<std::uint64_t>(i);
}

inline std::string image_file_name(std::int64_t image_id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%012lld.png", static_cast<long long>(image_id));
  return buf;
}

inline nlohmann::json image_entry(const Scene& s, std::int64_t image_id) {
  return {{"id", image_id},
          {"file_name", image_file_name(image_id)},
          {"height", s.height()},
          {"width", s.width()}};
}

inline nlohmann::json categories_json(bool things_only) {
  nlohmann::json out = nlohmann::json::array();
  for (const Category& c : panoptic_categories()) {
    if (things_only && !c.isthing) continue;
    out.push_back({{"id", c.id},
                   {"name", c.name},
                   {"supercategory", c.isthing ? "shape" : "stuff"},
                   {"isthing", c.isthing ? 1 : 0},
                   {"held_out", c.held_out},
                   {"color", {c.color[0], c.color[1], c.color[2]}}});
  }
  return out;
}

/// COCO instance annotations of one scene (visible masks as compressed RLE); ids from `next_id`.
inline nlohmann::json instance_annotations(const Scene& s, std::int64_t image_id,
                                           std::int64_t& next_id) {
  nlohmann::json anns = nlohmann::json::array();
  for (const Object& o : s.objects) {
    const io::Rle rle = visible_rle(s, o.id);
    const auto area = io::rle_area(rle);
    if (area == 0) continue;
    const auto box = io::rle_to_bbox(rle);
    anns.push_back({{"id", next_id++},
                    {"image_id", image_id},
                    {"category_id", thing_category_id(o.kind)},
                    {"segmentation", io::rle_to_json(rle)},
                    {"area", area},
                    {"bbox", {box[0], box[1], box[2], box[3]}},
                    {"iscrowd", 0},
                    {"object_id", o.id},
                    {"colour", colour_name(o.colour)},
                    {"size", size_name(o.size)},
                    {"pattern", pattern_name(o.pattern)}});
  }
  return anns;
}

/// The COCO panoptic annotation of one scene and its RGB id image (H, W, 3).
inline nlohmann::json panoptic_annotation(const Scene& s, std::int64_t image_id,
                                          Tensor<std::uint8_t>* id_png = nullptr) {
  std::vector<std::int32_t> ids;
  const auto segments = panoptic_segments(s, &ids);
  nlohmann::json info = nlohmann::json::array();
  for (const PanopticSegment& g : segments)
    info.push_back({{"id", g.id},
                    {"category_id", g.category_id},
                    {"area", g.area},
                    {"bbox", {g.bbox[0], g.bbox[1], g.bbox[2], g.bbox[3]}},
                    {"iscrowd", 0}});
  if (id_png != nullptr)
    *id_png =
        io::panoptic_ids_to_rgb(Tensor<std::int32_t>::from_data(ids, Shape{s.height(), s.width()}));
  std::string png = image_file_name(image_id);
  return {{"image_id", image_id}, {"file_name", png}, {"segments_info", info}};
}

inline nlohmann::json ann_of(const Scene& s, int object_id) {
  const io::Rle rle = visible_rle(s, object_id);
  const auto box = io::rle_to_bbox(rle);
  return {{"id", object_id},
          {"category_id", thing_category_id(object_by_id(s, object_id).kind)},
          {"segmentation", io::rle_to_json(rle)},
          {"area", io::rle_area(rle)},
          {"bbox", {box[0], box[1], box[2], box[3]}}};
}

/// RefCOCO-style entries (one per referent, all its sentences in `instruction`).
inline nlohmann::json refcoco_entries(const Scene& s, std::int64_t image_id, std::int64_t& next_ref,
                                      std::string_view split) {
  nlohmann::json out = nlohmann::json::array();
  for (const Referent& r : referring_expressions(s)) {
    nlohmann::json sents = nlohmann::json::array();
    for (std::size_t k = 0; k < r.sentences.size(); ++k)
      sents.push_back({{"sent", r.sentences[k]}, {"sent_id", k}});
    out.push_back({{"ref_id", next_ref++},
                   {"image_id", image_id},
                   {"image", image_file_name(image_id)},
                   {"height", s.height()},
                   {"width", s.width()},
                   {"split", split},
                   {"ann_id", r.object_id},
                   {"instruction", sents},
                   {"anns", nlohmann::json::array({ann_of(s, r.object_id)})}});
  }
  return out;
}

/// gRefCOCO-style entries: several targets or none (`no_target`, empty `anns`).
inline nlohmann::json grefcoco_entries(const Scene& s, std::int64_t image_id,
                                       std::int64_t& next_ref, std::string_view split) {
  nlohmann::json out = nlohmann::json::array();
  for (const GeneralizedExpression& e : generalized_expressions(s)) {
    nlohmann::json anns = nlohmann::json::array();
    for (const int id : e.targets) anns.push_back(ann_of(s, id));
    out.push_back(
        {{"ref_id", next_ref++},
         {"image_id", image_id},
         {"image", image_file_name(image_id)},
         {"height", s.height()},
         {"width", s.width()},
         {"split", split},
         {"no_target", e.targets.empty()},
         {"ann_id", e.targets.empty() ? nlohmann::json::array({-1}) : nlohmann::json(e.targets)},
         {"instruction", nlohmann::json::array({{{"sent", e.sentence}, {"sent_id", 0}}})},
         {"anns", anns}});
  }
  return out;
}

/// COCO-Interactive-style annotations: instance annotations with the four prompt masks as RLE.
inline nlohmann::json interactive_annotations(const Scene& s, std::int64_t image_id,
                                              std::int64_t& next_id) {
  nlohmann::json anns = instance_annotations(s, image_id, next_id);
  const auto prompts = interactive_prompts(s);
  const auto rle = [&](const std::vector<std::uint8_t>& m) {
    return io::rle_to_json(io::rle_encode(m.data(), s.height(), s.width()));
  };
  for (auto& a : anns) {
    std::size_t k = 0;
    while (s.objects[k].id != a["object_id"].get<int>()) ++k;
    a["point_visual_prompt_mask"] = rle(prompts[k].point);
    a["scribble_visual_prompt_mask"] = rle(prompts[k].scribble);
    a["box_visual_prompt_mask"] = rle(prompts[k].box);
    a["mask_visual_prompt_mask"] = rle(prompts[k].mask);
  }
  return anns;
}

inline void write_json(const std::filesystem::path& path, const nlohmann::json& j) {
  const std::string text = j.dump();
  io::write_file_atomically(path, std::as_bytes(std::span(text.data(), text.size())));
}

/// Everything an export of `split` writes under `root`, for every task: files, folders, and
/// (for DAVIS) the sequence folders `<split>_*`, as they exist now.
inline std::vector<std::filesystem::path> export_paths(const std::filesystem::path& root,
                                                       Split split) {
  namespace fs = std::filesystem;
  const std::string s = split_name(split);
  std::vector<fs::path> out = {root / "images" / s,
                               root / ("panoptic_" + s),
                               root / ("panoptic_" + s + ".json"),
                               root / ("instances_" + s + ".json"),
                               root / ("semantic_" + s),
                               root / ("refcoco_" + s),
                               root / ("refcoco_" + s + ".json"),
                               root / ("grefcoco_" + s),
                               root / ("grefcoco_" + s + ".json"),
                               root / ("interactive_" + s),
                               root / ("coco_interactive_" + s + "_psalm.json"),
                               root / "davis" / "ImageSets" / "2017" / (s + ".txt")};
  for (const char* kind : {"JPEGImages", "Annotations"}) {
    const fs::path dir = root / "davis" / kind / "480p";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().starts_with(s + "_")) out.push_back(e.path());
  }
  return out;
}

/// Removes what export_paths lists (a previous export of `split`); other files stay.
inline void remove_export(const std::filesystem::path& root, Split split) {
  for (const auto& p : export_paths(root, split)) {
    std::error_code ec;
    std::filesystem::remove_all(p, ec);
    PSALM_CHECK(!ec, p.string(), ": cannot remove the previous export: ", ec.message());
  }
}

namespace detail {

inline void make_folder(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  PSALM_CHECK(!ec && std::filesystem::is_directory(dir), dir.string(),
              ": cannot create the folder: ",
              ec ? ec.message() : std::string("a file of that name exists"));
}

/// The (H, W) 0/1 mask of the visible pixels of any object in `ids`.
inline Tensor<std::uint8_t> objects_mask(const Scene& s, const std::vector<int>& ids) {
  std::vector<std::uint8_t> m(s.object_map.size(), 0);
  for (std::size_t p = 0; p < m.size(); ++p)
    m[p] = std::find(ids.begin(), ids.end(), s.object_map[p]) != ids.end() ? 1 : 0;
  return Tensor<std::uint8_t>::from_data(m, Shape{s.height(), s.width()});  // (H, W)
}

}  // namespace detail

/// Writes the requested tasks of `count` scenes (and `videos` videos) under `options.out`.
/// Options are checked (and the folder's state) before anything is written.
inline void export_dataset(const ExportOptions& options, const ProgressCallback& progress = {}) {
  namespace fs = std::filesystem;
  PSALM_CHECK(!options.out.empty(), "export_dataset: no output folder");
  PSALM_CHECK(options.count >= 0 && options.count <= kMaxExportScenes, "export_dataset: count ",
              options.count, " is outside 0 .. ", kMaxExportScenes);
  PSALM_CHECK(options.videos >= 0 && options.videos <= kMaxExportVideos, "export_dataset: videos ",
              options.videos, " is outside 0 .. ", kMaxExportVideos);
  PSALM_CHECK(options.size >= 64 && options.size <= 1024, "export_dataset: size ", options.size,
              " is outside 64 .. 1024");
  PSALM_CHECK(options.video_frames >= 2 && options.video_frames <= 64,
              "export_dataset: ", options.video_frames, " frames per video is outside 2 .. 64");
  const auto has = [&](std::string_view t) {
    return std::find(options.tasks.begin(), options.tasks.end(), t) != options.tasks.end();
  };
  for (const std::string& t : options.tasks)
    PSALM_CHECK(t == "panoptic" || t == "instances" || t == "semantic" || t == "refcoco" ||
                    t == "grefcoco" || t == "interactive" || t == "davis",
                "export_dataset: unknown task '", t, "'");
  const std::string split = split_name(options.split);
  const fs::path root = options.out;
  {
    std::error_code ec;
    const auto st = fs::status(root, ec);
    if (fs::exists(st)) {
      PSALM_CHECK(fs::is_directory(st), root.string(), ": is a file, not a folder");
      const bool empty = fs::directory_iterator(root, ec) == fs::directory_iterator();
      PSALM_CHECK(!ec, root.string(), ": cannot list the folder: ", ec.message());
      PSALM_CHECK(empty || options.overwrite, root.string(),
                  ": folder is not empty; export_dataset writes only into an empty folder "
                  "unless ExportOptions::overwrite");
      if (options.overwrite) remove_export(root, options.split);
    }
  }
  const fs::path images = root / "images" / split, pan_dir = root / ("panoptic_" + split),
                 sem_dir = root / ("semantic_" + split), ref_dir = root / ("refcoco_" + split),
                 gref_dir = root / ("grefcoco_" + split),
                 inter_dir = root / ("interactive_" + split);
  static const char* const kPromptTypes[4] = {"point", "scribble", "box", "mask"};
  detail::make_folder(root);
  detail::make_folder(images);
  if (has("panoptic")) detail::make_folder(pan_dir);
  if (has("semantic")) detail::make_folder(sem_dir);
  if (has("refcoco")) detail::make_folder(ref_dir);
  if (has("grefcoco")) detail::make_folder(gref_dir);
  if (has("interactive"))
    for (const char* type : kPromptTypes) detail::make_folder(inter_dir / type);
  const SceneOptions so = scene_options(options);
  nlohmann::json img_list = nlohmann::json::array(), inst = nlohmann::json::array(),
                 pan = nlohmann::json::array(), refs = nlohmann::json::array(),
                 grefs = nlohmann::json::array(), inter = nlohmann::json::array();
  std::int64_t ann_id = 1, inter_id = 1, ref_id = 1, gref_id = 1;
  for (std::int64_t i = 0; i < options.count; ++i) {
    const Scene s = generate_scene(so, scene_index(options.split, i));
    const std::int64_t image_id = i + 1;
    io::save_png(images / image_file_name(image_id), s.image);
    img_list.push_back(image_entry(s, image_id));
    if (has("instances"))
      for (auto& a : instance_annotations(s, image_id, ann_id)) inst.push_back(std::move(a));
    if (has("panoptic")) {
      Tensor<std::uint8_t> png;
      pan.push_back(panoptic_annotation(s, image_id, &png));
      io::save_png(pan_dir / image_file_name(image_id), png);
    }
    if (has("semantic")) {
      const auto labels = semantic_map(s);
      io::save_png(sem_dir / image_file_name(image_id),
                   Tensor<std::uint8_t>::from_data(labels, Shape{s.height(), s.width()}));
    }
    // Referring, gRefCOCO and interactive ground truth also as mask PNGs named by ref_id /
    // annotation id (what `psalm score --task referring|gres|interactive` reads).
    if (has("refcoco"))
      for (auto& r : refcoco_entries(s, image_id, ref_id, split)) {
        io::save_binary_mask(ref_dir / image_file_name(r["ref_id"].get<std::int64_t>()),
                             detail::objects_mask(s, {r["ann_id"].get<int>()}));
        refs.push_back(std::move(r));
      }
    if (has("grefcoco"))
      for (auto& r : grefcoco_entries(s, image_id, gref_id, split)) {
        std::vector<int> targets;
        for (const auto& a : r["anns"]) targets.push_back(a["id"].get<int>());
        io::save_binary_mask(gref_dir / image_file_name(r["ref_id"].get<std::int64_t>()),
                             detail::objects_mask(s, targets));
        grefs.push_back(std::move(r));
      }
    if (has("interactive"))
      for (auto& a : interactive_annotations(s, image_id, inter_id)) {
        const auto mask = detail::objects_mask(s, {a["object_id"].get<int>()});
        for (const char* type : kPromptTypes)
          if (io::rle_area(io::rle_from_json(a[std::string(type) + "_visual_prompt_mask"])) > 0)
            io::save_binary_mask(inter_dir / type / image_file_name(a["id"].get<std::int64_t>()),
                                 mask);
        inter.push_back(std::move(a));
      }
    if (progress) progress("scenes", i + 1, options.count);
  }
  if (has("instances"))
    write_json(
        root / ("instances_" + split + ".json"),
        {{"images", img_list}, {"annotations", inst}, {"categories", categories_json(true)}});
  if (has("panoptic"))
    write_json(
        root / ("panoptic_" + split + ".json"),
        {{"images", img_list}, {"annotations", pan}, {"categories", categories_json(false)}});
  if (has("refcoco")) write_json(root / ("refcoco_" + split + ".json"), refs);
  if (has("grefcoco")) write_json(root / ("grefcoco_" + split + ".json"), grefs);
  if (has("interactive"))
    write_json(
        root / ("coco_interactive_" + split + "_psalm.json"),
        {{"images", img_list}, {"annotations", inter}, {"categories", categories_json(true)}});
  if (has("davis")) {
    VideoOptions vo;
    vo.scene = so;
    vo.frames = options.video_frames;
    std::string list;
    for (std::int64_t v = 0; v < options.videos; ++v) {
      char name[32];
      std::snprintf(name, sizeof name, "%s_%04lld", split.c_str(), static_cast<long long>(v));
      const Video video = generate_video(vo, scene_index(options.split, v) + (1ull << 32));
      const fs::path jpg = root / "davis" / "JPEGImages" / "480p" / name;
      const fs::path ann = root / "davis" / "Annotations" / "480p" / name;
      detail::make_folder(jpg);
      detail::make_folder(ann);
      for (std::size_t t = 0; t < video.frames.size(); ++t) {
        char frame[32];
        std::snprintf(frame, sizeof frame, "%05zu", t);
        const Scene& f = video.frames[t];
        io::save_jpeg(jpg / (std::string(frame) + ".jpg"), f.image, 95);
        std::vector<std::uint8_t> idx(f.object_map.size());
        for (std::size_t p = 0; p < idx.size(); ++p)
          idx[p] = static_cast<std::uint8_t>(f.object_map[p]);
        io::save_indexed_png(ann / (std::string(frame) + ".png"),
                             Tensor<std::uint8_t>::from_data(idx, Shape{f.height(), f.width()}));
      }
      list += std::string(name) + "\n";
      if (progress) progress("videos", v + 1, options.videos);
    }
    detail::make_folder(root / "davis" / "ImageSets" / "2017");
    io::write_file_atomically(root / "davis" / "ImageSets" / "2017" / (split + ".txt"),
                              std::as_bytes(std::span(list.data(), list.size())));
  }
}

}  // namespace psalm::data::synthetic
