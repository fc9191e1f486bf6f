// Test support: central finite differences in double, the independent check of every
// hand-written backward pass. loss(x) must be a scalar function of the flat input vector.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include "support/tolerances.hpp"

namespace psalm::testing {

/// d loss / d x by central differences with step h.
inline std::vector<double> numeric_gradient(
    const std::function<double(const std::vector<double>&)>& loss, std::vector<double> x,
    double h = tol::fd_step) {
  std::vector<double> grad(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss(x);
    x[i] = keep - h;
    const double down = loss(x);
    x[i] = keep;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

/// Requires analytic == numeric within the finite-difference tolerances.
inline void require_gradients_match(const std::vector<double>& analytic,
                                    const std::vector<double>& numeric, double rtol = tol::fd_rtol,
                                    double atol = tol::fd_atol) {
  REQUIRE(analytic.size() == numeric.size());
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    INFO("gradient element " << i << ": analytic " << analytic[i] << ", numeric " << numeric[i]);
    REQUIRE(std::fabs(analytic[i] - numeric[i]) <= atol + rtol * std::fabs(numeric[i]));
  }
}

}  // namespace psalm::testing
