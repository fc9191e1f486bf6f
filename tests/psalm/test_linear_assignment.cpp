// Tests for psalm/psalm/linear_assignment.hpp: scipy fixtures (tests/fixtures/assignment, written
// by tools/reference/assignment_fixtures.py), brute force over every shape up to 7 x 7, degenerate
// inputs, determinism and errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/core/rng.hpp"
#include "psalm/psalm/linear_assignment.hpp"

namespace {

using psalm::Assignment;
using psalm::linear_sum_assignment;
using psalm::Objective;

// Tolerances, in one place.
constexpr double kTotalRelTol = 1e-9;  // optimal totals against scipy and brute force

bool close_total(double a, double b, double scale) {
  return std::abs(a - b) <= kTotalRelTol * std::max({1.0, std::abs(a), std::abs(b), scale});
}

// ---- the scipy fixture (format: tests/fixtures/assignment/README.md)
// -------------------------------

struct FixtureCase {
  std::int64_t rows = 0, cols = 0;
  bool ties = false, maximize = false, unique = false;
  double total = 0.0;
  std::vector<float> cost;
  std::vector<std::int64_t> pair_rows, pair_cols;
};

class Reader {
 public:
  explicit Reader(std::vector<char> bytes) : bytes_(std::move(bytes)) {}
  template <class T>
  T get() {
    REQUIRE(pos_ + sizeof(T) <= bytes_.size());
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  std::vector<char> bytes_;
  std::size_t pos_ = 0;
};

std::vector<FixtureCase> load_fixture() {
  const std::string path = std::string(PSALM_TEST_FIXTURES_DIR) + "/assignment/lsap_cases.bin";
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  Reader r(std::vector<char>(std::istreambuf_iterator<char>(in), {}));
  char magic[8];
  for (char& c : magic) c = r.get<char>();
  REQUIRE(std::string(magic, 8) == "PSLSAP01");
  const auto count = r.get<std::uint32_t>();
  std::vector<FixtureCase> cases(count);
  for (FixtureCase& c : cases) {
    c.rows = r.get<std::uint16_t>();
    c.cols = r.get<std::uint16_t>();
    const auto flags = r.get<std::uint8_t>();
    c.ties = (flags & 1) != 0;
    c.maximize = (flags & 2) != 0;
    c.unique = r.get<std::uint8_t>() != 0;
    c.total = r.get<double>();
    c.cost.resize(static_cast<std::size_t>(c.rows * c.cols));
    for (float& x : c.cost) x = r.get<float>();
    const std::int64_t n = std::min(c.rows, c.cols);
    for (std::int64_t k = 0; k < n; ++k) {
      c.pair_rows.push_back(r.get<std::uint16_t>());
      c.pair_cols.push_back(r.get<std::uint16_t>());
    }
  }
  REQUIRE(r.at_end());
  return cases;
}

// A valid assignment: min(rows, cols) pairs, rows strictly ascending, columns distinct, all in
// range, and total_cost equal to the sum of the chosen entries.
template <class T>
void require_valid(const Assignment& a, const std::vector<T>& cost, std::int64_t rows,
                   std::int64_t cols) {
  const auto n = static_cast<std::size_t>(std::min(rows, cols));
  REQUIRE(a.rows.size() == n);
  REQUIRE(a.cols.size() == n);
  std::vector<char> used(static_cast<std::size_t>(cols), 0);
  double sum = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    REQUIRE(a.rows[k] >= 0);
    REQUIRE(a.rows[k] < rows);
    REQUIRE(a.cols[k] >= 0);
    REQUIRE(a.cols[k] < cols);
    if (k > 0) REQUIRE(a.rows[k] > a.rows[k - 1]);
    REQUIRE(used[a.cols[k]] == 0);
    used[a.cols[k]] = 1;
    sum += static_cast<double>(cost[a.rows[k] * cols + a.cols[k]]);
  }
  REQUIRE(a.total_cost == sum);
}

bool same_pairs(const Assignment& a, const Assignment& b) {
  return a.rows == b.rows && a.cols == b.cols;
}

// ---- brute force
// ---------------------------------------------------------------------------------

// The best total over every way to give each row of the smaller side a distinct partner.
double brute_force_total(const std::vector<double>& cost, std::int64_t rows, std::int64_t cols,
                         bool maximize) {
  const bool transposed = cols < rows;
  const std::int64_t small = transposed ? cols : rows, large = transposed ? rows : cols;
  auto at = [&](std::int64_t s, std::int64_t l) {
    return transposed ? cost[l * cols + s] : cost[s * cols + l];
  };
  std::vector<std::int64_t> perm(static_cast<std::size_t>(large));
  std::iota(perm.begin(), perm.end(), std::int64_t{0});
  double best =
      maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  do {
    double sum = 0.0;
    for (std::int64_t s = 0; s < small; ++s) sum += at(s, perm[s]);
    best = maximize ? std::max(best, sum) : std::min(best, sum);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

// Row-major random matrix: continuous values in [lo, lo + span), or integers 0..levels-1.
std::vector<double> random_matrix(std::uint64_t seed, std::int64_t rows, std::int64_t cols,
                                  double lo, double span, int levels = 0) {
  const psalm::CounterRng rng{seed, 7};
  std::vector<double> m(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < m.size(); ++i) {
    const double u = rng.uniform_double(i);
    m[i] = levels > 0 ? std::floor(u * levels) : lo + span * u;
  }
  return m;
}

}  // namespace

TEST_CASE("linear_sum_assignment: scipy's example has total 5 with pairs (0,1) (1,0) (2,2)") {
  const std::vector<double> cost = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  const Assignment a = linear_sum_assignment(cost, 3, 3);
  CHECK(a.rows == std::vector<std::int64_t>{0, 1, 2});
  CHECK(a.cols == std::vector<std::int64_t>{1, 0, 2});
  CHECK(a.total_cost == 5.0);
  const Assignment m = linear_sum_assignment(cost, 3, 3, Objective::maximize);
  CHECK(m.total_cost == 11.0);  // 4 + 5 + 2
}

TEST_CASE("linear_sum_assignment: optimal total matches scipy on every fixture matrix") {
  const std::vector<FixtureCase> cases = load_fixture();
  REQUIRE(cases.size() >= 2000);
  std::int64_t n_unique = 0, n_large = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const FixtureCase& c = cases[i];
    INFO("case " << i << ": " << c.rows << " x " << c.cols << (c.ties ? " ties" : "")
                 << (c.maximize ? " maximize" : ""));
    const Objective obj = c.maximize ? Objective::maximize : Objective::minimize;
    const Assignment a = linear_sum_assignment(c.cost, c.rows, c.cols, obj);
    require_valid(a, c.cost, c.rows, c.cols);
    double scale = 0.0;
    for (float x : c.cost) scale += std::abs(static_cast<double>(x));
    REQUIRE(close_total(a.total_cost, c.total, scale / static_cast<double>(c.cost.size())));
    if (c.unique) {
      ++n_unique;
      REQUIRE(a.rows == c.pair_rows);
      REQUIRE(a.cols == c.pair_cols);
    }
    n_large += (c.rows >= 100 || c.cols >= 100) ? 1 : 0;
    // The double overload on the widened matrix gives the identical answer.
    const std::vector<double> wide(c.cost.begin(), c.cost.end());
    const Assignment b = linear_sum_assignment(wide, c.rows, c.cols, obj);
    REQUIRE(same_pairs(a, b));
    REQUIRE(a.total_cost == b.total_cost);
  }
  CHECK(n_unique >= 1000);  // the fixture really exercises unique optima
  CHECK(n_large >= 10);     // and PSALM's 100 x 1..134 sizes
}

TEST_CASE("linear_sum_assignment: same pairs as scipy on every fixture matrix, ties included") {
  // The tie rule (scan order, free columns preferred) is scipy's, so even with many optimal
  // assignments the chosen one is the same.
  const std::vector<FixtureCase> cases = load_fixture();
  std::int64_t n_tied = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const FixtureCase& c = cases[i];
    INFO("case " << i << ": " << c.rows << " x " << c.cols);
    const Assignment a = linear_sum_assignment(
        c.cost, c.rows, c.cols, c.maximize ? Objective::maximize : Objective::minimize);
    REQUIRE(a.rows == c.pair_rows);
    REQUIRE(a.cols == c.pair_cols);
    n_tied += c.unique ? 0 : 1;
  }
  CHECK(n_tied >= 500);
}

