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

// clang 14 with libstdc++ 12 has an empty <source_location> (no __builtin_source_location),
// which psalm/core/error.hpp needs. For this hand-built fuzz target only, supply the minimal
// type from the builtins clang 14 does have (as tests/fuzz/fuzz_tokenizer.cpp does).
#if defined(__clang__) && __clang_major__ < 15 && defined(__GLIBCXX__)
#include <source_location>
namespace std {
struct source_location {
  static consteval source_location current(const char* file = __builtin_FILE(),
                                           unsigned line = __builtin_LINE()) noexcept {
    source_location loc;
    loc.file_ = file;
    loc.line_ = line;
    return loc;
  }
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr unsigned line() const noexcept { return line_; }
  const char* file_ = "";
  unsigned line_ = 0;
};
}  // namespace std
#endif

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
