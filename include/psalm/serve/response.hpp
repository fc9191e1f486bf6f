// psalm/serve/response.hpp — a psalm::Segmentation as JSON: each mask as COCO RLE with its
// label, score, category id (1-based, as COCO results count), area, bbox and query; the whole
// answer with its task, size, the gRES "no target" flag and timings. `psalm segment` writes its
// summary and results.json entries from mask_json, `psalm serve` answers with
// segmentation_json, so the two report the same masks. Non-finite scores become null.
// Host code. Depends on: psalm/segmenter.hpp, io/rle.hpp. Test: tests/serve/test_response.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "psalm/io/rle.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/psalm/task.hpp"

namespace psalm::serve {

/// COCO's category id of a mask: class-list tasks count classes from 1 (index + 1); the
/// referring, gRES and interactive tasks have the one category 1.
inline std::int64_t coco_category(Task task, const SegmentMask& m) {
  return condition_kind(task) == ConditionKind::classes ? m.category + 1 : 1;
}

inline nlohmann::json finite_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

/// Mask `k` of `s`: {"label", "score", "category_id", "area", "bbox" [x, y, w, h], "query",
/// "segment_id", "isthing", "segmentation" (COCO RLE {"size": [h, w], "counts": "..."})}.
inline nlohmann::json mask_json(const Segmentation& s, std::size_t k) {
  const SegmentMask& m = s.masks.at(k);
  const io::Rle rle = io::rle_encode(m.mask.data(), m.mask.size(0), m.mask.size(1));
  const auto b = io::rle_to_bbox(rle);
  return {{"label", m.label},
          {"score", finite_or_null(m.score)},
          {"category_id", coco_category(s.task, m)},
          {"area", io::rle_area(rle)},
          {"bbox", {b[0], b[1], b[2], b[3]}},
          {"query", m.query},
          {"segment_id", m.segment_id},
          {"isthing", m.isthing},
          {"segmentation", io::rle_to_json(rle)}};
}

/// Wall-clock milliseconds a request spent, per stage.
struct Timings {
  double queue_ms = 0.0;    ///< waiting for the model
  double encode_ms = 0.0;   ///< the vision side (0 when the image was cached)
  double segment_ms = 0.0;  ///< the prompt
  double total_ms = 0.0;    ///< the whole request, reading and answering included
};

inline nlohmann::json timings_json(const Timings& t) {
  return {{"queue_ms", t.queue_ms},
          {"encode_ms", t.encode_ms},
          {"segment_ms", t.segment_ms},
          {"total_ms", t.total_ms}};
}

/// The whole answer: {"task", "height", "width", "no_target", "masks": [mask_json...],
/// "timings"}.
inline nlohmann::json segmentation_json(const Segmentation& s, const Timings& t = {}) {
  nlohmann::json masks = nlohmann::json::array();
  for (std::size_t k = 0; k < s.masks.size(); ++k) masks.push_back(mask_json(s, k));
  return {{"task", to_string(s.task)}, {"height", s.height}, {"width", s.width},
          {"no_target", s.no_target},  {"masks", masks},     {"timings", timings_json(t)}};
}

}  // namespace psalm::serve
