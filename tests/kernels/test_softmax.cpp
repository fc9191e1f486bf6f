// Tests for psalm/kernels/softmax.hpp: forward and backward against PyTorch
// (tests/fixtures/tensor/softmax.json), the backward against finite differences in double, and the
// shared row body softmax_row (in place, log, statistics, rows masked everywhere).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "psalm/kernels/softmax.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

TEST_CASE("softmax rows with an additive mask match PyTorch, forward and backward",
          "[kernels][softmax]") {
  const auto j = testing::load_json("tensor/softmax.json");
  const auto x = testing::tensor_from_json<double>(j["x"]);
  const auto mask = testing::tensor_from_json<double>(j["mask"]);
  const auto d_y = testing::tensor_from_json<double>(j["d_y"]);
  const std::int64_t rows = x.size(0), cols = x.size(1);
  Tensor<double> y(x.shape()), d_x(x.shape());
  Executor<cpu>::launch(
      rows, kernels::SoftmaxRows<double>{x.data(), y.data(), mask.data(), cols, 2, false});
  testing::require_close(y, testing::tensor_from_json<double>(j["softmax_masked"]), tol::f64_short,
                         tol::f64_ulps);
  Executor<cpu>::launch(
      rows, kernels::SoftmaxRowsBackward<double>{y.data(), d_y.data(), d_x.data(), cols, false});
  testing::require_close(d_x, testing::tensor_from_json<double>(j["d_x_softmax_masked"]),
                         tol::f64_rtol, tol::f64_short);

  Executor<cpu>::launch(rows,
                        kernels::SoftmaxRows<double>{x.data(), y.data(), nullptr, cols, 1, true});
  testing::require_close(y, testing::tensor_from_json<double>(j["log_softmax"]), tol::f64_short,
                         tol::f64_short);
  Executor<cpu>::launch(
      rows, kernels::SoftmaxRowsBackward<double>{y.data(), d_y.data(), d_x.data(), cols, true});
  testing::require_close(d_x, testing::tensor_from_json<double>(j["d_x_log_softmax"]),
                         tol::f64_rtol, tol::f64_short);
}

TEST_CASE("softmax backward matches finite differences in double", "[kernels][softmax]") {
  const std::int64_t rows = 3, cols = 5;
  const auto x0 = Tensor<double>::randn({rows, cols}, 11).to_vector();
  const auto g = Tensor<double>::randn({rows, cols}, 12).to_vector();
  for (bool log : {false, true}) {
    auto forward = [&](const std::vector<double>& x) {
      std::vector<double> y(x.size());
      for (std::int64_t r = 0; r < rows; ++r)
        kernels::SoftmaxRows<double>{x.data(), y.data(), nullptr, cols, 1, log}(r);
      return y;
    };
    auto loss = [&](const std::vector<double>& x) {
      const auto y = forward(x);
      double s = 0;
      for (std::size_t i = 0; i < y.size(); ++i) s += g[i] * y[i];
      return s;
    };
    const auto y = forward(x0);
    std::vector<double> d_x(x0.size());
    for (std::int64_t r = 0; r < rows; ++r)
      kernels::SoftmaxRowsBackward<double>{y.data(), g.data(), d_x.data(), cols, log}(r);
    testing::require_gradients_match(d_x, testing::numeric_gradient(loss, x0));
  }
}

TEST_CASE("softmax of a fully masked row is zeros, not NaN", "[kernels][softmax]") {
  const double x[3] = {1, 2, 3};
  const double inf = std::numeric_limits<double>::infinity();
  const double mask[3] = {-inf, -inf, -inf};
  double y[3];
  kernels::SoftmaxRows<double>{x, y, mask, 3, 1, false}(0);
  REQUIRE((y[0] == 0 && y[1] == 0 && y[2] == 0));
}

TEST_CASE("softmax is stable for large inputs (float)", "[kernels][softmax]") {
  const float x[2] = {1000.0f, 1000.0f};
  float y[2];
  kernels::SoftmaxRows<float>{x, y, nullptr, 2, 1, false}(0);
  REQUIRE(y[0] == Approx(0.5f));
}

TEST_CASE("softmax_row: the row body every softmax shares, in place, with its statistics",
          "[kernels][softmax]") {
  const double x[5] = {0.5, -1.0, 2.0, 0.0, 1.5};
  double total = 0;
  for (double v : x) total += std::exp(v - 2.0);
  double y[5], z[5], lg[5];
  const auto st = kernels::softmax_row(y, 5, [&](std::int64_t j) { return x[j]; });
  CHECK(st.max == 2.0);
  CHECK(st.sum == Approx(total).epsilon(tol::f64_ulps));
  for (int j = 0; j < 5; ++j)
    CHECK(y[j] == Approx(std::exp(x[j] - 2.0) / total).epsilon(tol::f64_ulps));
  // In place: at(j) reads the row being overwritten.
  for (int j = 0; j < 5; ++j) z[j] = x[j];
  kernels::softmax_row(z, 5, [&](std::int64_t j) { return z[j]; });
  for (int j = 0; j < 5; ++j) CHECK(z[j] == y[j]);
  kernels::softmax_row(
      lg, 5, [&](std::int64_t j) { return x[j]; }, true);
  for (int j = 0; j < 5; ++j)
    CHECK(lg[j] == Approx(x[j] - 2.0 - std::log(total)).epsilon(tol::f64_ulps));
  // A row that is -inf everywhere: zeros (log: -inf) and the statistics of an empty sum.
  const double inf = std::numeric_limits<double>::infinity();
  const auto none = kernels::softmax_row(y, 5, [&](std::int64_t) { return -inf; });
  CHECK((none.max == -inf && none.sum == 0.0));
  for (int j = 0; j < 5; ++j) CHECK(y[j] == 0.0);
  kernels::softmax_row(
      lg, 5, [&](std::int64_t) { return -inf; }, true);
  for (int j = 0; j < 5; ++j) CHECK(lg[j] == -inf);
}
