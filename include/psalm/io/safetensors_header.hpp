// psalm/io/safetensors_header.hpp — the safetensors element types and the validated header of
// one file: 8-byte little-endian length, JSON header, data area. Every rule of the reference
// reader (huggingface/safetensors, safetensors/src/tensor.rs) is checked, each failure a
// psalm::Error naming the file and tensor. Depends on: core, io/json_config.
// Test: tests/io/test_safetensors.cpp, tests/io/test_malformed.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"

namespace psalm::io {

/// Element types of the safetensors format. The enumerator order is the reference's (by
/// alignment), which its writer, and ours, uses to order tensors in the data area.
enum class SafetensorsDType : std::uint8_t {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  F8_E8M0,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  C64,
  F64,
  I64,
  U64
};

namespace detail {
struct StDTypeInfo {
  SafetensorsDType dtype;
  std::string_view name;
  std::size_t size;
};
inline constexpr std::array<StDTypeInfo, 17> kStDTypes{{
    {SafetensorsDType::BOOL, "BOOL", 1},
    {SafetensorsDType::U8, "U8", 1},
    {SafetensorsDType::I8, "I8", 1},
    {SafetensorsDType::F8_E5M2, "F8_E5M2", 1},
    {SafetensorsDType::F8_E4M3, "F8_E4M3", 1},
    {SafetensorsDType::F8_E8M0, "F8_E8M0", 1},
    {SafetensorsDType::I16, "I16", 2},
    {SafetensorsDType::U16, "U16", 2},
    {SafetensorsDType::F16, "F16", 2},
    {SafetensorsDType::BF16, "BF16", 2},
    {SafetensorsDType::I32, "I32", 4},
    {SafetensorsDType::U32, "U32", 4},
    {SafetensorsDType::F32, "F32", 4},
    {SafetensorsDType::C64, "C64", 8},
    {SafetensorsDType::F64, "F64", 8},
    {SafetensorsDType::I64, "I64", 8},
    {SafetensorsDType::U64, "U64", 8},
}};
}  // namespace detail

/// "F32", "BF16", ... as written in headers.
constexpr std::string_view name_of(SafetensorsDType t) {
  return detail::kStDTypes[static_cast<std::size_t>(t)].name;
}
/// Bytes per element.
constexpr std::size_t size_of(SafetensorsDType t) {
  return detail::kStDTypes[static_cast<std::size_t>(t)].size;
}
/// The dtype named `name`, or nullopt for a name the format does not define.
inline std::optional<SafetensorsDType> safetensors_dtype_from_name(std::string_view name) {
  for (const auto& d : detail::kStDTypes)
    if (d.name == name) return d.dtype;
  return std::nullopt;
}

/// One tensor as the header describes it. `begin`/`end` are byte offsets in the data area.
struct SafetensorsEntry {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t e : shape) n *= e;  // validated not to overflow when parsed
    return n;
  }
  std::uint64_t byte_size() const { return end - begin; }
};

/// The parsed and validated header of one safetensors file.
struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;               // in file order (by data offset)
  std::map<std::string, std::string> metadata;         // "__metadata__"
  std::unordered_map<std::string, std::size_t> index;  // name -> position in entries
  std::uint64_t header_size = 0;                       // N: the JSON header's length in bytes
  std::uint64_t data_start = 0;                        // 8 + N
};

/// The reference's bound on the header length (100 MB), also ours.
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

