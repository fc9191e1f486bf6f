// psalm/data/annotation_json.hpp — reading dataset annotation files (COCO, RefCOCO, ...): the
// bounded strict JSON read, and JsonEntry, typed access to one entry's fields whose errors name
// the file, the entry and the field ("instances.json: annotations[3] (id 17): field
// \"image_id\" must be an integer, got a string"). Host code.
// Depends on: core/error, io/json_config. Test: tests/data/test_annotation_json.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"

namespace psalm::data {

/// Largest annotation file read (COCO instances_train2017.json is 448 MB): io's limit.
inline constexpr std::int64_t kMaxAnnotationFileBytes = io::kMaxAnnotationFileBytes;
/// Largest image side and pixel count an annotation may declare (checked before any mask of
/// that size is allocated).
inline constexpr std::int64_t kMaxImageSide = std::int64_t{1} << 15;
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 28;

/// Reads and strictly parses an annotation JSON file (duplicate keys are errors) through
/// io::read_json_file, the one bounded reader: a missing path, a folder or device and a file
/// above kMaxAnnotationFileBytes are refused before reading. Errors name the file.
inline nlohmann::json read_annotation_json(const std::filesystem::path& path) {
  return io::read_json_file(path, kMaxAnnotationFileBytes);
}

namespace detail {

inline std::string_view json_kind(const nlohmann::json& v) {
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number_float()) return "a floating-point number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list";
  if (v.is_object()) return "an object";
  return "null";
}

}  // namespace detail

/// One JSON object of an annotation file (an image, an annotation, a referring entry, ...),
/// with typed field access. `where` names the entry inside the file: "annotations[3] (id 17)".
/// The entry is viewed, not copied: the parsed document must outlive it.
class JsonEntry {
 public:
  JsonEntry(const nlohmann::json& value, std::string source, std::string where)
      : json_(&value), source_(std::move(source)), where_(std::move(where)) {
    if (!value.is_object()) fail_entry("must be a JSON object, got ", detail::json_kind(value));
  }

  const nlohmann::json& json() const { return *json_; }
  const std::string& source() const { return source_; }
  const std::string& where() const { return where_; }
  /// "file: entry" for error messages.
  std::string context() const { return source_ + ": " + where_; }

  bool has(std::string_view key) const { return json_->contains(key); }
  /// True when `key` is present and not null.
  bool present(std::string_view key) const {
    const auto it = json_->find(key);
    return it != json_->end() && !it->is_null();
  }

  /// The raw value of a required field (present and not null).
  const nlohmann::json& at(std::string_view key) const {
    const auto it = json_->find(key);
    if (it == json_->end()) fail_entry("missing field \"", key, "\"");
    if (it->is_null()) fail_field(key, "is null");
    return *it;
  }

  /// An integer field. Integral floating-point values (3.0, as some converters write ids)
  /// are accepted; anything else, or a value outside [lo, hi], is an error.
  std::int64_t integer(std::string_view key,
                       std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                       std::int64_t hi = std::numeric_limits<std::int64_t>::max()) const {
    return integer_value(at(key), key, lo, hi);
  }
  std::int64_t integer_or(std::string_view key, std::int64_t fallback,
                          std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                          std::int64_t hi = std::numeric_limits<std::int64_t>::max()) const {
    return present(key) ? integer(key, lo, hi) : fallback;
  }
  /// A finite number.
  double number(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (!v.is_number()) fail_field(key, "must be a number, got ", detail::json_kind(v));
    const double d = v.get<double>();
    if (!std::isfinite(d)) fail_field(key, "is not finite");
    return d;
  }
  double number_or(std::string_view key, double fallback) const {
    return present(key) ? number(key) : fallback;
  }
  std::string string(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (!v.is_string()) fail_field(key, "must be a string, got ", detail::json_kind(v));
    return v.get<std::string>();
  }
  std::string string_or(std::string_view key, std::string fallback) const {
    return present(key) ? string(key) : std::move(fallback);
  }
  /// A flag written as a boolean or as 0 / 1 (COCO's `iscrowd`, `isthing`).
  bool flag(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (v.is_boolean()) return v.get<bool>();
    const std::int64_t i = integer_value(v, key, 0, 1);
    return i != 0;
  }
  bool flag_or(std::string_view key, bool fallback) const {
    return present(key) ? flag(key) : fallback;
  }
  /// A required list field.
  const nlohmann::json& list(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (!v.is_array()) fail_field(key, "must be a list, got ", detail::json_kind(v));
    return v;
  }
  /// A required object field, as an entry of its own ("entry.key").
  JsonEntry object(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (!v.is_object()) fail_field(key, "must be an object, got ", detail::json_kind(v));
    return JsonEntry(v, source_, where_ + "." + std::string(key));
  }

  /// Converts an element of a list field (or any value met under `key`) to an integer.
  std::int64_t integer_value(const nlohmann::json& v, std::string_view key,
                             std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                             std::int64_t hi = std::numeric_limits<std::int64_t>::max()) const {
    std::int64_t out = 0;
    if (v.is_number_unsigned()) {
      const std::uint64_t u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail_field(key, "= ", u, " is out of range [", lo, ", ", hi, "]");
      out = static_cast<std::int64_t>(u);
    } else if (v.is_number_integer()) {
      out = v.get<std::int64_t>();
    } else if (v.is_number_float()) {
      const double d = v.get<double>();
      if (!(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15))
        fail_field(key, "must be an integer, got ", d);
      out = static_cast<std::int64_t>(d);
    } else {
      fail_field(key, "must be an integer, got ", detail::json_kind(v));
    }
    if (out < lo || out > hi) fail_field(key, "= ", out, " is out of range [", lo, ", ", hi, "]");
    return out;
  }

  /// Throws psalm::Error "file: entry: field \"key\" <message>".
  template <class... Args>
  [[noreturn]] void fail_field(std::string_view key, const Args&... args) const {
    fail(source_, ": ", where_, ": field \"", key, "\" ", args...);
  }
  /// Throws psalm::Error "file: entry <message>".
  template <class... Args>
  [[noreturn]] void fail_entry(const Args&... args) const {
    fail(source_, ": ", where_, " ", args...);
  }

 private:
  const nlohmann::json* json_;
  std::string source_;
  std::string where_;
};

/// The list under `key` of the top-level object `root` of `source`, or an error naming it.
inline const nlohmann::json& top_level_list(const nlohmann::json& root, std::string_view key,
                                            std::string_view source) {
  PSALM_CHECK(root.is_object(), source, ": the top level must be a JSON object, got ",
              detail::json_kind(root));
  const auto it = root.find(key);
  PSALM_CHECK(it != root.end(), source, ": missing top-level list \"", key, "\"");
  PSALM_CHECK(it->is_array(), source, ": top-level \"", key, "\" must be a list, got ",
              detail::json_kind(*it));
  return *it;
}

/// "key[i]" for entry names.
inline std::string entry_name(std::string_view list, std::size_t index) {
  return std::string(list) + "[" + std::to_string(index) + "]";
}

/// Checks an image size read from an annotation: both sides in 1 .. kMaxImageSide and at most
/// kMaxImagePixels pixels.
inline void check_image_size(std::int64_t height, std::int64_t width, const JsonEntry& entry) {
  if (height < 1 || width < 1 || height > kMaxImageSide || width > kMaxImageSide ||
      height * width > kMaxImagePixels)
    entry.fail_entry("has an image size of ", height, " x ", width, " (each side must be 1 .. ",
                     kMaxImageSide, ", at most ", kMaxImagePixels, " pixels)");
}

}  // namespace psalm::data
