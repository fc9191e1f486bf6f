// fuzz_coco_panoptic — libFuzzer target: arbitrary bytes as a COCO panoptic file must either
// throw psalm::Error or give records that satisfy the reader's promises (segment ids in
// 1 .. 2^24 - 1 and unique per annotation, categories and images known).
// Built and run by scripts/fuzz.sh (seeds: tests/fixtures/malformed/datasets,
// tests/fixtures/data_readers/tiny).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

#include "psalm/data/coco_panoptic.hpp"
#include "psalm/io/json_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json root = psalm::io::parse_json_strict(text, "fuzz.json");
    const psalm::data::CocoPanoptic pan = psalm::data::parse_coco_panoptic(root, "fuzz.json");
    for (const auto& a : pan.annotations) {
      if (pan.image_index(a.image_id) < 0) __builtin_trap();
      std::set<std::int64_t> ids;
      for (const auto& s : a.segments) {
        if (s.id < 1 || s.id > psalm::data::kMaxPanopticSegmentId) __builtin_trap();
        if (!ids.insert(s.id).second) __builtin_trap();
        if (pan.category_index(s.category_id) < 0) __builtin_trap();
      }
    }
  } catch (const psalm::Error&) {
  }
  return 0;
}
