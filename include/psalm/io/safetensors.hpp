// psalm/io/safetensors.hpp — reading safetensors: one file (SafetensorsFile, memory-mapped,
// tensors as zero-copy views where dtype and alignment allow) or a sharded checkpoint through
// model.safetensors.index.json (SafetensorsCheckpoint). Writing: io/safetensors_writer.hpp.
// Depends on: core, tensor, io/{mapped_file,json_config,safetensors_header,safetensors_convert}.
// Test: tests/io/test_safetensors.cpp, tests/io/test_malformed.cpp. Docs: docs/io.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/core/shape.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/io/mapped_file.hpp"
#include "psalm/io/safetensors_convert.hpp"
#include "psalm/io/safetensors_header.hpp"
#include "psalm/io/safetensors_writer.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::io {

/// One validated safetensors file. Opening maps the file and checks the whole header (see
/// parse_safetensors_header); tensors are read on demand. Tensors returned by load() may view
/// the mapping, which stays alive as long as any of them does.
class SafetensorsFile {
 public:
  SafetensorsFile() = default;

  /// Maps and validates `path`.
  static SafetensorsFile open(const std::filesystem::path& path) {
    auto mapped = std::make_shared<MappedFile>(path);
    SafetensorsFile out;
    out.source_ = path.string();
    out.header_ = parse_safetensors_header(mapped->bytes(), out.source_);
    out.data_ = mapped->data();
    out.owner_ = std::move(mapped);
    return out;
  }
  /// Validates an in-memory file (the bytes are moved in; tensors may view them).
  static SafetensorsFile from_bytes(std::vector<std::byte> bytes, std::string source = "<memory>") {
    auto buffer = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    SafetensorsFile out;
    out.source_ = std::move(source);
    out.header_ = parse_safetensors_header(*buffer, out.source_);
    out.data_ = buffer->data();
    out.owner_ = std::move(buffer);
    return out;
  }

  /// The file name (or the label given to from_bytes), used in every error message.
  const std::string& source() const { return source_; }
  /// Tensor descriptions in file order (by data offset).
  const std::vector<SafetensorsEntry>& entries() const { return header_.entries; }
  /// Tensor names in file order.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(header_.entries.size());
    for (const auto& e : header_.entries) out.push_back(e.name);
    return out;
  }
  std::size_t size() const { return header_.entries.size(); }
  bool contains(std::string_view name) const { return header_.index.contains(std::string(name)); }
  /// The header's "__metadata__" (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  /// The description of tensor `name`; throws naming the file when absent.
  const SafetensorsEntry& entry(std::string_view name) const {
    const auto it = header_.index.find(std::string(name));
    PSALM_CHECK(it != header_.index.end(), source_, ": no tensor named \"", name, "\"");
    return header_.entries[it->second];
  }
  SafetensorsDType dtype(std::string_view name) const { return entry(name).dtype; }
  const std::vector<std::int64_t>& shape(std::string_view name) const { return entry(name).shape; }
  /// The raw little-endian bytes of tensor `name`.
  std::span<const std::byte> bytes(std::string_view name) const {
    const SafetensorsEntry& e = entry(name);
    return {data_ + header_.data_start + e.begin, static_cast<std::size_t>(e.byte_size())};
  }

  /// True when load<T>(name) returns a view of the file rather than a copy.
  template <Scalar T>
  bool is_zero_copy(std::string_view name) const {
    const SafetensorsEntry& e = entry(name);
    const auto address = reinterpret_cast<std::uintptr_t>(data_ + header_.data_start + e.begin);
    return safetensors_same_type<T>(e.dtype) && address % alignof(T) == 0;
  }

  /// Tensor `name` as Tensor<T>: a view of the file when is_zero_copy<T>(name), else converted
  /// by the rules of safetensors_convert.hpp (an error names the file and tensor).
  template <Scalar T>
  Tensor<T> load(std::string_view name) const {
    const SafetensorsEntry& e = entry(name);
    PSALM_CHECK(e.shape.size() <= static_cast<std::size_t>(kMaxRank), source_, ": tensor \"",
                e.name, "\" has rank ", e.shape.size(), ", more than psalm's maximum of ",
                kMaxRank);
    const Shape shape{std::span<const std::int64_t>(e.shape)};
    std::byte* at = data_ + header_.data_start + e.begin;
    if (e.dtype == SafetensorsDType::BOOL && safetensors_same_type<T>(e.dtype)) {
      for (std::uint64_t i = 0; i < e.byte_size(); ++i)
        PSALM_CHECK(static_cast<std::uint8_t>(at[i]) <= 1, source_, ": tensor \"", e.name,
                    "\": BOOL element ", i, " holds byte ", static_cast<int>(at[i]),
                    " (must be 0 or 1)");
    }
    if (is_zero_copy<T>(name))
      return Tensor<T>::from_external(owner_, reinterpret_cast<T*>(at), shape);
    Tensor<T> out(shape);
    if (safetensors_same_type<T>(e.dtype)) {
      if (e.byte_size() > 0) std::memcpy(out.data(), at, static_cast<std::size_t>(e.byte_size()));
    } else {
      convert_safetensors_elements<T>(e, at, out.data(), source_);
    }
    return out;
  }

 private:
  std::string source_;
  SafetensorsHeader header_;
  std::shared_ptr<void> owner_;  // the MappedFile or byte buffer that data_ points into
  std::byte* data_ = nullptr;
};

