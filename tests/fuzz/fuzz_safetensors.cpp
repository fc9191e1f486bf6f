// fuzz_safetensors — libFuzzer target: arbitrary bytes parsed as a safetensors file through the
// in-memory entry point (SafetensorsFile::from_bytes) must either throw psalm::Error or give a
// file whose every tensor loads (as its own type and converted to float) without crashing.
// Not part of the CMake build; compile and run by hand (docs/io.md):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include
//     tests/fuzz/fuzz_safetensors.cpp -o /tmp/fuzz_safetensors
//   /tmp/fuzz_safetensors -max_total_time=60 tests/data/malformed/safetensors
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
