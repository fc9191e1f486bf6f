// tools/commands/common.hpp — what every `psalm` subcommand shares: the command table entry,
// parsing with cxxopts into clear usage errors, and JSON / text output helpers.
// Exit codes: 0 success, 2 bad input (arguments, files), 1 internal failure.
#pragma once

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"

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

/// Parses argv with `options`; prints help and returns true for --help; turns cxxopts errors
/// into UsageError naming the problem.
inline bool parse_or_help(cxxopts::Options& options, int argc, char** argv, cxxopts::ParseResult& out) {
  options.add_options()("h,help", "show this help");
  try {
    out = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  if (out.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return true;
  }
  return false;
}

/// The value of a required option, or a UsageError naming it.
template <class T>
T required(const cxxopts::ParseResult& args, const std::string& name) {
  if (!args.count(name)) throw UsageError("missing required option --" + name + " (see --help)");
  return args[name].as<T>();
}

/// Parses a JSON file, naming the file (and the parser's position) in any error.
inline nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": invalid JSON: " + e.what());
  }
}

}  // namespace psalm::cli
