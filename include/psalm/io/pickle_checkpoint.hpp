// psalm/io/pickle_checkpoint.hpp — PickleCheckpoint: a checkpoint that is one Python pickle of a
// dict of numpy arrays, as Mask2Former / detectron2 publish them (`model_final_*.pkl`:
// {"model": {name: ndarray}, "__author__": ...}, spec §7.3), read with the restricted reader
// (io/pickle_reader.hpp). Arrays of the file's own bytes are zero-copy where aligned.
// Host code. Depends on: core, tensor, io/{mapped_file,pickle_reader,pickle_tensors,
// record_checkpoint}. Test: tests/io/test_checkpoints.cpp, tests/io/test_malformed_checkpoints.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/mapped_file.hpp"
#include "psalm/io/pickle_reader.hpp"
#include "psalm/io/pickle_tensors.hpp"
#include "psalm/io/record_checkpoint.hpp"

namespace psalm::io {

/// True when `bytes` start like torch.save's pre-1.6 format (a pickled magic number followed by
/// more pickles and raw storages), which psalm does not read.
inline bool is_legacy_torch_file(std::span<const std::byte> bytes) {
  static constexpr unsigned char kMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                             0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  return bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0;
}

/// The message for a legacy torch.save file.
inline std::string legacy_torch_message(const std::string& source) {
  return source +
         ": this is torch.save's legacy format (PyTorch before 1.6, or "
         "_use_new_zipfile_serialization=False), which psalm does not read; re-save it with a "
         "current PyTorch (torch.save(torch.load(f), f2)) or convert it to safetensors";
}

class PickleCheckpoint : public RecordCheckpoint {
 public:
  /// Maps and reads `path`.
  static PickleCheckpoint open(const std::filesystem::path& path, const PickleLimits& limits = {}) {
    auto mapped = std::make_shared<MappedFile>(path);
    const std::span<const std::byte> bytes = mapped->bytes();
    return build(bytes, std::move(mapped), path.string(), limits);
  }
  /// Reads an in-memory pickle (moved in; arrays may view it).
  static PickleCheckpoint from_bytes(std::vector<std::byte> bytes, std::string source = "<memory>",
                                     const PickleLimits& limits = {}) {
    auto buffer = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    const std::span<const std::byte> view(*buffer);
    return build(view, std::move(buffer), std::move(source), limits);
  }

  /// The pickle protocol (2 to 5).
  int protocol() const { return protocol_; }

 private:
  static PickleCheckpoint build(std::span<const std::byte> bytes, std::shared_ptr<void> input,
                                std::string source, const PickleLimits& limits) {
    if (is_legacy_torch_file(bytes)) throw Error(legacy_torch_message(source));
    PickleCheckpoint out;
    out.source_ = source;
    out.format_ = "mask2former-pickle";
    const PickleDocument doc =
        parse_pickle(bytes, std::move(source), {.torch = false, .limits = limits});
    out.protocol_ = doc.protocol();
    PickledTensors found = collect_pickled_tensors(doc);
    // The records view the input and the bytes the reader made: keep both alive.
    out.owner_ = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<PickleBlobs>>>(
        std::move(input), doc.blobs());
    for (TensorRecord& r : found.records) out.add(std::move(r));
    out.metadata_ = std::move(found.metadata);
    out.skipped_ = std::move(found.skipped);
    return out;
  }

  int protocol_ = 0;
};

}  // namespace psalm::io
