// fuzz_torch_zip — libFuzzer target: arbitrary bytes as a torch.save zip checkpoint through
// TorchCheckpoint::from_bytes, once without the CRC-32 pass (so mutated entries reach the zip
// directory, pickle and storage checks) and once with it; every tensor is loaded as float and
// int64 and gathered to bytes (up to 1 MiB each). Each must either succeed or throw psalm::Error;
// never crash, leak or read outside the input. Built and run by scripts/fuzz.sh (part of .ci/run);
// see docs/testing.md.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "psalm/io/torch_checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(size);
  if (size > 0) std::memcpy(bytes.data(), data, size);
  for (bool crc : {false, true}) {
    try {
      const psalm::io::TorchCheckpoint ck =
          psalm::io::TorchCheckpoint::from_bytes(bytes, "fuzz.pt", {.verify_crc = crc});
      for (const psalm::io::TensorRecord& r : ck.records()) {
        // Invariant of a checked record: its storage lies inside the input.
        if (!r.storage.empty() && r.storage.size() > size) __builtin_trap();
        if (r.byte_size() > (1u << 20)) continue;  // a stride-0 expansion: valid, but large
        try {
          (void)ck.load<float>(r.name);
        } catch (const psalm::Error&) {
        }
        try {
          (void)ck.load<std::int64_t>(r.name);
        } catch (const psalm::Error&) {
        }
        (void)ck.bytes(r.name);
      }
    } catch (const psalm::Error&) {
    }
  }
  return 0;
}
