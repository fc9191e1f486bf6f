// fuzz_safetensors_index — libFuzzer target: arbitrary bytes as a model.safetensors.index.json
// next to small valid shards (written once at start-up) opened through
// SafetensorsCheckpoint::open must either throw psalm::Error or give a checkpoint whose every
// tensor loads from a shard inside the checkpoint folder; never crash, leak or escape the folder.
// Built and run by scripts/fuzz.sh (part of .ci/run); see docs/testing.md.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "psalm/io/safetensors.hpp"

namespace {

namespace fs = std::filesystem;

// A safetensors file of F32 tensors of 2 elements each, named `names`, values 0, 1, 2, ...
void write_shard(const fs::path& path, std::initializer_list<const char*> names) {
  std::string header = "{";
  std::size_t offset = 0;
  for (const char* name : names) {
    if (header.size() > 1) header += ",";
    header += "\"" + std::string(name) + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + 8) + "]}";
    offset += 8;
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';
  std::string bytes(8, '\0');
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  bytes += header;
  for (std::size_t i = 0; i < offset / 4; ++i) {
    const float v = static_cast<float>(i);
    char raw[4];
    std::memcpy(raw, &v, 4);
    bytes.append(raw, 4);
  }
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// The checkpoint folder: two shards at the top, one in a sub-folder, a folder whose name looks
// like a shard, and a shard one level up (which an index must not be able to reach).
const fs::path& checkpoint_dir() {
  static const fs::path dir = [] {
    const fs::path root =
        fs::temp_directory_path() / ("psalm_fuzz_index_" + std::to_string(::getpid()));
    const fs::path ckpt = root / "ckpt";
    fs::create_directories(ckpt / "sub");
    fs::create_directories(ckpt / "folder.safetensors");
    write_shard(ckpt / "model-00001-of-00002.safetensors", {"a", "b"});
    write_shard(ckpt / "model-00002-of-00002.safetensors", {"c"});
    write_shard(ckpt / "sub" / "inner.safetensors", {"d"});
    write_shard(root / "outside.safetensors", {"e"});
    static const fs::path removed_at_exit = root;
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(removed_at_exit, ignored);
    });
    return ckpt;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const fs::path& dir = checkpoint_dir();
  const fs::path index = dir / "model.safetensors.index.json";
  std::ofstream(index, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  try {
    const auto ckpt = psalm::io::SafetensorsCheckpoint::open(dir);
    const std::string inside = fs::weakly_canonical(dir).string() + "/";
    for (const auto& shard : ckpt.shards()) {
      // Every shard opened must lie inside the checkpoint folder.
      if (!fs::weakly_canonical(shard.source()).string().starts_with(inside)) std::abort();
    }
    for (const std::string& name : ckpt.names()) {
      const auto t = ckpt.load<float>(name);
      if (t.numel() != 2) std::abort();
    }
    (void)ckpt.index_metadata().dump();
  } catch (const psalm::Error&) {
    // Rejected with a clear error: fine.
  }
  return 0;
}
