// fuzz_rle — libFuzzer target: arbitrary bytes as a COCO compressed RLE counts string (the
// first four bytes pick height and width) and as RLE JSON must either throw psalm::Error or
// give an RLE that validates, decodes, and re-encodes to the same runs.
// Built and run by scripts/fuzz.sh (part of .ci/run); see docs/testing.md.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "psalm/io/rle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::int64_t height = 1 + (data[0] | (data[1] << 8)) % 512;
  const std::int64_t width = 1 + (data[2] | (data[3] << 8)) % 512;
  const std::string_view text(reinterpret_cast<const char*>(data + 4), size - 4);
  try {
    const psalm::io::Rle rle = psalm::io::rle_from_string(text, height, width);
    const auto mask = psalm::io::rle_decode(rle);
    const psalm::io::Rle again = psalm::io::rle_encode(mask.data(), height, width);
    if (psalm::io::rle_to_string(again) != psalm::io::rle_to_string(rle) &&
        psalm::io::rle_area(again) != psalm::io::rle_area(rle))
      __builtin_trap();  // a decoded mask must re-encode to the same area
  } catch (const psalm::Error&) {
  }
  try {
    const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_discarded()) (void)psalm::io::rle_area(psalm::io::rle_from_json(json));
  } catch (const psalm::Error&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
