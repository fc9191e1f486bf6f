// psalm/psalm/linear_assignment.hpp — exact rectangular linear assignment (the role of
// scipy.optimize.linear_sum_assignment): shortest augmenting paths with dual potentials
// (Jonker-Volgenant, Crouse's LAPJVsp variant). Used by the Hungarian matcher (spec §4.1).
// Depends on: std, core/error, core/shape. Test: tests/psalm/test_linear_assignment.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/core/shape.hpp"

namespace psalm {

/// Whether linear_sum_assignment minimises or maximises the total cost.
enum class Objective : std::uint8_t { minimize, maximize };

/// An optimal assignment of a rows x cols cost matrix: min(rows, cols) pairs
/// (rows[k], cols[k]), with `rows` strictly ascending (as scipy returns them). `total_cost` is
/// the sum of the chosen entries of the original (not negated) matrix, summed in row order.
struct Assignment {
  std::vector<std::int64_t> rows;
  std::vector<std::int64_t> cols;
  double total_cost = 0.0;

  std::size_t size() const { return rows.size(); }
};

namespace detail {

/// Working state of one solve on an n_rows x n_cols problem with n_rows <= n_cols.
/// Invariant between augmentations: u[i] + v[j] <= cost(i, j) for all i, j, with equality on
/// assigned pairs, so the assigned rows form a minimum-cost partial assignment.
struct AssignmentSolver {
  std::int64_t n_rows = 0, n_cols = 0;
  const double* cost = nullptr;    // (n_rows, n_cols) row-major
  std::vector<double> u, v;        // dual potentials of rows (n_rows) and columns (n_cols)
  std::vector<double> dist;        // (n_cols) shortest reduced distance found to each column
  std::vector<std::int64_t> pred;  // (n_cols) row from which each column was reached
  std::vector<std::int64_t> col_of_row, row_of_col;  // the assignment so far, -1 = free
  std::vector<std::int64_t> pending;  // columns not yet settled in the current search
  std::vector<char> row_seen, col_seen;

  AssignmentSolver(const double* c, std::int64_t nr, std::int64_t nc)
      : n_rows(nr),
        n_cols(nc),
        cost(c),
        u(static_cast<std::size_t>(nr), 0.0),
        v(static_cast<std::size_t>(nc), 0.0),
        dist(static_cast<std::size_t>(nc)),
        pred(static_cast<std::size_t>(nc), -1),
        col_of_row(static_cast<std::size_t>(nr), -1),
        row_of_col(static_cast<std::size_t>(nc), -1),
        pending(static_cast<std::size_t>(nc)),
        row_seen(static_cast<std::size_t>(nr)),
        col_seen(static_cast<std::size_t>(nc)) {}

  /// Dijkstra on reduced costs from the free row `start` until the nearest free column is
  /// settled. Returns that column; `reach` receives its distance. Tie rule (the same as scipy's):
  /// columns are scanned in the order of `pending`, which starts as n_cols-1, ..., 0 and loses
  /// a settled entry by moving its last element into the hole; the first column with the
  /// smallest distance is settled, except that a free column at the same distance seen later
  /// replaces an assigned one (so among equal free columns the last one scanned wins).
  std::int64_t shortest_path(std::int64_t start, double& reach) {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    std::fill(dist.begin(), dist.end(), kInf);
    std::fill(row_seen.begin(), row_seen.end(), char{0});
    std::fill(col_seen.begin(), col_seen.end(), char{0});
    for (std::int64_t k = 0; k < n_cols; ++k) pending[k] = n_cols - 1 - k;
    std::int64_t n_pending = n_cols;

    double settled = 0.0;  // distance of the column settled last
    std::int64_t row = start;
    for (;;) {
      row_seen[row] = 1;
      const double* cost_row = cost + row * n_cols;
      const double u_row = u[row];
      double best = kInf;
      std::int64_t best_k = -1;
      for (std::int64_t k = 0; k < n_pending; ++k) {
        const std::int64_t j = pending[k];
        // ref: scipy/optimize/rectangular_lsap/rectangular_lsap.cpp: same operation order, so
        // ties and rounding resolve alike.
        const double d = settled + cost_row[j] - u_row - v[j];
        if (d < dist[j]) {
          pred[j] = row;
          dist[j] = d;
        }
        if (dist[j] < best || (dist[j] == best && row_of_col[j] == -1)) {
          best = dist[j];
          best_k = k;
        }
      }
      PSALM_CHECK(best_k >= 0 && std::isfinite(best),
                  "linear_sum_assignment: reduced costs overflowed (cost magnitudes too large "
                  "for double arithmetic)");
      settled = best;
      const std::int64_t j = pending[best_k];
      col_seen[j] = 1;
      pending[best_k] = pending[--n_pending];
      if (row_of_col[j] == -1) {
        reach = settled;
        return j;
      }
      row = row_of_col[j];
    }
  }

