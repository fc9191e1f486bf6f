// fuzz_coco_instances — libFuzzer target: arbitrary bytes as a COCO instances file (and as the
// COCO dict form of COCO-Interactive) must either throw psalm::Error or give records whose every
// annotation rasterises (images up to 2^16 pixels are decoded) to a mask of its image's size.
// Built and run by scripts/fuzz.sh (seeds: tests/fixtures/malformed/datasets,
// tests/fixtures/data_readers/tiny).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "psalm/data/coco_instances.hpp"
#include "psalm/io/json_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json root = psalm::io::parse_json_strict(text, "fuzz.json");
    const psalm::data::CocoInstances coco = psalm::data::parse_coco_instances(root, "fuzz.json");
    for (std::size_t i = 0; i < coco.images.size(); ++i) {
      const auto& im = coco.images[i];
      for (std::size_t k : coco.image_annotations[i]) {
        try {
          const auto rle = psalm::data::annotation_rle(coco.annotations[k], im.height, im.width);
          if (!rle) continue;
          if (rle->height != im.height || rle->width != im.width) __builtin_trap();
          if (psalm::io::rle_area(*rle) > im.height * im.width) __builtin_trap();
          if (im.height * im.width <= (1 << 16)) (void)psalm::io::rle_decode(*rle);
        } catch (const psalm::Error&) {
        }
      }
    }
  } catch (const psalm::Error&) {
  }
  return 0;
}
