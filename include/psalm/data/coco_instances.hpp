// psalm/data/coco_instances.hpp — the records of a COCO instances file (`images`,
// `annotations` with polygons / RLE / crowd, `categories`) as read from disk, indexed by image
// (annotations in file order, as pycocotools' getAnnIds), with the COCO-Interactive prompt RLEs
// (`{point,scribble,box,mask}_visual_prompt_mask`) when an annotation carries them. Every field
// error names the file, the entry and the field. Host code.
// Depends on: io/rle, data/annotation_json, data/coco_segmentation.
// Test: tests/data/test_coco_instances.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/annotation_json.hpp"
#include "psalm/data/coco_segmentation.hpp"
#include "psalm/io/rle.hpp"

namespace psalm::data {

/// The four COCO-Interactive prompt kinds, in psalm::VisualPromptKind's order.
inline constexpr std::size_t kVisualPromptTypes = 4;
inline constexpr std::array<const char*, kVisualPromptTypes> kVisualPromptNames = {
    "point", "scribble", "box", "mask"};
inline constexpr std::array<const char*, kVisualPromptTypes> kVisualPromptKeys = {
    "point_visual_prompt_mask", "scribble_visual_prompt_mask", "box_visual_prompt_mask",
    "mask_visual_prompt_mask"};

struct CocoImageRecord {
  std::int64_t id = 0;
  std::string file_name;  ///< relative to the image folder
  std::int64_t height = 0, width = 0;
};

struct CocoCategoryRecord {
  std::int64_t id = 0;
  std::string name;
  bool isthing = true;  ///< panoptic files say; instance files list things only
};

struct CocoAnnotationRecord {
  std::int64_t id = 0, image_id = 0, category_id = 0;
  bool iscrowd = false;
  double area = 0;
  Segmentation segmentation;
  /// COCO-Interactive: the prompt masks present (point, scribble, box, mask), at their own size.
  std::array<std::optional<io::Rle>, kVisualPromptTypes> visual_prompts;
  std::string context;  ///< "file: annotations[i] (id N)", for errors found later
};

/// A COCO instances file.
struct CocoInstances {
  std::string source;
  std::vector<CocoImageRecord> images;
  std::vector<CocoCategoryRecord> categories;
  std::vector<CocoAnnotationRecord> annotations;
  /// Per image (in `images` order): its annotations' indices, in file order.
  std::vector<std::vector<std::size_t>> image_annotations;

  std::map<std::int64_t, std::size_t> image_by_id, category_by_id;  ///< id -> index