TEST_CASE("linear_sum_assignment: optimal total equals brute force for every shape up to 7x7") {
  std::uint64_t seed = 1;
  for (std::int64_t rows = 1; rows <= 7; ++rows) {
    for (std::int64_t cols = 1; cols <= 7; ++cols) {
      for (int trial = 0; trial < 6; ++trial, ++seed) {
        // Continuous costs (positive, negative, large), then integer costs with many ties.
        std::vector<double> cost;
        switch (trial) {
          case 0:
            cost = random_matrix(seed, rows, cols, 0.0, 1.0);
            break;
          case 1:
            cost = random_matrix(seed, rows, cols, -50.0, 100.0);
            break;
          case 2:
            cost = random_matrix(seed, rows, cols, 1e12, 1e6);
            break;
          case 3:
            cost = random_matrix(seed, rows, cols, 0, 0, 2);
            break;
          case 4:
            cost = random_matrix(seed, rows, cols, 0, 0, 3);
            break;
          default:
            cost = random_matrix(seed, rows, cols, 0, 0, 10);
            break;
        }
        for (const Objective obj : {Objective::minimize, Objective::maximize}) {
          INFO(rows << " x " << cols << " trial " << trial << " max "
                    << (obj == Objective::maximize));
          const Assignment a = linear_sum_assignment(cost, rows, cols, obj);
          require_valid(a, cost, rows, cols);
          const double best = brute_force_total(cost, rows, cols, obj == Objective::maximize);
          REQUIRE(close_total(a.total_cost, best, 0.0));
        }
      }
    }
  }
}

