// fuzz_safetensors — libFuzzer target: arbitrary bytes parsed as a safetensors file through the
// in-memory entry point (SafetensorsFile::from_bytes) must either throw psalm::Error or give a
// file whose every tensor loads (as its own type and converted to float) without crashing.
// Built and run by scripts/fuzz.sh (part of .ci/run); see docs/testing.md.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "psalm/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(size);
  if (size > 0) std::memcpy(bytes.data(), data, size);
  try {
    const psalm::io::SafetensorsFile f =
        psalm::io::SafetensorsFile::from_bytes(std::move(bytes), "fuzz");
    for (const psalm::io::SafetensorsEntry& e : f.entries()) {
      // Invariant of a validated header: every tensor's bytes lie inside the input.
      if (e.byte_size() > size) __builtin_trap();
      try {
        (void)f.load<float>(e.name);
      } catch (const psalm::Error&) {
      }
      try {
        (void)f.load<std::int64_t>(e.name);
      } catch (const psalm::Error&) {
      }
      try {
        (void)f.load<std::uint8_t>(e.name);
      } catch (const psalm::Error&) {
      }
    }
  } catch (const psalm::Error&) {
    // Rejected input: the expected outcome for almost all fuzz inputs.
  }
  return 0;
}
