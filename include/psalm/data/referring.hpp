// psalm/data/referring.hpp — referring-segmentation records: one referred object (RefCOCO /
// RefCOCO+ / RefCOCOg) or group of objects, possibly none (gRefCOCO), with its sentences and
// COCO annotations, read from the converted JSON PSALM trains and evaluates on (a list of
// {image, image_info, instruction: [{sent, ...}], anns, new_img_id}; ref: PSALM
// datasets/build_RefCOCO.py, build_gRefCOCO.py) or from psalm's synthetic export (the same with
// top-level height / width and a `no_target` flag). Host code.
// Depends on: data/annotation_json, data/coco_instances. Test:
// tests/data/test_referring.cpp.
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

/// RefCOCO-style files have exactly one annotation per entry; gRefCOCO ones zero or more.
enum class ReferringKind : std::uint8_t { refcoco, grefcoco };

inline const char* to_string(ReferringKind k) {
  return k == ReferringKind::refcoco ? "refcoco" : "grefcoco";
}

/// One referring entry: an image, the sentences that describe the target(s), and the
/// target annotations (none: a gRefCOCO no-target expression).
struct ReferringRecord {
  std::int64_t ref_id = -1;  ///< ref_id, else new_img_id, else the entry's index
  std::int64_t image_id = -1;
  std::string image_file;  ///< relative to the image folder
  std::int64_t height = 0, width = 0;
  std::vector<std::string> sentences;  ///< in file order, as written (no trailing period added)
  std::vector<CocoAnnotationRecord> anns;
  std::string context;  ///< "file: [i]", for errors found later

  bool no_target() const { return anns.empty(); }
};

/// Reads the sentences of a converted entry's `instruction`: a non-empty list of objects
/// with a string `sent` (REFER's sentence dicts).
inline std::vector<std::string> parse_instruction(const JsonEntry& e) {
  const nlohmann::json& list = e.list("instruction");
  if (list.empty()) e.fail_field("instruction", "is empty (an entry needs a sentence)");
  std::vector<std::string> out;
  out.reserve(list.size());
  for (std::size_t s = 0; s < list.size(); ++s) {
    const JsonEntry se(list[s], e.source(), e.where() + ".instruction[" + std::to_string(s) + "]");
    out.push_back(se.string("sent"));
  }
  return out;
}

/// Reads a converted referring file (a JSON list of entries). Image size and file come from
/// `image_info` when present (upstream's readers use it), else from the entry's own `height`,
/// `width` and `image`. A `no_target` flag, when present, must agree with `anns`.
inline std::vector<ReferringRecord> parse_referring_json(const nlohmann::json& root,
                                                         const std::string& source,
                                                         ReferringKind kind) {
  PSALM_CHECK(root.is_array(), source, ": a converted ", to_string(kind),
              " file must be a JSON list of entries, got ", detail::json_kind(root));
  std::vector<ReferringRecord> out;
  out.reserve(root.size());
  for (std::size_t i = 0; i < root.size(); ++i) {
    const JsonEntry e(root[i], source, "[" + std::to_string(i) + "]");
    ReferringRecord r;
    r.context = e.context();
    if (e.present("image_info")) {
      const JsonEntry info = e.object("image_info");
      r.image_file = relative_file_name(info, "file_name");
      r.height = info.integer("height");
      r.width = info.integer("width");
      r.image_id = info.integer_or("id", -1);
      check_image_size(r.height, r.width, info);
    } else {
      r.image_file = relative_file_name(e, "image");
      r.height = e.integer("height");
      r.width = e.integer("width");
      r.image_id = e.integer_or("image_id", -1);
      check_image_size(r.height, r.width, e);
    }
    r.ref_id = e.integer_or("ref_id", e.integer_or("new_img_id", static_cast<std::int64_t>(i)));
    r.sentences = parse_instruction(e);
    const nlohmann::json& anns = e.list("anns");
    for (std::size_t a = 0; a < anns.size(); ++a) {
      const JsonEntry ae(anns[a], source, e.where() + ".anns[" + std::to_string(a) + "]");
      r.anns.push_back(parse_coco_annotation(ae, /*need_id=*/false));
    }
    if (kind == ReferringKind::refcoco && r.anns.size() != 1)
      e.fail_field("anns", "holds ", r.anns.size(),
                   " annotations; a RefCOCO entry refers to exactly one object");
    if (e.present("no_target") && e.flag("no_target") != r.anns.empty())
      e.fail_field("no_target", "= ", e.flag("no_target") ? "true" : "false", " but the entry has ",
                   r.anns.size(), " annotations");
    out.push_back(std::move(r));
  }
  return out;
}

/// Reads a converted referring JSON file (bounded; see read_annotation_json).
inline std::vector<ReferringRecord> read_referring_json(const std::filesystem::path& path,
                                                        ReferringKind kind) {
  return parse_referring_json(read_annotation_json(path), path.string(), kind);
}

}  // namespace psalm::data
