// psalm/data/coco_panoptic.hpp — the records of a COCO panoptic file (`images`, `annotations`
// with `segments_info`, `categories` with `isthing`) and the per-pixel segment ids of an
// annotation's PNG (id = R + 256 G + 256^2 B, 0 = void), checked against its segments.
// Every field error names the file, the entry and the field. Host code.
// Depends on: io/image, data/annotation_json, data/coco_instances (image and category records).
// Test: tests/data/test_coco_panoptic.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/annotation_json.hpp"
#include "psalm/data/coco_instances.hpp"
#include "psalm/io/image.hpp"

namespace psalm::data {

// Letters: H W the image.

/// The largest segment id an RGB id PNG can hold.
inline constexpr std::int64_t kMaxPanopticSegmentId = (std::int64_t{1} << 24) - 1;

struct PanopticSegmentRecord {
  std::int64_t id = 0, category_id = 0;
  bool iscrowd = false;
  double area = 0;
};

struct PanopticAnnotationRecord {
  std::int64_t image_id = 0;
  std::string file_name;  ///< the id PNG, relative to the panoptic PNG folder
  std::vector<PanopticSegmentRecord> segments;
  std::string context;  ///< "file: annotations[i] (image_id N)", for errors found later
};

/// A COCO panoptic file: the annotations in file order, one per image.
struct CocoPanoptic {
  std::string source;
  std::vector<CocoImageRecord> images;
  std::vector<CocoCategoryRecord> categories;
  std::vector<PanopticAnnotationRecord> annotations;
  std::map<std::int64_t, std::size_t> image_by_id, category_by_id;  ///< id -> index

  std::int64_t image_index(std::int64_t id) const {
    const auto it = image_by_id.find(id);
    return it == image_by_id.end() ? -1 : static_cast<std::int64_t>(it->second);
  }
  std::int64_t category_index(std::int64_t id) const {
    const auto it = category_by_id.find(id);
    return it == category_by_id.end() ? -1 : static_cast<std::int64_t>(it->second);
  }
};

/// Reads a COCO panoptic dict. Ids of images and categories are unique; every annotation names
/// a listed image (at most one annotation per image); segment ids are unique within their
/// annotation, in 1 .. 2^24 - 1, and name listed categories.
inline CocoPanoptic parse_coco_panoptic(const nlohmann::json& root, std::string source) {
  CocoPanoptic out;
  out.source = source;
  const nlohmann::json& images = top_level_list(root, "images", source);
  const nlohmann::json& anns = top_level_list(root, "annotations", source);
  const nlohmann::json& cats = top_level_list(root, "categories", source);
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
    if (!e.present("isthing")) e.fail_entry("missing field \"isthing\" (a panoptic category)");
    if (!out.category_by_id.emplace(c.id, out.categories.size()).second)
      e.fail_field("id", "= ", c.id, " repeats an earlier category id");
    out.categories.push_back(std::move(c));
  }
  std::set<std::int64_t> annotated;
  out.annotations.reserve(anns.size());
  for (std::size_t i = 0; i < anns.size(); ++i) {
    std::string where = entry_name("annotations", i);
    {
      const JsonEntry probe(anns[i], source, where);
      if (probe.present("image_id"))
        where += " (image_id " + std::to_string(probe.integer("image_id")) + ")";
    }
    const JsonEntry e(anns[i], source, where);
    PanopticAnnotationRecord a;
    a.image_id = e.integer("image_id");
    a.file_name = relative_file_name(e, "file_name");
    if (out.image_index(a.image_id) < 0)
      e.fail_field("image_id", "= ", a.image_id, " names no image of the file");
    if (!annotated.insert(a.image_id).second)
      e.fail_field("image_id", "= ", a.image_id, " has a second annotation");
    const nlohmann::json& segs = e.list("segments_info");
    std::set<std::int64_t> ids;
    for (std::size_t s = 0; s < segs.size(); ++s) {
      const JsonEntry se(segs[s], source, where + ".segments_info[" + std::to_string(s) + "]");
      PanopticSegmentRecord seg;
      seg.id = se.integer("id", 1, kMaxPanopticSegmentId);
      seg.category_id = se.integer("category_id");
      seg.iscrowd = se.flag_or("iscrowd", false);
      seg.area = se.number_or("area", 0.0);
      if (!ids.insert(seg.id).second) se.fail_field("id", "= ", seg.id, " repeats a segment id");
      if (out.category_index(seg.category_id) < 0)
        se.fail_field("category_id", "= ", seg.category_id, " names no category of the file");
      a.segments.push_back(seg);
    }
    a.context = e.context();
    out.annotations.push_back(std::move(a));
  }
  return out;
}

/// Reads a COCO panoptic JSON file (bounded; see read_annotation_json).
inline CocoPanoptic read_coco_panoptic(const std::filesystem::path& path) {
  return parse_coco_panoptic(read_annotation_json(path), path.string());
}

/// The per-pixel segment ids (H, W) of `annotation`'s PNG at `png_path`, which must be
/// `height` x `width` (the image's size). Id 0 is void; every other id in the PNG must be a
/// segment of the annotation (panopticapi's rule).
inline Tensor<std::int32_t> load_panoptic_ids(const std::filesystem::path& png_path,
                                              const PanopticAnnotationRecord& annotation,
                                              std::int64_t height, std::int64_t width) {
  io::ImageLoadOptions opt;
  opt.channels = 3;
  const Tensor<std::uint8_t> rgb = io::load_image(png_path, opt);  // (H, W, 3)
  PSALM_CHECK(rgb.size(0) == height && rgb.size(1) == width, png_path.string(),
              ": panoptic PNG of ", rgb.size(0), " x ", rgb.size(1), " but ", annotation.context,
              " has an image of ", height, " x ", width);
  Tensor<std::int32_t> ids = io::panoptic_ids_from_rgb(rgb);  // (H, W)
  std::set<std::int64_t> known;
  for (const PanopticSegmentRecord& s : annotation.segments) known.insert(s.id);
  const std::int32_t* p = ids.data();
  std::int32_t last = 0;  // ids come in runs: check each new value once per run
  for (std::int64_t i = 0; i < height * width; ++i) {
    if (p[i] == 0 || p[i] == last) continue;
    PSALM_CHECK(known.count(p[i]) != 0, png_path.string(), ": pixel (", i / width, ", ", i % width,
                ") has segment id ", p[i], " which ", annotation.context,
                " does not list in segments_info");
    last = p[i];
  }
  return ids;
}

}  // namespace psalm::data
