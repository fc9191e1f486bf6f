// psalm/io/safetensors_writer.hpp — SafetensorsWriter: collects named tensors and writes one
// safetensors file, or a sharded set with model.safetensors.index.json, atomically. The byte
// layout is the reference writer's (huggingface/safetensors prepare(): tensors ordered by
// descending dtype rank then name, compact JSON header padded with spaces to 8 bytes), so the
// same tensors give the same bytes. Depends on: core, tensor, io/{atomic_file,safetensors_*}.
// Test: tests/io/test_safetensors.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/atomic_file.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/io/safetensors_convert.hpp"
#include "psalm/io/safetensors_header.hpp"
#include "psalm/tensor/assign.hpp"  // contiguous(), clone(); a program picks the backend (psalm/tensor.hpp)

namespace psalm::io {

class SafetensorsWriter {
 public:
  /// Fills the tensor's bytes (little-endian, row-major) when the file is written.
  using Producer = std::function<void(std::span<std::byte>)>;

  /// Adds a CPU tensor (made contiguous; the writer shares its storage until written).
  template <Scalar T>
  void add(std::string name, const Tensor<T>& tensor) {
    PSALM_CHECK(tensor.defined(), "safetensors writer: tensor \"", name, "\" is undefined");
    const Tensor<T> c = tensor.contiguous();
    std::vector<std::int64_t> shape(c.shape().dims().v.begin(),
                                    c.shape().dims().v.begin() + c.rank());
    Item item = make_item(std::move(name), safetensors_dtype_of<T>(), std::move(shape));
    item.keep = std::make_shared<Tensor<T>>(c);
    item.direct = reinterpret_cast<const std::byte*>(c.data());
    push(std::move(item));
  }
  /// Adds raw little-endian bytes of any dtype (copied); the size must match dtype and shape.
  void add_bytes(std::string name, SafetensorsDType dtype, std::vector<std::int64_t> shape,
                 std::vector<std::byte> bytes) {
    Item item = make_item(std::move(name), dtype, std::move(shape));
    PSALM_CHECK(bytes.size() == item.bytes, "safetensors writer: tensor \"", item.name,
                "\": ", bytes.size(), " bytes given, dtype and shape need ", item.bytes);
    auto owned = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    item.direct = owned->data();
    item.keep = std::move(owned);
    push(std::move(item));
  }
  /// Adds a tensor whose bytes `fill` produces during write (e.g. converted on the fly). If
  /// `fill` throws, the write is abandoned and no file is changed.
  void add_generated(std::string name, SafetensorsDType dtype, std::vector<std::int64_t> shape,
                     Producer fill) {
    Item item = make_item(std::move(name), dtype, std::move(shape));
    item.fill = std::move(fill);
    push(std::move(item));
  }
  /// Sets a "__metadata__" entry.
  void set_metadata(std::string key, std::string value) {
    metadata_[std::move(key)] = std::move(value);
  }

  std::size_t size() const { return items_.size(); }
  /// Bytes of tensor data (the data area of a single file).
  std::uint64_t data_bytes() const {
    std::uint64_t total = 0;
    for (const Item& i : items_) total += i.bytes;
    return total;
  }
  /// Names in the order they are written.
  std::vector<std::string> names_in_file_order() const {
    std::vector<std::string> out;
    for (const Item* i : ordered()) out.push_back(i->name);
    return out;
  }

  /// The whole file in memory.
  std::vector<std::byte> serialize() const {
    std::vector<std::byte> out;
    write_to(ordered(),
             [&out](std::span<const std::byte> b) { out.insert(out.end(), b.begin(), b.end()); });
    return out;
  }
  /// Writes one file atomically (an existing file is replaced only by a complete new one).
  void write(const std::filesystem::path& path) const {
    AtomicFile out(path);
    write_to(ordered(), [&out](std::span<const std::byte> b) { out.write(b); });
    out.commit();
  }
  /// Writes shards "<stem>-0000k-of-0000n.safetensors" of at most `max_shard_bytes` of data
  /// each (a larger tensor gets a shard of its own) and "<stem>.safetensors.index.json", each
  /// file atomically, the index last. Returns the shard file names.
  std::vector<std::string> write_sharded(const std::filesystem::path& folder,
                                         std::uint64_t max_shard_bytes,
                                         const std::string& stem = "model") const {
    PSALM_CHECK(max_shard_bytes > 0, "safetensors writer: max_shard_bytes must be positive");
    std::vector<std::vector<const Item*>> shards;
    std::uint64_t current = 0;
    for (const Item* i : ordered()) {
      if (shards.empty() || (current > 0 && current + i->bytes > max_shard_bytes)) {
        shards.emplace_back();
        current = 0;
      }
      shards.back().push_back(i);
      current += i->bytes;
    }
    if (shards.empty()) shards.emplace_back();
    std::filesystem::create_directories(folder);
    std::vector<std::string> files;
    nlohmann::json weight_map = nlohmann::json::object();
    for (std::size_t s = 0; s < shards.size(); ++s) {
      char name[64];
      std::snprintf(name, sizeof(name), "-%05zu-of-%05zu.safetensors", s + 1, shards.size());
      files.push_back(stem + name);
      AtomicFile out(folder / files.back());
      write_to(shards[s], [&out](std::span<const std::byte> b) { out.write(b); });
      out.commit();
      for (const Item* i : shards[s]) weight_map[i->name] = files.back();
    }
    nlohmann::json index = {{"metadata", {{"total_size", data_bytes()}}},
                            {"weight_map", std::move(weight_map)}};
    const std::string text = index.dump(2) + "\n";
    write_file_atomically(folder / (stem + ".safetensors.index.json"),
                          std::as_bytes(std::span(text.data(), text.size())));
    return files;
  }