TEST_CASE("linear_sum_assignment: 0 x n, n x 0 and 0 x 0 give empty assignments") {
  const std::vector<double> none;
  for (const auto& [r, c] : {std::pair<std::int64_t, std::int64_t>{0, 5}, {5, 0}, {0, 0}}) {
    const Assignment a = linear_sum_assignment(none, r, c);
    CHECK(a.size() == 0);
    CHECK(a.cols.empty());
    CHECK(a.total_cost == 0.0);
  }
}

TEST_CASE("linear_sum_assignment: all-equal costs give a valid assignment of that total") {
  for (const auto& [r, c] : {std::pair<std::int64_t, std::int64_t>{5, 5}, {3, 8}, {8, 3}}) {
    const std::vector<double> cost(static_cast<std::size_t>(r * c), 2.5);
    const Assignment a = linear_sum_assignment(cost, r, c);
    require_valid(a, cost, r, c);
    CHECK(a.total_cost == 2.5 * static_cast<double>(std::min(r, c)));
  }
}

TEST_CASE("linear_sum_assignment: one row picks its cheapest column, one column its cheapest row") {
  const std::vector<double> v = {5.0, -1.0, 3.0, -0.5, 7.0};
  const Assignment row = linear_sum_assignment(v, 1, 5);
  CHECK(row.rows == std::vector<std::int64_t>{0});
  CHECK(row.cols == std::vector<std::int64_t>{1});
  const Assignment col = linear_sum_assignment(v, 5, 1);
  CHECK(col.rows == std::vector<std::int64_t>{1});
  CHECK(col.cols == std::vector<std::int64_t>{0});
  const Assignment col_max = linear_sum_assignment(v, 5, 1, Objective::maximize);
  CHECK(col_max.rows == std::vector<std::int64_t>{4});
  CHECK(col_max.total_cost == 7.0);
}

