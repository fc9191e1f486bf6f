// psalm/data/refer_original.hpp — referring data as the original datasets ship it: a list of
// refs ({ref_id, image_id, split, sentences: [{sent, ...}], ann_id}: REFER's refs(unc).p /
// refs(umd).p, gRefCOCO's grefs(unc).json with `ann_id` a list and [-1] for no target) beside
// the COCO instances.json they point into, joined into ReferringRecords for one split, as
// PSALM's converters do (ref: PSALM datasets/build_RefCOCO.py, build_gRefCOCO.py). The pickled
// refs are read by data/refer_pickle.hpp into the same ReferRecord. Host code.
// Depends on: data/annotation_json, data/coco_instances, data/referring.
// Test: tests/data/test_referring.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/annotation_json.hpp"
#include "psalm/data/coco_instances.hpp"
#include "psalm/data/referring.hpp"

namespace psalm::data {

/// One ref of an original refs file.
struct ReferRecord {
  std::int64_t ref_id = 0, image_id = 0;
  std::string split;
  std::vector<std::string> sentences;
  std::vector<std::int64_t> ann_ids;  ///< one (REFER), several or [-1] (gRefCOCO: no target)
  std::string context;                ///< "file: refs[i] (ref_id N)"
};

/// Reads gRefCOCO's grefs(unc).json (a list of refs; `ann_id` an id or a list of ids, [-1]
/// meaning no target; a `no_target` flag, when present, must agree).
inline std::vector<ReferRecord> parse_grefs_json(const nlohmann::json& root,
                                                 const std::string& source) {
  PSALM_CHECK(root.is_array(), source, ": a refs file must be a JSON list, got ",
              detail::json_kind(root));
  std::vector<ReferRecord> out;
  out.reserve(root.size());
  for (std::size_t i = 0; i < root.size(); ++i) {
    std::string where = entry_name("refs", i);
    {
      const JsonEntry probe(root[i], source, where);
      if (probe.present("ref_id"))
        where += " (ref_id " + std::to_string(probe.integer("ref_id")) + ")";
    }
    const JsonEntry e(root[i], source, where);
    ReferRecord r;
    r.ref_id = e.integer("ref_id");
    r.image_id = e.integer("image_id");
    r.split = e.string("split");
    const nlohmann::json& sents = e.list("sentences");
    if (sents.empty()) e.fail_field("sentences", "is empty (a ref needs a sentence)");
    for (std::size_t s = 0; s < sents.size(); ++s) {
      const JsonEntry se(sents[s], source, where + ".sentences[" + std::to_string(s) + "]");
      r.sentences.push_back(se.string("sent"));
    }
    const nlohmann::json& ids = e.at("ann_id");
    if (ids.is_array()) {
      if (ids.empty()) e.fail_field("ann_id", "is an empty list (no target is written [-1])");
      for (const auto& id : ids) r.ann_ids.push_back(e.integer_value(id, "ann_id"));
    } else {
      r.ann_ids.push_back(e.integer("ann_id"));
    }
    const bool none = r.ann_ids.size() == 1 && r.ann_ids[0] == -1;
    for (std::int64_t id : r.ann_ids)
      if (id == -1 && !none) e.fail_field("ann_id", "mixes -1 (no target) with annotation ids");
    if (e.present("no_target") && e.flag("no_target") != none)
      e.fail_field("no_target", "disagrees with ann_id");
    r.context = e.context();
    out.push_back(std::move(r));
  }
  return out;
}

/// The refs of `split` joined with their instances: image file and size from the image entry,
/// the annotations by id (none for [-1]). A ref naming an image or annotation the instances
/// file lacks is an error. `kind` refcoco requires exactly one annotation per ref.
inline std::vector<ReferringRecord> join_refs(const std::vector<ReferRecord>& refs,
                                              const CocoInstances& instances,
                                              const std::string& split, ReferringKind kind) {
  std::map<std::int64_t, std::size_t> ann_by_id;
  for (std::size_t a = 0; a < instances.annotations.size(); ++a)
    ann_by_id.emplace(instances.annotations[a].id, a);
  std::vector<ReferringRecord> out;
  bool any_split = false;
  for (const ReferRecord& ref : refs) {
    if (ref.split != split) continue;
    any_split = true;
    const std::int64_t im = instances.image_index(ref.image_id);
    PSALM_CHECK(im >= 0, ref.context, ": field \"image_id\" = ", ref.image_id,
                " names no image of ", instances.source);
    const CocoImageRecord& image = instances.images[static_cast<std::size_t>(im)];
    ReferringRecord r;
    r.ref_id = ref.ref_id;
    r.image_id = ref.image_id;
    r.image_file = image.file_name;
    r.height = image.height;
    r.width = image.width;
    r.sentences = ref.sentences;
    r.context = ref.context;
    if (!(ref.ann_ids.size() == 1 && ref.ann_ids[0] == -1)) {
      for (std::int64_t id : ref.ann_ids) {
        const auto it = ann_by_id.find(id);
        PSALM_CHECK(it != ann_by_id.end(), ref.context, ": field \"ann_id\" = ", id,
                    " names no annotation of ", instances.source);
        const CocoAnnotationRecord& a = instances.annotations[it->second];
        PSALM_CHECK(a.image_id == ref.image_id, ref.context, ": annotation ", id,
                    " belongs to image ", a.image_id, ", not to the ref's image ", ref.image_id);
        r.anns.push_back(a);
      }
    }
    PSALM_CHECK(kind != ReferringKind::refcoco || r.anns.size() == 1, ref.context, ": refers to ",
                r.anns.size(), " annotations; a RefCOCO ref refers to exactly one object");
    out.push_back(std::move(r));
  }
  PSALM_CHECK(any_split || refs.empty(), "refs: no ref of split \"", split,
              "\" (the refs name other splits only)");
  return out;
}

/// gRefCOCO as shipped: grefs(unc).json + instances.json, one split.
inline std::vector<ReferringRecord> read_grefcoco_original(const std::filesystem::path& grefs_json,
                                                           const std::filesystem::path& instances,
                                                           const std::string& split) {
  const std::vector<ReferRecord> refs =
      parse_grefs_json(read_annotation_json(grefs_json), grefs_json.string());
  return join_refs(refs, read_coco_instances(instances), split, ReferringKind::grefcoco);
}

}  // namespace psalm::data
