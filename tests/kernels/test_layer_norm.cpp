// Tests for psalm/kernels/layer_norm.hpp against torch.nn.functional.layer_norm
// (tests/fixtures/tensor/layer_norm.json) and finite differences in double.
#include <catch2/catch.hpp>

#include "psalm/kernels/layer_norm.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

TEST_CASE("layer norm rows match PyTorch: output, saved statistics, input gradient",
          "[kernels][layer_norm]") {
  const auto j = testing::load_json("tensor/layer_norm.json");
  const auto x = testing::tensor_from_json<double>(j["x"]);
  const auto w = testing::tensor_from_json<double>(j["weight"]);
  const auto b = testing::tensor_from_json<double>(j["bias"]);
  const auto d_y = testing::tensor_from_json<double>(j["d_y"]);
  const std::int64_t rows = x.size(0), cols = x.size(1);
  Tensor<double> y(x.shape()), d_x(x.shape());
  Tensor<double> mean({rows}), rstd({rows});
  Executor<cpu>::launch(
      rows, kernels::LayerNormRows<double>{x.data(), w.data(), b.data(), y.data(), mean.data(),
                                           rstd.data(), cols, 1e-5f});
  testing::require_close(y, testing::tensor_from_json<double>(j["y"]), tol::f64_rtol,
                         tol::f64_atol);
  testing::require_close(mean, testing::tensor_from_json<double>(j["mean"]), tol::f64_rtol,
                         tol::f64_atol);
  testing::require_close(rstd, testing::tensor_from_json<double>(j["rstd"]), tol::f64_rtol,
                         tol::f64_atol);
  Executor<cpu>::launch(
      rows, kernels::LayerNormRowsBackward<double>{x.data(), w.data(), d_y.data(), mean.data(),
                                                   rstd.data(), d_x.data(), cols});
  testing::require_close(d_x, testing::tensor_from_json<double>(j["d_x"]), tol::f64_rtol,
                         tol::f64_atol);
}

TEST_CASE("layer norm backward matches finite differences in double", "[kernels][layer_norm]") {
  const std::int64_t rows = 2, cols = 6;
  const auto x0 = Tensor<double>::randn({rows, cols}, 21).to_vector();
  const auto w = Tensor<double>::randn({cols}, 22).to_vector();
  const auto g = Tensor<double>::randn({rows, cols}, 23).to_vector();
  // Reference forward entirely in double (the kernel saves float statistics).
  auto loss = [&](const std::vector<double>& x) {
    double s = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      double m = 0, v = 0;
      for (std::int64_t c = 0; c < cols; ++c) m += x[r * cols + c] / cols;
      for (std::int64_t c = 0; c < cols; ++c)
        v += (x[r * cols + c] - m) * (x[r * cols + c] - m) / cols;
      for (std::int64_t c = 0; c < cols; ++c)
        s += g[r * cols + c] * (x[r * cols + c] - m) / std::sqrt(v + 1e-5) * w[c];
    }
    return s;
  };
  std::vector<double> y(x0.size()), d_x(x0.size());
  std::vector<double> mean(rows), rstd(rows);
  for (std::int64_t r = 0; r < rows; ++r)
    kernels::LayerNormRows<double>{x0.data(),   w.data(),    nullptr, y.data(),
                                   mean.data(), rstd.data(), cols,    1e-5f}(r);
  for (std::int64_t r = 0; r < rows; ++r)
    kernels::LayerNormRowsBackward<double>{x0.data(),   w.data(),   g.data(), mean.data(),
                                           rstd.data(), d_x.data(), cols}(r);
  testing::require_gradients_match(d_x, testing::numeric_gradient(loss, x0));
}

TEST_CASE("layer norm weight and bias gradients: column blocks of any width give the column sums",
          "[kernels][layer_norm]") {
  const std::int64_t rows = 9, cols = 70;
  const auto x = Tensor<double>::randn({rows, cols}, 31);
  const auto g = Tensor<double>::randn({rows, cols}, 32);
  const auto mean = Tensor<double>::randn({rows}, 33), rstd = Tensor<double>::rand({rows}, 34);
  std::vector<double> want_w(cols, 0.0), want_b(cols, 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) {
      const double gv = g.item({r, j});
      want_w[j] += gv * (x.item({r, j}) - mean.item({r})) * rstd.item({r});
      want_b[j] += gv;
    }
  // 1: one column per GPU thread; 64: the CPU's block; 16 and 70+: uneven and single blocks.
  for (std::int64_t block : {1, 16, 64, 100}) {
    INFO("block " << block);
    Tensor<double> d_w({cols}), d_b({cols}), d_b_only({cols});
    Executor<cpu>::launch(
        (cols + block - 1) / block,
        kernels::LayerNormParamGrad<double>{x.data(), g.data(), mean.data(), rstd.data(),
                                            d_w.data(), d_b.data(), rows, cols, block},
        1);
    Executor<cpu>::launch(
        (cols + block - 1) / block,
        kernels::LayerNormParamGrad<double>{x.data(), g.data(), mean.data(), rstd.data(), nullptr,
                                            d_b_only.data(), rows, cols, block},
        1);
    for (std::int64_t j = 0; j < cols; ++j) {
      REQUIRE(d_w.item({j}) == Approx(want_w[j]).margin(tol::f64_atol));
      REQUIRE(d_b.item({j}) == Approx(want_b[j]).margin(tol::f64_atol));
      REQUIRE(d_b_only.item({j}) == Approx(want_b[j]).margin(tol::f64_atol));
    }
  }
}
