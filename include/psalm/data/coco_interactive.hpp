// psalm/data/coco_interactive.hpp — COCO-Interactive records: an image and its instance
// annotations, each with up to four prompt masks as RLE (`point_visual_prompt_mask`,
// `scribble_...`, `box_...`, `mask_...`). Reads PSALM's converted file (a list of {image,
// image_info, anns, new_img_id}; ref: PSALM datasets/bulid_COCO_Interactivate.py) and the COCO
// dict form psalm's synthetic export writes (`images` / `annotations` / `categories`, prompts on
// the annotations). Host code.
// Depends on: data/annotation_json, data/coco_instances. Test:
// tests/data/test_coco_interactive.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/annotation_json.hpp"
#include "psalm/data/coco_instances.hpp"

namespace psalm::data {

/// One image of COCO-Interactive with its annotations (crowd ones included, as written).
struct InteractiveRecord {
  std::int64_t image_id = -1;
  std::string image_file;  ///< relative to the image folder
  std::int64_t height = 0, width = 0;
  std::vector<CocoAnnotationRecord> anns;
  std::string context;
};

/// Reads a COCO-Interactive file: PSALM's converted list, or a COCO dict (images without
/// annotations are left out, as the converter leaves them out).
inline std::vector<InteractiveRecord> parse_coco_interactive(const nlohmann::json& root,
                                                             const std::string& source) {
  std::vector<InteractiveRecord> out;
  if (root.is_object()) {
    const CocoInstances coco = parse_coco_instances(root, source);
    for (std::size_t i = 0; i < coco.images.size(); ++i) {
      if (coco.image_annotations[i].empty()) continue;
      const CocoImageRecord& im = coco.images[i];
      InteractiveRecord r{
          im.id,
          im.file_name,
          im.height,
          im.width,
          {},
          source + ": images[" + std::to_string(i) + "] (id " + std::to_string(im.id) + ")"};
      for (std::size_t a : coco.image_annotations[i]) r.anns.push_back(coco.annotations[a]);
      out.push_back(std::move(r));
    }
    return out;
  }
  PSALM_CHECK(root.is_array(), source,
              ": a COCO-Interactive file must be a JSON list of entries (PSALM's converted form) "
              "or a COCO dict, got ",
              detail::json_kind(root));
  out.reserve(root.size());
  for (std::size_t i = 0; i < root.size(); ++i) {
    const JsonEntry e(root[i], source, "[" + std::to_string(i) + "]");
    const JsonEntry info = e.object("image_info");
    InteractiveRecord r;
    r.image_file =
        e.present("image") ? relative_file_name(e, "image") : relative_file_name(info, "file_name");
    r.height = info.integer("height");
    r.width = info.integer("width");
    r.image_id = info.integer_or("id", -1);
    check_image_size(r.height, r.width, info);
    const nlohmann::json& anns = e.list("anns");
    for (std::size_t a = 0; a < anns.size(); ++a) {
      const JsonEntry ae(anns[a], source, e.where() + ".anns[" + std::to_string(a) + "]");
      r.anns.push_back(parse_coco_annotation(ae, /*need_id=*/false));
    }
    r.context = e.context();
    out.push_back(std::move(r));
  }
  return out;
}

/// Reads a COCO-Interactive JSON file (bounded; see read_annotation_json).
inline std::vector<InteractiveRecord> read_coco_interactive(const std::filesystem::path& path) {
  return parse_coco_interactive(read_annotation_json(path), path.string());
}

}  // namespace psalm::data
