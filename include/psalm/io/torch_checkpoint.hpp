// psalm/io/torch_checkpoint.hpp — TorchCheckpoint: a torch.save file (PyTorch >= 1.6, e.g. the
// PSALM stage-1 mm_projector.bin): a zip of stored entries `<archive>/data.pkl` (a pickle whose
// tensors are torch._utils._rebuild_tensor_v2 over persistent-id storages), `<archive>/data/<key>`
// (each storage's raw little-endian bytes) and `<archive>/byteorder`. The pickle goes through the
// restricted reader with the PyTorch globals allowed; every storage is checked against its
// record's size (and CRC-32), every tensor against its storage (shared and strided views allowed).
// Host code. Depends on: core, tensor, io/{mapped_file,zip_archive,pickle_reader,pickle_tensors,
// pickle_checkpoint,record_checkpoint}. Test: tests/io/test_checkpoints.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/mapped_file.hpp"
#include "psalm/io/pickle_checkpoint.hpp"
#include "psalm/io/pickle_reader.hpp"
#include "psalm/io/pickle_tensors.hpp"
#include "psalm/io/record_checkpoint.hpp"
#include "psalm/io/zip_archive.hpp"

namespace psalm::io {

struct TorchCheckpointOptions {
  PickleLimits limits{};
  /// Check the CRC-32 of data.pkl and of every storage record used (one pass over the data).
  bool verify_crc = true;
};

class TorchCheckpoint : public RecordCheckpoint {
 public:
  /// Maps and reads `path`.
  static TorchCheckpoint open(const std::filesystem::path& path,
                              const TorchCheckpointOptions& options = {}) {
    auto mapped = std::make_shared<MappedFile>(path);
    const std::span<const std::byte> bytes = mapped->bytes();
    return build(bytes, std::move(mapped), path.string(), options);
  }
  /// Reads an in-memory torch.save file (moved in; tensors may view it).
  static TorchCheckpoint from_bytes(std::vector<std::byte> bytes, std::string source = "<memory>",
                                    const TorchCheckpointOptions& options = {}) {
    auto buffer = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    const std::span<const std::byte> view(*buffer);
    return build(view, std::move(buffer), std::move(source), options);
  }

  /// The zip's top folder (torch.save names it after the file: "mm_projector" for
  /// mm_projector.bin, "archive" for buffers).
  const std::string& archive_name() const { return archive_; }

 private:
  static TorchCheckpoint build(std::span<const std::byte> bytes, std::shared_ptr<void> input,
                               std::string source, const TorchCheckpointOptions& options) {
    if (is_legacy_torch_file(bytes)) throw Error(legacy_torch_message(source));
    TorchCheckpoint out;
    out.source_ = source;
    out.format_ = "torch-zip";
    const ZipArchive zip = ZipArchive::parse(bytes, source);
    PSALM_CHECK(!zip.entries().empty(), source, ": the zip archive is empty");
    // As torch's reader: the archive name is the first entry's top folder.
    const std::string& first = zip.entries().front().name;
    const auto slash = first.find('/');
    PSALM_CHECK(slash != std::string::npos && slash > 0, source, ": zip entry \"", first,
                "\" is not inside a folder; not a torch.save checkpoint");
    out.archive_ = first.substr(0, slash);
    const std::string prefix = out.archive_ + "/";
    const ZipEntry* pkl = zip.find(prefix + "data.pkl");
    PSALM_CHECK(pkl != nullptr, source, ": no \"", prefix,
                "data.pkl\" in the zip archive; not a torch.save checkpoint");
    if (const ZipEntry* order = zip.find(prefix + "byteorder")) {
      const auto b = zip.data(*order);
      const std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
      PSALM_CHECK(text == "little", source, ": byte order \"", text.substr(0, 16),
                  "\" is not supported (only little-endian checkpoints)");
    }
    if (options.verify_crc) zip.verify_crc(*pkl);
    const PickleDocument doc = parse_pickle(zip.data(*pkl), source + " (" + pkl->name + ")",
                                            {.torch = true, .limits = options.limits});

    // Storages by key: the record must exist and hold exactly numel elements of the type; the
    // same key must always name the same type and size.
    struct Seen {
      SafetensorsDType dtype;
      std::int64_t numel;
      std::span<const std::byte> bytes;
    };
    std::map<std::string, Seen> storages;
    const StorageResolver resolve = [&](const PickleNode& s) -> std::span<const std::byte> {
      const SafetensorsDType dtype = s.array->dtype;
      if (const auto it = storages.find(s.text); it != storages.end()) {
        PSALM_CHECK(it->second.dtype == dtype && it->second.numel == s.integer, source,
                    ": storage \"", s.text, "\" is named as ", it->second.numel, " ",
                    name_of(it->second.dtype), " elements and as ", s.integer, " ", name_of(dtype),
                    " elements");
        return it->second.bytes;
      }
      const ZipEntry* record = zip.find(prefix + "data/" + s.text);
      PSALM_CHECK(record != nullptr, source, ": storage \"", s.text, "\" has no record \"", prefix,
                  "data/", s.text, "\" in the zip archive");
      std::uint64_t need = 0;
      PSALM_CHECK(
          !__builtin_mul_overflow(static_cast<std::uint64_t>(s.integer), size_of(dtype), &need) &&
              record->size == need,
          source, ": storage \"", s.text, "\" of ", s.integer, " ", name_of(dtype),
          " elements needs ", need, " bytes but its record holds ", record->size);
      if (options.verify_crc) zip.verify_crc(*record);
      const auto data = zip.data(*record);
      storages.emplace(s.text, Seen{dtype, s.integer, data});
      return data;
    };
    PickledTensors found = collect_pickled_tensors(doc, resolve);
    // Numpy arrays in data.pkl may view bytes the reader made: keep those alive too.
    out.owner_ = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<PickleBlobs>>>(
        std::move(input), doc.blobs());
    for (TensorRecord& r : found.records) out.add(std::move(r));
    out.metadata_ = std::move(found.metadata);
    out.skipped_ = std::move(found.skipped);
    return out;
  }

  std::string archive_;
};

}  // namespace psalm::io