/// A checkpoint of one or more safetensors files. `open` accepts a .safetensors file, a
/// model.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor: shard file}} as
/// Hugging Face writes it), or a folder holding one of those (the index is preferred).
/// Shards are opened and validated up front; the weight map must match the shards exactly.
class SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    if (fs::is_directory(path)) {
      if (fs::exists(path / "model.safetensors.index.json"))
        return open_index(path / "model.safetensors.index.json");
      PSALM_CHECK(fs::exists(path / "model.safetensors"), path.string(),
                  ": folder holds neither model.safetensors.index.json nor model.safetensors");
      return open(path / "model.safetensors");
    }
    const std::string name = path.filename().string();
    if (name.size() >= 5 && name.ends_with(".json")) return open_index(path);
    SafetensorsCheckpoint out;
    out.shards_.push_back(SafetensorsFile::open(path));
    out.build_single();
    return out;
  }

  /// Reads an index file and the shards it names (relative to the index's folder).
  static SafetensorsCheckpoint open_index(const std::filesystem::path& index_path) {
    const std::string src = index_path.string();
    const nlohmann::json index = read_json_file(index_path);
    PSALM_CHECK(index.is_object(), src, ": index must be a JSON object, got ",
                detail::json_type_name(index));
    SafetensorsCheckpoint out;
    if (const auto m = index.find("metadata"); m != index.end() && !m->is_null()) {
      PSALM_CHECK(m->is_object(), src, ": \"metadata\" must be an object, got ",
                  detail::json_type_name(*m));
      out.index_metadata_ = *m;
    }
    const auto wm = index.find("weight_map");
    PSALM_CHECK(wm != index.end(), src, ": missing \"weight_map\"");
    PSALM_CHECK(wm->is_object(), src, ": \"weight_map\" must be an object, got ",
                detail::json_type_name(*wm));
    std::map<std::string, std::vector<std::string>> by_file;  // sorted by shard file name
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      PSALM_CHECK(it->is_string(), src, ": weight_map entry \"", it.key(),
                  "\" must name a shard file (a string), got ", detail::json_type_name(*it));
      const std::string file = it->get<std::string>();
      check_shard_name(src, it.key(), file);
      by_file[file].push_back(it.key());
    }
    const std::filesystem::path dir = index_path.parent_path();
    for (const auto& [file, names] : by_file) {
      const std::filesystem::path shard_path = dir / file;
      // The non-throwing lookup: a shard name from the file may be no valid path here (a
      // component longer than NAME_MAX), which must be an error, not an exception escaping.
      std::error_code lookup;
      const bool present = std::filesystem::exists(shard_path, lookup);
      PSALM_CHECK(!lookup && present, src, ": shard \"", file, "\" (holding \"", names.front(),
                  "\") ", lookup ? "cannot be looked up: " + lookup.message() : "does not exist");
      SafetensorsFile shard = SafetensorsFile::open(shard_path);
      const std::set<std::string> listed(names.begin(), names.end());
      for (const std::string& name : names)
        PSALM_CHECK(shard.contains(name), src, ": weight_map puts tensor \"", name, "\" in \"",
                    file, "\", which does not hold it");
      for (const SafetensorsEntry& e : shard.entries())
        PSALM_CHECK(listed.contains(e.name), src, ": shard \"", file, "\" holds tensor \"", e.name,
                    "\", which weight_map does not list there");
      out.shards_.push_back(std::move(shard));
    }
    out.build_single();
    return out;
  }

  /// Tensor names in checkpoint order: shards by file name, each in file order.
  const std::vector<std::string>& names() const { return names_; }
  std::size_t size() const { return names_.size(); }
  bool contains(std::string_view name) const { return where_.contains(std::string(name)); }
  /// The shard holding `name`; throws naming the checkpoint when absent.
  const SafetensorsFile& shard_of(std::string_view name) const {
    const auto it = where_.find(std::string(name));
    PSALM_CHECK(it != where_.end(), description(), ": no tensor named \"", name, "\"");
    return shards_[it->second];
  }
  const SafetensorsEntry& entry(std::string_view name) const { return shard_of(name).entry(name); }
  SafetensorsDType dtype(std::string_view name) const { return entry(name).dtype; }
  const std::vector<std::int64_t>& shape(std::string_view name) const { return entry(name).shape; }
  template <Scalar T>
  Tensor<T> load(std::string_view name) const {
    return shard_of(name).template load<T>(name);
  }
  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  /// The index's "metadata" object (empty for a single file).
  const nlohmann::json& index_metadata() const { return index_metadata_; }
  /// The first shard's "__metadata__" (all of a single file's).
  const std::map<std::string, std::string>& metadata() const {
    static const std::map<std::string, std::string> none;
    return shards_.empty() ? none : shards_.front().metadata();
  }

 private:
  static void check_shard_name(const std::string& src, const std::string& tensor,
                               const std::string& file) {
    const std::filesystem::path p(file);
    bool ok = !file.empty() && p.is_relative() && file.find('\0') == std::string::npos;
    for (const auto& part : p) ok = ok && part != ".." && part != ".";
    PSALM_CHECK(ok, src, ": weight_map entry \"", tensor, "\" names shard \"", file,
                "\", which is not a plain relative path inside the checkpoint folder");
  }
  std::string description() const {
    return shards_.empty() ? std::string("<empty checkpoint>") : shards_.front().source();
  }
  void build_single() {
    for (std::size_t s = 0; s < shards_.size(); ++s) {
      for (const SafetensorsEntry& e : shards_[s].entries()) {
        PSALM_CHECK(where_.emplace(e.name, s).second, shards_[s].source(), ": tensor \"", e.name,
                    "\" also appears in ", shards_[where_.at(e.name)].source());
        names_.push_back(e.name);
      }
    }
  }

  std::vector<SafetensorsFile> shards_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::size_t> where_;
  nlohmann::json index_metadata_ = nlohmann::json::object();
};

}  // namespace psalm::io
