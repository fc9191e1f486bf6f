// Shared by the benchmark programs: a best-of-N wall-clock timer, and output as a readable
// table or (with --json) one JSON object. Benchmarks print ratios against a baseline measured
// in the same process; they are never timed tests.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace psalm::bench {

/// Best time in seconds of `fn` over `repeats` runs after one warm-up run, each run repeated
/// until at least `min_seconds` have passed (the per-call time of the fastest run is returned).
inline double best_seconds(const std::function<void()>& fn, int repeats = 5, double min_seconds = 0.05) {
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

  void print(bool json) const {
    if (json) {
      nlohmann::json out{{"benchmark", name_}, {"rows", nlohmann::json::array()}};
      for (const auto& [label, values] : rows_) {
        nlohmann::json row{{"case", label}};
        for (std::size_t i = 0; i < values.size(); ++i) row[columns_[i]] = values[i];
        out["rows"].push_back(row);
      }
      std::printf("%s\n", out.dump().c_str());
      return;
    }
    std::printf("%-28s", "case");
    for (const auto& c : columns_) std::printf(" %16s", c.c_str());
    std::printf("\n");
    for (const auto& [label, values] : rows_) {
      std::printf("%-28s", label.c_str());
      for (double v : values) std::printf(" %16.3f", v);
      std::printf("\n");
    }
  }

 private:
  std::string name_;
  std::vector<std::string> columns_;
  std::vector<std::pair<std::string, std::vector<double>>> rows_;
};

}  // namespace psalm::bench
