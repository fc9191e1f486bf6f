// psalm/io/json_config.hpp — strict JSON parsing (duplicate keys are errors), the one JSON file
// reader (bounded, regular files only: io/read_file.hpp) and ConfigReader, which reads typed
// config fields with errors that name the file and the key. Unknown keys are ignored.
// Depends on: std, nlohmann/json, core/error, io/read_file. Test: tests/io/test_json_config.cpp.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/read_file.hpp"

namespace psalm::io {

/// Parses JSON text. Invalid JSON (including invalid UTF-8) and a key repeated within one
/// object are psalm::Errors naming `source`. (nlohmann alone keeps the last duplicate silently.)
inline nlohmann::json parse_json_strict(std::string_view text, std::string_view source) {
  std::vector<std::set<std::string>> keys;  // keys seen, one set per open object
  std::vector<std::string> path;            // the key of each open object, "" for the root
  std::string last_key;
  bool duplicate = false;
  std::string duplicate_where;
  auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (duplicate) return false;
    switch (event) {
      case E::object_start:
        keys.emplace_back();
        path.push_back(last_key);
        break;
      case E::object_end:
        if (!keys.empty()) keys.pop_back();
        if (!path.empty()) path.pop_back();
        break;
      case E::key: {
        last_key = parsed.get<std::string>();
        if (!keys.empty() && !keys.back().insert(last_key).second) {
          duplicate = true;
          std::string where;
          for (std::size_t i = 1; i < path.size(); ++i) {
            if (!where.empty()) where += '.';
            where += path[i];
          }
          duplicate_where = "duplicate key \"" + last_key + "\" in object " +
                            (where.empty() ? std::string("(top level)") : "\"" + where + "\"");
        }
        break;
      }
      case E::array_start:
        last_key.clear();
        break;
      default:
        break;
    }
    return true;
  };
  nlohmann::json out;
  try {
    out = nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    if (!duplicate) fail(source, ": invalid JSON: ", e.what());
  }
  PSALM_CHECK(!duplicate, source, ": ", duplicate_where);
  return out;
}

/// Reads and strictly parses a JSON file of at most `max_bytes` (configs and index files by
/// default; annotations and results pass kMaxAnnotationFileBytes). Errors name the file: a
/// missing path, a folder or device, a file above the limit, invalid JSON, a duplicate key.
inline nlohmann::json read_json_file(const std::filesystem::path& path,
                                     std::int64_t max_bytes = kMaxConfigFileBytes) {
  return parse_json_strict(read_file(path, max_bytes, "JSON"), path.string());
}

namespace detail {

inline std::string_view json_type_name(const nlohmann::json& v) {
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number_float()) return "a floating-point number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

template <class T>
struct is_std_vector : std::false_type {};
template <class U>
struct is_std_vector<std::vector<U>> : std::true_type {};
template <class T>
struct is_std_optional : std::false_type {};
template <class U>
struct is_std_optional<std::optional<U>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class U>
struct is_string_map<std::map<std::string, U>> : std::true_type {};

}  // namespace detail

