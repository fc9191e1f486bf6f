// bench_assignment — psalm::linear_sum_assignment at PSALM's matcher sizes (100 queries x 1..134
// targets) and on larger problems, against scipy.optimize.linear_sum_assignment timed on the same
// matrices by tools/reference/assignment_bench.py (read with --baseline FILE). Prints a table of
// time per solve and the ratio scipy / psalm; --json prints one JSON object with the same figures.
// The matrix generator is documented in tools/reference/assignment_bench.py and docs/assignment.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "psalm/core/error.hpp"
#include "psalm/psalm/linear_assignment.hpp"

namespace {

struct ShapeSpec {
  std::int64_t rows, cols;
  int matrices;
};

// The same list as tools/reference/assignment_bench.py.
constexpr ShapeSpec kShapes[] = {{100, 1, 8},   {100, 10, 8},    {100, 50, 8},
                                 {100, 134, 8}, {1000, 1000, 2}, {500, 2000, 2}};

std::uint64_t splitmix64_mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Matrix m of shape rows x cols, uniform in [0, 1): see the generator in assignment_bench.py.
std::vector<double> make_matrix(std::int64_t rows, std::int64_t cols, int m) {
  const std::uint64_t seed = 0x5053414C4Dull + static_cast<std::uint64_t>(rows) * 65536u +
                             static_cast<std::uint64_t>(cols) +
                             (static_cast<std::uint64_t>(m) << 32);
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  for (std::size_t k = 0; k < out.size(); ++k) {
    const std::uint64_t z = splitmix64_mix(seed + (k + 1) * 0x9E3779B97F4A7C15ull);
    out[k] = static_cast<double>(z >> 11) * 0x1.0p-53;
  }
  return out;
}

struct Row {
  ShapeSpec shape;
  double psalm_seconds = 0.0;     // best round's time per solve
  double baseline_seconds = NAN;  // scipy's, from --baseline
  bool totals_match = true;       // our optimal totals equal scipy's (1e-9 relative)
};

double time_shape(const std::vector<std::vector<double>>& mats, const ShapeSpec& s,
                  double min_seconds, double& sink) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> rounds;
  const auto start = Clock::now();
  while (rounds.size() < 5 ||
         std::chrono::duration<double>(Clock::now() - start).count() < min_seconds) {
    const auto t0 = Clock::now();
    for (const auto& c : mats) sink += psalm::linear_sum_assignment(c, s.rows, s.cols).total_cost;
    rounds.push_back(std::chrono::duration<double>(Clock::now() - t0).count() /
                     static_cast<double>(mats.size()));
  }
  return *std::min_element(rounds.begin(), rounds.end());
}

nlohmann::json read_baseline(const std::string& path) {
  std::ifstream in(path);
  PSALM_CHECK(in.good(), "bench_assignment: cannot open baseline file ", path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    psalm::fail("bench_assignment: baseline file ", path, " is not valid JSON: ", e.what());
  }
}

int run(int argc, char** argv) {
  std::string baseline_path;
  bool as_json = false;
  double min_seconds = 1.0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      as_json = true;
    } else if (arg == "--baseline" && i + 1 < argc) {
      baseline_path = argv[++i];
    } else if (arg == "--min-seconds" && i + 1 < argc) {
      min_seconds = std::stod(argv[++i]);
    } else {
      std::cerr << "usage: bench_assignment [--baseline scipy.json] [--min-seconds S] [--json]\n"
                   "  scipy.json: written by tools/reference/assignment_bench.py --out FILE\n";
      return 2;
    }
  }
  nlohmann::json baseline;
  if (!baseline_path.empty()) baseline = read_baseline(baseline_path);

  std::vector<Row> table;
  double sink = 0.0;
  for (const ShapeSpec& s : kShapes) {
    std::vector<std::vector<double>> mats;
    for (int m = 0; m < s.matrices; ++m) mats.push_back(make_matrix(s.rows, s.cols, m));
    Row row{s};
    if (!baseline.is_null()) {
      for (const auto& b : baseline.at("shapes")) {
        if (b.at("rows").get<std::int64_t>() != s.rows ||
            b.at("cols").get<std::int64_t>() != s.cols)
          continue;
        row.baseline_seconds = b.at("seconds_per_solve").get<double>();
        const auto totals = b.at("totals").get<std::vector<double>>();
        PSALM_CHECK(totals.size() == mats.size(), "bench_assignment: baseline has ", totals.size(),
                    " totals for ", s.rows, " x ", s.cols, ", expected ", mats.size());
        for (std::size_t m = 0; m < mats.size(); ++m) {
          const double ours = psalm::linear_sum_assignment(mats[m], s.rows, s.cols).total_cost;
          row.totals_match = row.totals_match &&
                             std::abs(ours - totals[m]) <= 1e-9 * std::max(1.0, std::abs(ours));
        }
      }
    }
    row.psalm_seconds = time_shape(mats, s, min_seconds, sink);
    table.push_back(row);
  }

  if (as_json) {
    nlohmann::json out;
    out["benchmark"] = "assignment";
    out["machine"] = psalm::bench::machine();
    out["baseline"] = baseline.is_null() ? nlohmann::json(nullptr) : baseline.at("tool");
    for (const Row& r : table) {
      nlohmann::json j;
      j["rows"] = r.shape.rows;
      j["cols"] = r.shape.cols;
      j["psalm_us"] = r.psalm_seconds * 1e6;
      j["scipy_us"] = std::isnan(r.baseline_seconds) ? nlohmann::json(nullptr)
                                                     : nlohmann::json(r.baseline_seconds * 1e6);
      j["speedup_vs_scipy"] = std::isnan(r.baseline_seconds)
                                  ? nlohmann::json(nullptr)
                                  : nlohmann::json(r.baseline_seconds / r.psalm_seconds);
      j["totals_match_scipy"] = r.totals_match;
      out["shapes"].push_back(j);
    }
    std::cout << out.dump() << "\n";
  } else {
    std::printf("%s", psalm::bench::machine_text().c_str());
    std::printf("linear_sum_assignment, time per solve (best of rounds)%s\n",
                baseline.is_null() ? "; no --baseline given, so no scipy column" : "");
    std::printf("%-12s %14s %14s %18s %8s\n", "shape", "psalm (us)", "scipy (us)", "scipy / psalm",
                "totals");
    for (const Row& r : table) {
      const std::string shape = std::to_string(r.shape.rows) + "x" + std::to_string(r.shape.cols);
      if (std::isnan(r.baseline_seconds)) {
        std::printf("%-12s %14.2f %14s %18s %8s\n", shape.c_str(), r.psalm_seconds * 1e6, "-", "-",
                    "-");
      } else {
        std::printf("%-12s %14.2f %14.2f %17.2fx %8s\n", shape.c_str(), r.psalm_seconds * 1e6,
                    r.baseline_seconds * 1e6, r.baseline_seconds / r.psalm_seconds,
                    r.totals_match ? "same" : "DIFFER");
      }
    }
  }
  if (sink == 12345.678) std::printf("%f\n", sink);  // keeps the timed solves observable
  for (const Row& r : table)
    if (!r.totals_match) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_assignment: " << e.what() << "\n";
    return 1;
  }
}