  /// Assigns every row, one augmentation per row, keeping the dual invariant.
  void solve() {
    for (std::int64_t r = 0; r < n_rows; ++r) {
      double reach = 0.0;
      const std::int64_t sink = shortest_path(r, reach);
      // Potentials: settled rows and columns move by how much closer they were than the sink.
      u[r] += reach;
      for (std::int64_t i = 0; i < n_rows; ++i)
        if (row_seen[i] && i != r) u[i] += reach - dist[col_of_row[i]];
      for (std::int64_t j = 0; j < n_cols; ++j)
        if (col_seen[j]) v[j] -= reach - dist[j];
      // Flip the alternating path from the sink back to row r.
      std::int64_t j = sink;
      for (;;) {
        const std::int64_t i = pred[j];
        row_of_col[j] = i;
        std::swap(col_of_row[i], j);
        if (i == r) break;
      }
    }
  }
};

inline const char* non_finite_name(double x) {
  return std::isnan(x) ? "NaN" : (x > 0 ? "+inf" : "-inf");
}

template <std::floating_point T>
Assignment linear_sum_assignment_impl(std::span<const T> cost, std::int64_t rows, std::int64_t cols,
                                      Objective objective) {
  PSALM_CHECK(rows >= 0 && cols >= 0, "linear_sum_assignment: negative matrix size ", rows, " x ",
              cols);
  const std::int64_t count = checked::mul(rows, cols, "linear_sum_assignment cost size");
  PSALM_CHECK(static_cast<std::uint64_t>(count) == cost.size(), "linear_sum_assignment: cost has ",
              cost.size(), " entries but the matrix is ", rows, " x ", cols, " (", count,
              " entries)");
  Assignment out;
  if (count == 0) return out;

  // Validate; the bound keeps every reduced cost and potential finite in double arithmetic.
  const double limit = std::numeric_limits<double>::max() / (8.0 * double(rows + cols + 1));
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const double c = static_cast<double>(cost[i * cols + j]);
      PSALM_CHECK(std::isfinite(c), "linear_sum_assignment: cost(", i, ", ", j, ") is ",
                  non_finite_name(c), "; all costs must be finite");
      PSALM_CHECK(std::abs(c) <= limit, "linear_sum_assignment: cost(", i, ", ", j, ") = ", c,
                  " is too large in magnitude (limit ", limit, " for a ", rows, " x ", cols,
                  " matrix)");
    }
  }

  // Work on a matrix with no more rows than columns; maximising = minimising the negation.
  const bool transposed = cols < rows;
  const std::int64_t nr = transposed ? cols : rows;
  const std::int64_t nc = transposed ? rows : cols;
  const double sign = objective == Objective::maximize ? -1.0 : 1.0;
  // A double matrix needing neither transposing nor negating is solved in place; otherwise
  // the solve runs on one double copy.
  const double* matrix = nullptr;
  std::vector<double> work;
  if constexpr (std::same_as<T, double>) {
    if (!transposed && objective == Objective::minimize) matrix = cost.data();
  }
  if (matrix == nullptr) {
    work.resize(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) {
        const std::int64_t at = transposed ? j * rows + i : i * cols + j;
        work[at] = sign * static_cast<double>(cost[i * cols + j]);
      }
    matrix = work.data();
  }

  AssignmentSolver solver(matrix, nr, nc);
  solver.solve();

  out.rows.resize(static_cast<std::size_t>(nr));
  out.cols.resize(static_cast<std::size_t>(nr));
  if (!transposed) {
    for (std::int64_t i = 0; i < nr; ++i) {
      out.rows[i] = i;
      out.cols[i] = solver.col_of_row[i];
    }
  } else {
    // Work row t is original column t, assigned to original row col_of_row[t]; sort by row.
    std::vector<std::int64_t> order(static_cast<std::size_t>(nr));
    std::iota(order.begin(), order.end(), std::int64_t{0});
    std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
      return solver.col_of_row[a] < solver.col_of_row[b];
    });
    for (std::int64_t k = 0; k < nr; ++k) {
      out.rows[k] = solver.col_of_row[order[k]];
      out.cols[k] = order[k];
    }
  }
  for (std::int64_t k = 0; k < nr; ++k)
    out.total_cost += static_cast<double>(cost[out.rows[k] * cols + out.cols[k]]);
  return out;
}

}  // namespace detail

/// Solves min (or max) sum_k cost(rows[k], cols[k]) over assignments that pair min(rows, cols)
/// distinct rows with distinct columns. `cost` is row-major (rows, cols): cost[i * cols + j].
/// Deterministic, and the same pairs as scipy.optimize.linear_sum_assignment (also on ties).
/// Throws psalm::Error when cost.size() != rows * cols, or when an entry is NaN, +-inf or too
/// large to solve in double (the message names its row and column). A 0 x n or n x 0 matrix
/// gives an empty assignment. Time O(r^2 c) worst case for r = min, c = max of the sizes;
/// memory O(r + c), plus one double copy of the matrix for float input, maximize or rows > cols.
inline Assignment linear_sum_assignment(std::span<const double> cost, std::int64_t rows,
                                        std::int64_t cols,
                                        Objective objective = Objective::minimize) {
  return detail::linear_sum_assignment_impl(cost, rows, cols, objective);
}

/// The same for float costs: they are widened to double, the solve runs in double.
inline Assignment linear_sum_assignment(std::span<const float> cost, std::int64_t rows,
                                        std::int64_t cols,
                                        Objective objective = Objective::minimize) {
  return detail::linear_sum_assignment_impl(cost, rows, cols, objective);
}

}  // namespace psalm