namespace detail {

inline std::uint64_t st_u64(const nlohmann::json& v, std::string_view source,
                            const std::string& name, std::string_view field, std::size_t i) {
  PSALM_CHECK(v.is_number_integer(), source, ": tensor \"", name, "\": ", field, "[", i,
              "] must be a non-negative integer, got ", json_type_name(v));
  PSALM_CHECK(v.is_number_unsigned() || v.get<std::int64_t>() >= 0, source, ": tensor \"", name,
              "\": ", field, "[", i, "] is negative (", v.get<std::int64_t>(), ")");
  return v.get<std::uint64_t>();
}

inline SafetensorsEntry st_entry(const std::string& name, const nlohmann::json& e,
                                 std::string_view source) {
  PSALM_CHECK(e.is_object(), source, ": tensor \"", name, "\": entry must be an object, got ",
              json_type_name(e));
  SafetensorsEntry out;
  out.name = name;
  const auto dt = e.find("dtype");
  PSALM_CHECK(dt != e.end(), source, ": tensor \"", name, "\": missing \"dtype\"");
  PSALM_CHECK(dt->is_string(), source, ": tensor \"", name, "\": dtype must be a string, got ",
              json_type_name(*dt));
  const auto parsed = safetensors_dtype_from_name(dt->get_ref<const std::string&>());
  PSALM_CHECK(parsed.has_value(), source, ": tensor \"", name, "\": unknown dtype \"",
              dt->get_ref<const std::string&>(), "\"");
  out.dtype = *parsed;

  const auto sh = e.find("shape");
  PSALM_CHECK(sh != e.end(), source, ": tensor \"", name, "\": missing \"shape\"");
  PSALM_CHECK(sh->is_array(), source, ": tensor \"", name, "\": shape must be an array, got ",
              json_type_name(*sh));
  std::uint64_t numel = 1;
  for (std::size_t i = 0; i < sh->size(); ++i) {
    const std::uint64_t extent = st_u64((*sh)[i], source, name, "shape", i);
    PSALM_CHECK(extent <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) &&
                    !__builtin_mul_overflow(numel, extent, &numel),
                source, ": tensor \"", name, "\": element count of the shape overflows");
    out.shape.push_back(static_cast<std::int64_t>(extent));
  }
  std::uint64_t bytes = 0;
  PSALM_CHECK(numel <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) &&
                  !__builtin_mul_overflow(numel, size_of(out.dtype), &bytes),
              source, ": tensor \"", name, "\": byte size of the shape overflows");

  const auto off = e.find("data_offsets");
  PSALM_CHECK(off != e.end(), source, ": tensor \"", name, "\": missing \"data_offsets\"");
  PSALM_CHECK(off->is_array() && off->size() == 2, source, ": tensor \"", name,
              "\": data_offsets must be an array [begin, end]");
  out.begin = st_u64((*off)[0], source, name, "data_offsets", 0);
  out.end = st_u64((*off)[1], source, name, "data_offsets", 1);
  PSALM_CHECK(out.begin <= out.end, source, ": tensor \"", name, "\": data_offsets begin ",
              out.begin, " > end ", out.end);
  PSALM_CHECK(out.end - out.begin == bytes, source, ": tensor \"", name, "\": data_offsets [",
              out.begin, ", ", out.end, "] hold ", out.end - out.begin, " bytes but dtype ",
              name_of(out.dtype), " and shape of ", numel, " elements need ", bytes);
  return out;
}

}  // namespace detail

/// Validates `bytes` as a whole safetensors file and returns its header. `source` (the file
/// name) starts every error message. Rules: at least 8 bytes; header length <= 100 MB and
/// inside the file; header valid UTF-8 JSON without duplicate keys; a top-level object whose
/// "__metadata__" (optional) maps strings to strings and whose other entries are objects with
/// a known "dtype", a "shape" of non-negative integers and "data_offsets" [begin, end] with
/// begin <= end and end - begin == elements x dtype size (overflow-checked); sorted by offset
/// the tensors tile the data area exactly: no overlap, no gap, no trailing bytes.
inline SafetensorsHeader parse_safetensors_header(std::span<const std::byte> bytes,
                                                  std::string_view source) {
  PSALM_CHECK(bytes.size() >= 8, source, ": file is too short (", bytes.size(),
              " bytes) to hold the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(bytes[i]);
  PSALM_CHECK(n <= kMaxSafetensorsHeader, source, ": header length ", n, " exceeds the limit of ",
              kMaxSafetensorsHeader, " bytes");
  PSALM_CHECK(n <= bytes.size() - 8, source, ": header length ", n, " runs past the end of the ",
              bytes.size(), "-byte file");
  SafetensorsHeader out;
  out.header_size = n;
  out.data_start = 8 + n;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8,
                              static_cast<std::size_t>(n));
  const nlohmann::json json = parse_json_strict(text, std::string(source) + " (header)");
  PSALM_CHECK(json.is_object(), source, ": header must be a JSON object, got ",
              detail::json_type_name(json));

  const std::uint64_t data_size = bytes.size() - out.data_start;
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_null()) continue;
      PSALM_CHECK(it->is_object(), source, ": __metadata__ must be an object of strings, got ",
                  detail::json_type_name(*it));
      for (auto m = it->begin(); m != it->end(); ++m) {
        PSALM_CHECK(m->is_string(), source, ": __metadata__ value of \"", m.key(),
                    "\" must be a string, got ", detail::json_type_name(*m));
        out.metadata.emplace(m.key(), m->get<std::string>());
      }
      continue;
    }
    SafetensorsEntry e = detail::st_entry(it.key(), *it, source);
    PSALM_CHECK(e.end <= data_size, source, ": tensor \"", e.name, "\": data_offsets [", e.begin,
                ", ", e.end, "] lie outside the data area of ", data_size, " bytes");
    out.entries.push_back(std::move(e));
  }

  std::sort(out.entries.begin(), out.entries.end(), [](const auto& a, const auto& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  std::uint64_t cursor = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry& e : out.entries) {
    PSALM_CHECK(e.begin >= cursor, source, ": tensor \"", e.name, "\": bytes [", e.begin, ", ",
                e.end, ") overlap tensor \"", previous ? previous->name : "", "\"");
    PSALM_CHECK(e.begin == cursor, source, ": tensor \"", e.name, "\": gap of ", e.begin - cursor,
                " unused bytes before it in the data area");
    cursor = e.end;
    previous = &e;
  }
  PSALM_CHECK(cursor == data_size, source, ": ", data_size - cursor,
              " trailing bytes after the last tensor (the tensors must cover the data area)");
  for (std::size_t i = 0; i < out.entries.size(); ++i) out.index.emplace(out.entries[i].name, i);
  return out;
}

}  // namespace psalm::io
