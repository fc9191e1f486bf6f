// Shared by the benchmark programs: a best-of-N wall-clock timer, the machine a run was taken
// on (CPU model, the instruction sets that matter here, the kernels oneDNN and psalm chose,
// threads, load average, date), and output as a readable table or (with --json) one JSON
// object. Benchmarks print ratios against a baseline measured in the same process; they are
// never timed tests.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/backend/cpu/gemm.hpp"

namespace psalm::bench {

/// The machine of this run: CPU model and flags (from /proc/cpuinfo), the instruction sets
/// oneDNN and psalm's own kernels use, OpenMP threads, the 1-minute load average and the UTC
/// date. Every benchmark prints it (a table's first lines, or "machine" in its JSON).
inline nlohmann::json machine() {
  std::string model = "unknown", flags;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && model == "unknown") model = value;
    if (key == "flags" && flags.empty()) flags = " " + value + " ";
  }
  std::string isa;
  for (const char* f : {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16"})
    if (flags.find(std::string(" ") + f + " ") != std::string::npos) {
      if (!isa.empty()) isa += ' ';
      isa += f;
    }
  double load = -1;
  std::ifstream("/proc/loadavg") >> load;
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return {{"cpu", model},
          {"isa", isa.empty() ? "baseline x86-64 only" : isa},
          {"onednn_isa", cpu_backend::onednn_isa_name()},
          {"onednn_bf16", cpu_backend::onednn_has_bf16()},
          {"openblas_core", std::string(openblas_get_corename())},
          {"openblas_generic", cpu_backend::openblas_kernels_generic()},
          {"psalm_isa", cpu_backend::isa_name(cpu_backend::cpu_isa())},
          {"threads", Executor<cpu>::max_threads()},
          {"load_average", load},
          {"date", date}};
}

/// The machine as two readable lines.
inline std::string machine_text() {
  const nlohmann::json m = machine();
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "CPU: %s [%s]\noneDNN ISA: %s (bf16 matmul: %s), OpenBLAS core: %s%s, psalm "
                "kernels: %s, threads: %d, load average %.2f, %s\n",
                m["cpu"].get<std::string>().c_str(), m["isa"].get<std::string>().c_str(),
                m["onednn_isa"].get<std::string>().c_str(),
                m["onednn_bf16"].get<bool>() ? "yes" : "no",
                m["openblas_core"].get<std::string>().c_str(),
                m["openblas_generic"].get<bool>() ? " (generic: f32 goes to oneDNN)" : "",
                m["psalm_isa"].get<std::string>().c_str(), m["threads"].get<int>(),
                m["load_average"].get<double>(), m["date"].get<std::string>().c_str());
  return buf;
}

/// Best time in seconds of `fn` over `repeats` runs after one warm-up run, each run repeated
/// until at least `min_seconds` have passed (the per-call time of the fastest run is returned).
inline double best_seconds(const std::function<void()>& fn, int repeats = 5,
                           double min_seconds = 0.05) {
  using clock = std::chrono::steady_clock;
  fn();
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    int calls = 0;
    const auto start = clock::now();
    double elapsed = 0;
    do {
      fn();
      ++calls;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < min_seconds);
    best = std::min(best, elapsed / calls);
  }
  return best;
}

/// The value after `flag` in argv ("--model DIR"), or `fallback` when absent.
inline std::string flag_value(int argc, char** argv, std::string_view flag,
                              std::string fallback = {}) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == flag) return argv[i + 1];
  return fallback;
}

/// True when argv holds `flag`.
inline bool has_flag(int argc, char** argv, std::string_view flag) {
  for (int i = 1; i < argc; ++i)
    if (argv[i] == flag) return true;
  return false;
}

/// Rows of named figures, printed as a table or as {"benchmark": name, "rows": [...]}.
class Report {
 public:
  Report(std::string name, std::vector<std::string> columns)
      : name_(std::move(name)), columns_(std::move(columns)) {}

  void add(const std::string& label, const std::vector<double>& values) {
    rows_.push_back({label, values});
  }

  /// A text field of row `label` (e.g. which kernel ran): a line under the table, or a string
  /// field of the row in JSON.
  void note(const std::string& label, const std::string& key, const std::string& text) {
    notes_.push_back({label, key, text});
  }

  /// {"benchmark": name, "machine": {...}, "rows": [...]}.
  nlohmann::json to_json() const {
    nlohmann::json out{
        {"benchmark", name_}, {"machine", machine()}, {"rows", nlohmann::json::array()}};
    for (const auto& [label, values] : rows_) {
      nlohmann::json row{{"case", label}};
      for (std::size_t i = 0; i < values.size(); ++i) row[columns_[i]] = values[i];
      for (const Note& n : notes_)
        if (n.label == label) row[n.key] = n.text;
      out["rows"].push_back(row);
    }
    return out;
  }

  /// The table (after the machine lines), or one JSON object with the machine.
  void print(bool json) const {
    if (json) {
      std::printf("%s\n", to_json().dump().c_str());
      return;
    }
    std::printf("%s", machine_text().c_str());
    std::printf("%-28s", "case");
    for (const auto& c : columns_) std::printf(" %16s", c.c_str());
    std::printf("\n");
    for (const auto& [label, values] : rows_) {
      std::printf("%-28s", label.c_str());
      for (double v : values) std::printf(" %16.3f", v);
      std::printf("\n");
    }
    for (const Note& n : notes_)
      std::printf("  %s: %s: %s\n", n.label.c_str(), n.key.c_str(), n.text.c_str());
  }

 private:
  struct Note {
    std::string label, key, text;
  };
  std::string name_;
  std::vector<std::string> columns_;
  std::vector<std::pair<std::string, std::vector<double>>> rows_;
  std::vector<Note> notes_;
};

}  // namespace psalm::bench