/// Converts one JSON value to T, or throws naming `source` and `where` (the key path).
/// T: bool, integers (value must be an integer in T's range), float/double (any number),
/// std::string, std::vector<U>, std::map<std::string, U>, std::optional<U> (null -> nullopt).
template <class T>
T json_as(const nlohmann::json& v, std::string_view source, const std::string& where) {
  auto wrong = [&](std::string_view want) {
    fail(source, ": key \"", where, "\" must be ", want, ", got ", detail::json_type_name(v));
  };
  if constexpr (detail::is_std_optional<T>::value) {
    if (v.is_null()) return T{};
    return T{json_as<typename T::value_type>(v, source, where)};
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) wrong("a boolean");
    return v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) wrong("an integer");
    if (v.is_number_unsigned()) {
      const std::uint64_t u = v.get<std::uint64_t>();
      PSALM_CHECK(u <= static_cast<std::uint64_t>(std::numeric_limits<T>::max()), source,
                  ": key \"", where, "\" = ", u, " is out of range [",
                  +std::numeric_limits<T>::min(), ", ", +std::numeric_limits<T>::max(), "]");
      return static_cast<T>(u);
    }
    const std::int64_t s = v.get<std::int64_t>();
    const bool fits = std::is_signed_v<T>
                          ? s >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                                s <= static_cast<std::int64_t>(std::numeric_limits<T>::max())
                          : s >= 0 && static_cast<std::uint64_t>(s) <=
                                          static_cast<std::uint64_t>(std::numeric_limits<T>::max());
    PSALM_CHECK(fits, source, ": key \"", where, "\" = ", s, " is out of range [",
                +std::numeric_limits<T>::min(), ", ", +std::numeric_limits<T>::max(), "]");
    return static_cast<T>(s);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) wrong("a number");
    const double d = v.get<double>();
    const T out = static_cast<T>(d);
    PSALM_CHECK(std::isfinite(out), source, ": key \"", where, "\" = ", d,
                " is out of range for its type");
    return out;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) wrong("a string");
    return v.get<std::string>();
  } else if constexpr (detail::is_std_vector<T>::value) {
    if (!v.is_array()) wrong("an array");
    T out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
      out.push_back(
          json_as<typename T::value_type>(v[i], source, where + "[" + std::to_string(i) + "]"));
    return out;
  } else if constexpr (detail::is_string_map<T>::value) {
    if (!v.is_object()) wrong("an object");
    T out;
    for (auto it = v.begin(); it != v.end(); ++it)
      out.emplace(it.key(),
                  json_as<typename T::mapped_type>(it.value(), source, where + "." + it.key()));
    return out;
  } else {
    static_assert(sizeof(T) == 0, "json_as: unsupported config field type");
  }
}

/// Reads typed fields from one JSON object of a config file. Field errors name the file and
/// the dotted key path; keys the program does not ask for are ignored.
///
///   ConfigReader r = ConfigReader::from_file("config.json");
///   cfg.hidden_size = r.required<int>("hidden_size");
///   r.read("layer_norm_eps", cfg.layer_norm_eps);  // keeps the default when absent or null
class ConfigReader {
 public:
  ConfigReader(nlohmann::json object, std::string source, std::string prefix = {})
      : json_(std::move(object)), source_(std::move(source)), prefix_(std::move(prefix)) {
    PSALM_CHECK(json_.is_object(), source_, ": ",
                prefix_.empty() ? std::string("the top level") : "key \"" + prefix_ + "\"",
                " must be a JSON object, got ", detail::json_type_name(json_));
  }
  static ConfigReader from_file(const std::filesystem::path& path) {
    return ConfigReader(read_json_file(path), path.string());
  }
  static ConfigReader from_text(std::string_view text, std::string source) {
    nlohmann::json parsed = parse_json_strict(text, source);
    return ConfigReader(std::move(parsed), std::move(source));
  }

  const std::string& source() const { return source_; }
  const nlohmann::json& json() const { return json_; }
  /// True when `key` is present (even with a null value).
  bool has(std::string_view key) const { return json_.contains(key); }

  /// The value of `key`; missing or null is an error (unless T is std::optional).
  template <class T>
  T required(std::string_view key) const {
    const auto it = json_.find(key);
    PSALM_CHECK(it != json_.end(), source_, ": missing required key \"", path(key), "\"");
    if constexpr (!detail::is_std_optional<T>::value)
      PSALM_CHECK(!it->is_null(), source_, ": required key \"", path(key), "\" is null");
    return json_as<T>(*it, source_, path(key));
  }
  /// The value of `key`, or `fallback` when the key is missing or null.
  template <class T>
  T optional(std::string_view key, T fallback) const {
    const auto it = json_.find(key);
    if (it == json_.end() || it->is_null()) return fallback;
    return json_as<T>(*it, source_, path(key));
  }
  /// Overwrites `field` with the value of `key` when present and not null.
  template <class T>
  void read(std::string_view key, T& field) const {
    field = optional<T>(key, std::move(field));
  }
  /// The nested object under `key` (required).
  ConfigReader child(std::string_view key) const {
    const auto it = json_.find(key);
    PSALM_CHECK(it != json_.end(), source_, ": missing required key \"", path(key), "\"");
    return ConfigReader(*it, source_, path(key));
  }

 private:
  std::string path(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
  }

  nlohmann::json json_;
  std::string source_;
  std::string prefix_;
};

}  // namespace psalm::io
