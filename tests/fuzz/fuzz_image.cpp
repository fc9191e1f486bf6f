// fuzz_image — libFuzzer target: arbitrary bytes through every image decoder of
// psalm/io/image.hpp (stb-based decode_image in all channel modes, the indexed / label PNG
// reader, binary masks) with a small pixel limit. Each must return a tensor of the declared
// size or throw psalm::Error; it must never crash, leak or read out of bounds.
// Built and run by scripts/fuzz.sh (part of .ci/run); see docs/testing.md.
#include <cstddef>
#include <cstdint>
#include <span>

#include "psalm/io/image.hpp"
#include "psalm/tensor.hpp"

namespace {

constexpr std::int64_t kFuzzMaxPixels = std::int64_t{1} << 20;

template <class F>
void expect_valid_or_error(const F& decode) {
  try {
    decode();
  } catch (const psalm::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  for (int channels : {0, 1, 3, 4}) {
    expect_valid_or_error([&] {
      const auto img =
          psalm::io::decode_image(bytes, {.channels = channels, .max_pixels = kFuzzMaxPixels});
      // Invariant: the tensor is (H, W, C) within the limit, C as requested.
      if (img.rank() != 3 || img.size(0) * img.size(1) > kFuzzMaxPixels) __builtin_trap();
      if (channels != 0 && img.size(2) != channels) __builtin_trap();
      volatile std::uint8_t sink = img.data()[img.numel() - 1];  // touch the last pixel
      (void)sink;
    });
  }
  expect_valid_or_error([&] {
    const auto img = psalm::io::decode_indexed_png(bytes, kFuzzMaxPixels);
    const auto v = img.indices.to_vector();
    for (std::uint8_t i : v)
      if (i >= img.palette.size()) __builtin_trap();
  });
  expect_valid_or_error([&] {
    const auto labels = psalm::io::decode_label_png(bytes, kFuzzMaxPixels);
    if (labels.rank() != 2 || labels.numel() > kFuzzMaxPixels) __builtin_trap();
  });
  expect_valid_or_error([&] {
    const auto mask = psalm::io::decode_binary_mask(bytes, kFuzzMaxPixels);
    for (std::uint8_t m : mask.to_vector())
      if (m > 1) __builtin_trap();
  });
  return 0;
}
