// psalm/io/checkpoint.hpp — open_checkpoint: any weight file psalm reads, recognised by its
// content rather than its name: safetensors (a file, an index JSON or a folder, sharded or not),
// a torch.save zip (.bin / .pt / .pth) or a Mask2Former / detectron2 pickle (.pkl), as one
// RecordCheckpoint (the nn::load_state_dict interface).
// Host code. Depends on: core, tensor, io/{safetensors,pickle_checkpoint,torch_checkpoint,
// record_checkpoint}. Test: tests/io/test_checkpoints.cpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/pickle_checkpoint.hpp"
#include "psalm/io/record_checkpoint.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/io/torch_checkpoint.hpp"

namespace psalm::io {

enum class CheckpointFormat { safetensors, torch_zip, pickle, legacy_torch, unknown };

/// The format `head` (the first bytes of a file, at least 16 when the file has them) starts
/// like.
inline CheckpointFormat sniff_checkpoint_format(std::span<const std::byte> head) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(head[i]); };
  if (head.size() >= 4 && byte(0) == 'P' && byte(1) == 'K' &&
      ((byte(2) == 3 && byte(3) == 4) || (byte(2) == 5 && byte(3) == 6)))
    return CheckpointFormat::torch_zip;
  if (is_legacy_torch_file(head)) return CheckpointFormat::legacy_torch;
  if (!head.empty() && byte(0) == 0x80) return CheckpointFormat::pickle;
  if (head.size() >= 9 && byte(8) == '{') return CheckpointFormat::safetensors;
  return CheckpointFormat::unknown;
}

namespace detail {

// A SafetensorsCheckpoint seen as records (contiguous, little-endian views of its shards).
class SafetensorsRecords : public RecordCheckpoint {
 public:
  static SafetensorsRecords open(const std::filesystem::path& path) {
    auto ck = std::make_shared<SafetensorsCheckpoint>(SafetensorsCheckpoint::open(path));
    SafetensorsRecords out;
    out.source_ = path.string();
    out.format_ = "safetensors";
    for (const std::string& name : ck->names()) {
      const SafetensorsEntry& e = ck->entry(name);
      TensorRecord r;
      r.name = name;
      r.dtype = e.dtype;
      r.shape = e.shape;
      r.strides.assign(e.shape.size(), 1);
      for (std::size_t d = e.shape.size(); d-- > 1;)
        r.strides[d - 1] = r.strides[d] * std::max<std::int64_t>(e.shape[d], 1);
      r.storage = ck->shard_of(name).bytes(name);
      out.add(std::move(r));
    }
    out.metadata_ = ck->metadata();
    out.owner_ = std::move(ck);
    return out;
  }
};

}  // namespace detail

/// Opens `path` in whichever format it is (see the file comment). An unknown or legacy
/// format is an error naming the file and what it looks like.
inline RecordCheckpoint open_checkpoint(const std::filesystem::path& path,
                                        const TorchCheckpointOptions& options = {}) {
  namespace fs = std::filesystem;
  const std::string name = path.filename().string();
  if (fs::is_directory(path) || (name.size() >= 5 && name.ends_with(".json")))
    return detail::SafetensorsRecords::open(path);
  std::ifstream in(path, std::ios::binary);
  PSALM_CHECK(in.good(), path.string(), ": cannot open for reading");
  char buf[16] = {};
  in.read(buf, sizeof(buf));
  const auto got = static_cast<std::size_t>(in.gcount());
  const std::span<const std::byte> head(reinterpret_cast<const std::byte*>(buf), got);
  switch (sniff_checkpoint_format(head)) {
    case CheckpointFormat::torch_zip:
      return TorchCheckpoint::open(path, options);
    case CheckpointFormat::pickle:
      return PickleCheckpoint::open(path, options.limits);
    case CheckpointFormat::safetensors:
      return detail::SafetensorsRecords::open(path);
    case CheckpointFormat::legacy_torch:
      throw Error(legacy_torch_message(path.string()));
    case CheckpointFormat::unknown:
      break;
  }
  std::string start;
  for (std::size_t i = 0; i < std::min<std::size_t>(got, 8); ++i) {
    char hex[4];
    std::snprintf(hex, sizeof(hex), "%02x", static_cast<unsigned char>(buf[i]));
    start += (i ? " " : "") + std::string(hex);
  }
  fail(path.string(),
       ": not a safetensors file, torch.save zip or Mask2Former pickle (it starts with ",
       got ? start : std::string("nothing: the file is empty"), ")");
}

}  // namespace psalm::io