TEST_CASE("linear_sum_assignment: large magnitudes and negative costs keep the exact optimum") {
  // Integers near 1e12 are exact in double, so the optimum is exact too.
  const std::vector<double> big = {1e12 + 3, 1e12 + 1, 1e12 + 2,  //
                                   1e12 + 1, 1e12 + 5, 1e12 + 4,  //
                                   1e12 + 2, 1e12 + 5, 1e12 + 9};
  const Assignment a = linear_sum_assignment(big, 3, 3);
  CHECK(a.cols == std::vector<std::int64_t>{1, 2, 0});  // 1 + 4 + 2, unique
  CHECK(a.total_cost == 3e12 + 7);
  std::vector<double> neg(big.size());
  std::transform(big.begin(), big.end(), neg.begin(), [](double x) { return 1e12 - x - 1e9; });
  const Assignment n = linear_sum_assignment(neg, 3, 3, Objective::maximize);
  CHECK(n.cols == a.cols);
  CHECK(n.total_cost == -3e9 - 7);
}

TEST_CASE("linear_sum_assignment: maximize equals minimize on the negated matrix") {
  for (std::uint64_t seed = 100; seed < 120; ++seed) {
    const std::int64_t rows = 3 + seed % 9, cols = 2 + (seed * 7) % 13;
    const std::vector<double> cost = random_matrix(seed, rows, cols, -1.0, 2.0);
    std::vector<double> neg(cost.size());
    std::transform(cost.begin(), cost.end(), neg.begin(), [](double x) { return -x; });
    const Assignment a = linear_sum_assignment(cost, rows, cols, Objective::maximize);
    const Assignment b = linear_sum_assignment(neg, rows, cols);
    CHECK(same_pairs(a, b));
    CHECK(a.total_cost == -b.total_cost);
  }
}

TEST_CASE("linear_sum_assignment: the same input gives the same output") {
  const std::vector<double> ties = random_matrix(42, 100, 134, 0, 0, 3);
  const std::vector<double> cont = random_matrix(43, 134, 100, 0.0, 1.0);
  for (const auto* cost : {&ties, &cont}) {
    const std::int64_t rows = cost == &ties ? 100 : 134, cols = cost == &ties ? 134 : 100;
    const Assignment first = linear_sum_assignment(*cost, rows, cols);
    require_valid(first, *cost, rows, cols);
    for (int rep = 0; rep < 3; ++rep) {
      const Assignment again = linear_sum_assignment(*cost, rows, cols);
      CHECK(same_pairs(first, again));
      CHECK(first.total_cost == again.total_cost);
    }
  }
}

TEST_CASE("linear_sum_assignment: NaN and infinite costs are rejected naming row and column") {
  const double inf = std::numeric_limits<double>::infinity();
  for (const double bad : {std::numeric_limits<double>::quiet_NaN(), inf, -inf}) {
    std::vector<double> cost = random_matrix(9, 4, 6, 0.0, 1.0);
    cost[2 * 6 + 3] = bad;
    const std::string name = std::isnan(bad) ? "NaN" : (bad > 0 ? "+inf" : "-inf");
    CHECK_THROWS_WITH(linear_sum_assignment(cost, 4, 6),
                      Catch::Contains("cost(2, 3)") && Catch::Contains(name));
    CHECK_THROWS_AS(linear_sum_assignment(cost, 4, 6, Objective::maximize), psalm::Error);
    const std::vector<float> as_float(cost.begin(), cost.end());
    CHECK_THROWS_WITH(linear_sum_assignment(as_float, 4, 6), Catch::Contains("cost(2, 3)"));
  }
}

TEST_CASE("linear_sum_assignment: size mismatch, negative sizes and overflow-prone magnitudes") {
  const std::vector<double> cost(12, 1.0);
  CHECK_THROWS_WITH(linear_sum_assignment(cost, 3, 5),
                    Catch::Contains("12 entries") && Catch::Contains("3 x 5"));
  CHECK_THROWS_AS(linear_sum_assignment(cost, 4, 4), psalm::Error);
  CHECK_THROWS_AS(linear_sum_assignment(cost, -3, -4), psalm::Error);
  const std::vector<double> none;
  CHECK_THROWS_AS(linear_sum_assignment(none, 0, -1), psalm::Error);
  std::vector<double> huge(12, 1.0);
  huge[5] = 1e307;
  CHECK_THROWS_WITH(linear_sum_assignment(huge, 3, 4),
                    Catch::Contains("cost(1, 1)") && Catch::Contains("too large"));
}