  /// Index into `images` of image `id`, or -1.
  std::int64_t image_index(std::int64_t id) const {
    const auto it = image_by_id.find(id);
    return it == image_by_id.end() ? -1 : static_cast<std::int64_t>(it->second);
  }
  /// Index into `categories` of category `id` (its contiguous class index), or -1.
  std::int64_t category_index(std::int64_t id) const {
    const auto it = category_by_id.find(id);
    return it == category_by_id.end() ? -1 : static_cast<std::int64_t>(it->second);
  }
};

/// A file name from an annotation: relative, without "..", non-empty.
inline std::string relative_file_name(const JsonEntry& entry, std::string_view key) {
  std::string name = entry.string(key);
  const std::filesystem::path p(name);
  if (name.empty() || p.is_absolute() || name.find('\0') != std::string::npos)
    entry.fail_field(key, "= \"", name, "\" must be a non-empty relative path");
  for (const auto& part : p)
    if (part == "..") entry.fail_field(key, "= \"", name, "\" must not contain \"..\"");
  return name;
}

inline CocoImageRecord parse_coco_image(const JsonEntry& e) {
  CocoImageRecord im;
  im.id = e.integer("id");
  im.file_name = relative_file_name(e, "file_name");
  im.height = e.integer("height");
  im.width = e.integer("width");
  check_image_size(im.height, im.width, e);
  return im;
}

inline CocoCategoryRecord parse_coco_category(const JsonEntry& e) {
  CocoCategoryRecord c;
  c.id = e.integer("id");
  c.name = e.string("name");
  c.isthing = e.flag_or("isthing", true);
  return c;
}

/// One annotation object (an entry of `annotations`, or of a converted file's `anns`). The
/// prompt RLEs are read when present (a null prompt counts as absent).
inline CocoAnnotationRecord parse_coco_annotation(const JsonEntry& e, bool need_id = true) {
  CocoAnnotationRecord a;
  a.id = need_id ? e.integer("id") : e.integer_or("id", -1);
  a.image_id = need_id ? e.integer("image_id") : e.integer_or("image_id", -1);
  a.category_id = e.integer("category_id");
  a.iscrowd = e.flag_or("iscrowd", false);
  a.area = e.number_or("area", 0.0);
  a.segmentation = parse_segmentation(e, "segmentation");
  for (std::size_t t = 0; t < kVisualPromptTypes; ++t) {
    if (!e.present(kVisualPromptKeys[t])) continue;
    const nlohmann::json& v = e.at(kVisualPromptKeys[t]);
    try {
      a.visual_prompts[t] = io::rle_from_json(v);
    } catch (const Error& err) {
      e.fail_field(kVisualPromptKeys[t], "is not a valid RLE: ", err.what());
    }
  }
  a.context = e.context();
  return a;
}

/// The annotation's mask at its image's size (see segmentation_rle); nullopt when it has no
/// valid polygon.
inline std::optional<io::Rle> annotation_rle(const CocoAnnotationRecord& a, std::int64_t height,
                                             std::int64_t width) {
  return segmentation_rle(a.segmentation, height, width, a.context, "segmentation");
}

/// Reads a COCO instances dict. Image, category and annotation ids must be unique; every
/// annotation must name a listed image and category. `annotations` may be empty.
inline CocoInstances parse_coco_instances(const nlohmann::json& root, std::string source) {
  CocoInstances out;
  out.source = source;
  const nlohmann::json& images = top_level_list(root, "images", source);
  const nlohmann::json& anns = top_level_list(root, "annotations", source);
  const nlohmann::json& cats = top_level_list(root, "categories", source);
  out.images.reserve(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const JsonEntry e(images[i], source, entry_name("images", i));
    CocoImageRecord im = parse_coco_image(e);
    if (!out.image_by_id.emplace(im.id, out.images.size()).second)
      e.fail_field("id", "= ", im.id, " repeats an earlier image id");
    out.images.push_back(std::move(im));
  }
  for (std::size_t i = 0; i < cats.size(); ++i) {
    const JsonEntry e(cats[i], source, entry_name("categories", i));
    CocoCategoryRecord c = parse_coco_category(e);
    if (!out.category_by_id.emplace(c.id, out.categories.size()).second)
      e.fail_field("id", "= ", c.id, " repeats an earlier category id");
    out.categories.push_back(std::move(c));
  }
  out.image_annotations.resize(out.images.size());
  out.annotations.reserve(anns.size());
  std::map<std::int64_t, std::size_t> ann_ids;
  for (std::size_t i = 0; i < anns.size(); ++i) {
    std::string where = entry_name("annotations", i);
    {
      const JsonEntry probe(anns[i], source, where);
      if (probe.present("id")) where += " (id " + std::to_string(probe.integer("id")) + ")";
    }
    const JsonEntry e(anns[i], source, where);
    CocoAnnotationRecord a = parse_coco_annotation(e);
    if (!ann_ids.emplace(a.id, i).second)
      e.fail_field("id", "= ", a.id, " repeats an earlier annotation id");
    const std::int64_t im = out.image_index(a.image_id);
    if (im < 0) e.fail_field("image_id", "= ", a.image_id, " names no image of the file");
    if (out.category_index(a.category_id) < 0)
      e.fail_field("category_id", "= ", a.category_id, " names no category of the file");
    out.image_annotations[static_cast<std::size_t>(im)].push_back(out.annotations.size());
    out.annotations.push_back(std::move(a));
  }
  return out;
}

/// Reads a COCO instances JSON file (bounded; see read_annotation_json).
inline CocoInstances read_coco_instances(const std::filesystem::path& path) {
  return parse_coco_instances(read_annotation_json(path), path.string());
}

}  // namespace psalm::data
