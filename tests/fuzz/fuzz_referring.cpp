// fuzz_referring — libFuzzer target: arbitrary bytes as a converted RefCOCO / gRefCOCO file and
// as gRefCOCO's grefs(unc).json must either throw psalm::Error or give records whose referred
// annotations rasterise (images up to 2^16 pixels are decoded) at the entry's image size.
// Built and run by scripts/fuzz.sh (seeds: tests/fixtures/malformed/datasets,
// tests/fixtures/data_readers/tiny).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "psalm/data/refer_original.hpp"
#include "psalm/data/referring.hpp"
#include "psalm/io/json_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json root;
  try {
    root = psalm::io::parse_json_strict(text, "fuzz.json");
  } catch (const psalm::Error&) {
    return 0;
  }
  for (auto kind : {psalm::data::ReferringKind::refcoco, psalm::data::ReferringKind::grefcoco}) {
    try {
      for (const auto& r : psalm::data::parse_referring_json(root, "fuzz.json", kind)) {
        if (r.sentences.empty()) __builtin_trap();
        if (kind == psalm::data::ReferringKind::refcoco && r.anns.size() != 1) __builtin_trap();
        for (const auto& a : r.anns) {
          try {
            const auto rle = psalm::data::annotation_rle(a, r.height, r.width);
            if (rle && r.height * r.width <= (1 << 16)) (void)psalm::io::rle_decode(*rle);
          } catch (const psalm::Error&) {
          }
        }
      }
    } catch (const psalm::Error&) {
    }
  }
  try {
    for (const auto& ref : psalm::data::parse_grefs_json(root, "fuzz.json"))
      if (ref.ann_ids.empty() || ref.sentences.empty()) __builtin_trap();
  } catch (const psalm::Error&) {
  }
  return 0;
}
