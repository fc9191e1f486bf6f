// tools/commands/common.hpp — what every `psalm` subcommand shares: the command table entry,
// parsing with cxxopts into clear usage errors (unknown, repeated or stray arguments, numbers
// out of range or not read whole, empty list items, options that do not apply, an output
// folder that does not exist).
// Exit codes: 0 success, 2 bad input (arguments, files), 1 internal failure.
#pragma once

// cxxopts splits the value of a std::vector option at this character. Argument strings cannot
// hold '\0', so no value is ever split: "a,b" stays "a,b" (give an option several times for
// several values). Must come before the first include of cxxopts in the program.
#ifdef CXXOPTS_VECTOR_DELIMITER
#error "tools/commands/common.hpp must be included before <cxxopts.hpp>"
#endif
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"

namespace psalm::cli {

/// Bad command-line input: reported as `psalm: error: ...` with exit code 2.
struct UsageError : Error {
  using Error::Error;
};

struct Command {
  const char* name;
  const char* summary;
  std::function<int(int argc, char** argv)> run;  // argv[0] is "psalm <name>"
};

/// Parses argv with `options`; prints help and returns true for --help. cxxopts errors, stray
/// positional arguments and options given more than once (except those in `may_repeat`) are
/// UsageErrors naming the argument. Adds --verbose (read by tools/psalm.cpp).
inline bool parse_or_help(cxxopts::Options& options, int argc, char** argv,
                          cxxopts::ParseResult& out, const std::set<std::string>& may_repeat = {}) {
  options.add_options("", {
                              {"h,help", "show this help"},
                              {"verbose", "errors also say where in the source they were raised"},
                          });
  try {
    out = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  if (out.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return true;
  }
  if (!out.unmatched().empty())
    throw UsageError("unexpected argument '" + out.unmatched().front() + "' (see --help)");
  std::map<std::string, int> seen;
  for (const auto& kv : out.arguments())
    if (++seen[kv.key()] == 2 && !may_repeat.contains(kv.key()))
      throw UsageError("option --" + kv.key() + " is given more than once");
  return false;
}

/// The value of a required option, or a UsageError naming it.
template <class T>
T required(const cxxopts::ParseResult& args, const std::string& name) {
  if (!args.count(name)) throw UsageError("missing required option --" + name + " (see --help)");
  return args[name].as<T>();
}

/// An integer option (required unless it has a default) checked against [lo, hi] before it is
/// used for anything, so no size derived from it can overflow.
template <class T>
T in_range(const cxxopts::ParseResult& args, const std::string& name, T lo, T hi) {
  T v{};
  try {
    v = args[name].as<T>();  // the given value or the default
  } catch (const cxxopts::exceptions::exception&) {
    throw UsageError("missing required option --" + name + " (see --help)");
  }
  if (v < lo || v > hi)
    throw UsageError("--" + name + " must be in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got " + std::to_string(v));
  return v;
}

/// `text` read whole as a number of type T (an integer, or a finite floating-point number):
/// "1e-4x", "12 ", "" and "nan" are UsageErrors naming `what`, never a prefix silently taken.
template <class T>
T parse_number(const std::string& text, const std::string& what) {
  T v{};
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, v);
  bool ok = ec == std::errc() && stop == end;
  if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(v);
  if (!ok)
    throw UsageError(what + ": '" + text + "' is not " +
                     (std::is_floating_point_v<T> ? "a finite number" : "a whole number") +
                     (ec == std::errc::result_out_of_range ? " in range" : ""));
  return v;
}

/// A floating-point option, declared as cxxopts::value<std::string>() (cxxopts reads numbers
/// through a stream and would take "1e-4x" as 1e-4), read whole and checked against
/// [lo, hi] before it is used.
inline double real_in_range(const cxxopts::ParseResult& args, const std::string& name, double lo,
                            double hi) {
  std::string text;
  try {
    text = args[name].as<std::string>();  // the given value or the default
  } catch (const cxxopts::exceptions::exception&) {
    throw UsageError("missing required option --" + name + " (see --help)");
  }
  const double v = parse_number<double>(text, "--" + name);
  if (v < lo || v > hi) {
    std::ostringstream range;
    range << "--" << name << " must be in [" << lo << ", " << hi << "], got " << v;
    throw UsageError(range.str());
  }
  return v;
}

/// The items of a comma-separated option value (spaces around an item are dropped); an empty
/// item (",a", "a,,b", "a,") is a UsageError rather than silently skipped.
inline std::vector<std::string> comma_items(const std::string& text, const std::string& name) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, comma - begin);
    const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b == std::string::npos)
      throw UsageError("--" + name + " '" + text + "' has an empty item (a comma too many)");
    out.push_back(item.substr(b, e - b + 1));
    if (comma == text.size()) return out;
    begin = comma + 1;
  }
}

/// Throws unless the folder `out` (an output file option's value) is to be written in exists,
/// so a long run does not fail at its end.
inline void check_output_folder(const std::string& out, const std::string& option) {
  const std::filesystem::path parent = std::filesystem::path(out).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw Error("--" + option + " " + out + ": " + parent.string() + " is not an existing folder");
}

/// Every option given on the command line must be one of `allowed` (plus help / verbose):
/// an option that does not apply to `context` is a UsageError rather than silently ignored.
inline void only_options(const cxxopts::ParseResult& args, const std::set<std::string>& allowed,
                         const std::string& context) {
  for (const auto& kv : args.arguments()) {
    const std::string& key = kv.key();
    if (key == "help" || key == "verbose" || allowed.contains(key)) continue;
    throw UsageError("--" + key + " does not apply to " + context + " (see --help)");
  }
}

/// A JSON value with every non-finite floating-point number replaced by "nan", "inf" or "-inf"
/// (nlohmann would write null).
inline nlohmann::json json_with_nonfinite_as_strings(nlohmann::json j) {
  if (j.is_number_float()) {
    const double v = j.get<double>();
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return j;
  }
  if (j.is_array() || j.is_object())
    for (auto& v : j) v = json_with_nonfinite_as_strings(std::move(v));
  return j;
}

}  // namespace psalm::cli
