// fuzz_coco_interactive — libFuzzer target: arbitrary bytes as a COCO-Interactive file (PSALM's
// converted list or the COCO dict form) must either throw psalm::Error or give records whose
// annotations rasterise and whose prompt RLEs decode (images up to 2^16 pixels).
// Built and run by scripts/fuzz.sh (seeds: tests/fixtures/malformed/datasets,
// tests/fixtures/data_readers/tiny).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "psalm/data/coco_interactive.hpp"
#include "psalm/io/json_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json root = psalm::io::parse_json_strict(text, "fuzz.json");
    for (const auto& r : psalm::data::parse_coco_interactive(root, "fuzz.json")) {
      const bool small = r.height * r.width <= (1 << 16);
      for (const auto& a : r.anns) {
        try {
          const auto rle = psalm::data::annotation_rle(a, r.height, r.width);
          if (rle && small) (void)psalm::io::rle_decode(*rle);
        } catch (const psalm::Error&) {
        }
        for (const auto& p : a.visual_prompts)
          if (p && p->height * p->width <= (1 << 16)) (void)psalm::io::rle_decode(*p);
      }
    }
  } catch (const psalm::Error&) {
  }
  return 0;
}
