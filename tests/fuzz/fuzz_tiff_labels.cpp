// fuzz_tiff_labels — libFuzzer target: arbitrary bytes as a TIFF label map (PASCAL Context 459's
// format) must either throw psalm::Error or give an (H, W) map of at most kMaxTiffPixels whose
// values fit the declared bit depth.
// Built and run by scripts/fuzz.sh (seeds: tests/fixtures/data_readers/tiny/semantic/labels_tif).
#include <cstddef>
#include <cstdint>
#include <span>

#include "psalm/data/tiff_labels.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    const auto labels = psalm::data::decode_tiff_labels(std::span(data, size), "fuzz.tif");
    if (labels.rank() != 2 || labels.numel() > psalm::data::kMaxTiffPixels) __builtin_trap();
    const std::int32_t* v = labels.data();
    for (std::int64_t i = 0; i < labels.numel(); ++i)
      if (v[i] < 0 || v[i] > 65535) __builtin_trap();
  } catch (const psalm::Error&) {
  }
  return 0;
}
