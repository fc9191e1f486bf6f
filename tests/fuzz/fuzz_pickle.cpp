// fuzz_pickle — libFuzzer target: arbitrary bytes through the restricted pickle reader, as a
// Mask2Former checkpoint (PickleCheckpoint::from_bytes: every tensor loaded as float, int64 and
// raw bytes) and as a PyTorch data.pkl (parse_pickle with the torch globals, storages resolved to
// zero-filled buffers of their declared size, at most 64 KiB). Each must either succeed or throw
// psalm::Error; never crash, leak, hang or read outside the input.
// Built and run by scripts/fuzz.sh (part of .ci/run); see docs/testing.md.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "psalm/io/pickle_checkpoint.hpp"

namespace {

void load_all(const psalm::io::RecordCheckpoint& ck) {
  for (const psalm::io::TensorRecord& r : ck.records()) {
    // Invariant of a checked record: its last element lies inside its storage.
    if (r.numel() > 0 && r.storage.size() < psalm::io::size_of(r.dtype)) __builtin_trap();
    try {
      (void)ck.load<float>(r.name);
    } catch (const psalm::Error&) {
    }
    try {
      (void)ck.load<std::int64_t>(r.name);
    } catch (const psalm::Error&) {
    }
    if (r.byte_size() <= (1u << 20)) (void)ck.bytes(r.name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(size);
  if (size > 0) std::memcpy(bytes.data(), data, size);
  try {
    load_all(psalm::io::PickleCheckpoint::from_bytes(bytes, "fuzz.pkl"));
  } catch (const psalm::Error&) {
  }
  try {
    const psalm::io::PickleDocument doc =
        psalm::io::parse_pickle(bytes, "fuzz data.pkl", {.torch = true});
    std::map<std::string, std::vector<std::byte>> storages;
    const psalm::io::StorageResolver resolve = [&](const psalm::io::PickleNode& s) {
      std::uint64_t need = 0;
      if (__builtin_mul_overflow(static_cast<std::uint64_t>(s.integer),
                                 psalm::io::size_of(s.array->dtype), &need) ||
          need > (1u << 16))
        psalm::fail("fuzz: storage too large");
      auto& buffer = storages[s.text];
      if (buffer.size() < need) buffer.resize(need);
      return std::span<const std::byte>(buffer.data(), need);
    };
    const psalm::io::PickledTensors found = psalm::io::collect_pickled_tensors(doc, resolve);
    for (const psalm::io::TensorRecord& r : found.records) {
      try {
        psalm::io::check_tensor_record(r, "fuzz");
        if (r.byte_size() <= (1u << 16)) {
          std::vector<std::byte> out(r.byte_size());
          psalm::io::copy_tensor_record(r, out);
        }
      } catch (const psalm::Error&) {
      }
    }
  } catch (const psalm::Error&) {
  }
  return 0;
}