 private:
  struct Item {
    std::string name;
    SafetensorsDType dtype;
    std::vector<std::int64_t> shape;
    std::uint64_t bytes = 0;
    std::shared_ptr<void> keep;         // owner of `direct`
    const std::byte* direct = nullptr;  // bytes already in memory, or
    Producer fill;                      // bytes produced at write time
  };

  static Item make_item(std::string name, SafetensorsDType dtype, std::vector<std::int64_t> shape) {
    Item item;
    std::int64_t numel = 1;
    for (std::int64_t e : shape) {
      PSALM_CHECK(e >= 0, "safetensors writer: tensor \"", name, "\" has negative extent ", e);
      numel = checked::mul(numel, e, "safetensors writer: element count");
    }
    item.bytes = static_cast<std::uint64_t>(checked::mul(
        numel, static_cast<std::int64_t>(size_of(dtype)), "safetensors writer: bytes"));
    item.name = std::move(name);
    item.dtype = dtype;
    item.shape = std::move(shape);
    return item;
  }
  void push(Item item) {
    PSALM_CHECK(item.name != "__metadata__", "safetensors writer: \"__metadata__\" is reserved");
    PSALM_CHECK(names_.insert(item.name).second, "safetensors writer: tensor \"", item.name,
                "\" added twice");
    items_.push_back(std::move(item));
  }
  std::vector<const Item*> ordered() const {
    std::vector<const Item*> out;
    for (const Item& i : items_) out.push_back(&i);
    std::sort(out.begin(), out.end(), [](const Item* a, const Item* b) {
      if (a->dtype != b->dtype) return a->dtype > b->dtype;
      return a->name < b->name;
    });
    return out;
  }
  static std::string quoted(const std::string& s) {
    try {
      return nlohmann::json(s).dump();
    } catch (const nlohmann::json::exception&) {
      fail("safetensors writer: name or metadata \"", s, "\" is not valid UTF-8");
    }
  }
  std::string header(const std::vector<const Item*>& items) const {
    std::string h = "{";
    if (!metadata_.empty()) {
      h += "\"__metadata__\":{";
      bool first = true;
      for (const auto& [k, v] : metadata_) {
        if (!first) h += ',';
        h += quoted(k);
        h += ':';
        h += quoted(v);
        first = false;
      }
      h += "}";
    }
    std::uint64_t offset = 0;
    for (const Item* i : items) {
      if (h.size() > 1) h += ',';
      h += quoted(i->name);
      h += ":{\"dtype\":\"";
      h += name_of(i->dtype);
      h += "\",\"shape\":[";
      for (std::size_t d = 0; d < i->shape.size(); ++d) {
        if (d) h += ',';
        h += std::to_string(i->shape[d]);
      }
      h += "],\"data_offsets\":[";
      h += std::to_string(offset);
      h += ',';
      h += std::to_string(offset + i->bytes);
      h += "]}";
      offset += i->bytes;
    }
    h += "}";
    h.append((8 - h.size() % 8) % 8, ' ');  // the data area starts 8-byte aligned
    return h;
  }
  template <class Sink>
  void write_to(const std::vector<const Item*>& items, Sink&& sink) const {
    const std::string h = header(items);
    std::byte length[8];
    for (int b = 0; b < 8; ++b)
      length[b] = static_cast<std::byte>((static_cast<std::uint64_t>(h.size()) >> (8 * b)) & 0xff);
    sink(std::span<const std::byte>(length, 8));
    sink(std::as_bytes(std::span(h.data(), h.size())));
    std::vector<std::byte> scratch;
    for (const Item* i : items) {
      if (i->direct != nullptr || i->bytes == 0) {
        sink(std::span<const std::byte>(i->direct, static_cast<std::size_t>(i->bytes)));
        continue;
      }
      scratch.assign(static_cast<std::size_t>(i->bytes), std::byte{0});
      i->fill(scratch);
      sink(std::span<const std::byte>(scratch));
    }
  }

  std::vector<Item> items_;
  std::set<std::string> names_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace psalm::io
