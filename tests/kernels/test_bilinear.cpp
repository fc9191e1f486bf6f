// Tests for psalm/kernels/bilinear.hpp against torch.nn.functional.grid_sample (bilinear,
// zero padding, both align_corners settings; tests/fixtures/tensor/grid_sample.json), forward and
// both gradients, plus finite differences in double.
#include <catch2/catch.hpp>

#include "psalm/kernels/bilinear.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

namespace {

// Backward of grid_sample through the kernel body: d_input (scatter) and d_grid.
void grid_sample_backward(const Tensor<double>& input, const Tensor<double>& grid,
                          const Tensor<double>& d_out, bool align, Tensor<double>& d_input,
                          Tensor<double>& d_grid) {
  const std::int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
  const std::int64_t ho = grid.size(1), wo = grid.size(2);
  d_input.fill(0.0);
  d_grid.fill(0.0);
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t i = 0; i < ho; ++i)
      for (std::int64_t j = 0; j < wo; ++j) {
        const double* g = grid.data() + ((b * ho + i) * wo + j) * 2;
        const double x = kernels::unnormalize_coordinate(g[0], w, align);
        const double y = kernels::unnormalize_coordinate(g[1], h, align);
        // d(pixel coordinate)/d(normalised coordinate)
        const double sx = align ? (w - 1) / 2.0 : w / 2.0, sy = align ? (h - 1) / 2.0 : h / 2.0;
        for (std::int64_t ch = 0; ch < c; ++ch) {
          const std::int64_t plane = (b * c + ch) * h * w;
          double dx = 0, dy = 0;
          kernels::bilinear_sample_backward<double>(input.data() + plane, d_input.data() + plane, h,
                                                    w, w, 1, x, y, d_out.item({b, ch, i, j}), &dx,
                                                    &dy);
          d_grid.data()[((b * ho + i) * wo + j) * 2] += dx * sx;
          d_grid.data()[((b * ho + i) * wo + j) * 2 + 1] += dy * sy;
        }
      }
}

}  // namespace

TEST_CASE("grid sample matches PyTorch forward and gradients, both align_corners",
          "[kernels][bilinear]") {
  const auto j = testing::load_json("tensor/grid_sample.json");
  const auto input = testing::tensor_from_json<double>(j["input"]);
  const auto grid = testing::tensor_from_json<double>(j["grid"]);
  for (bool align : {false, true}) {
    const std::string key = align ? "align" : "noalign";
    INFO("align_corners " << align);
    const std::int64_t c = input.size(1), h = input.size(2), w = input.size(3);
    Tensor<double> out({input.size(0), c, grid.size(1), grid.size(2)});
    Executor<cpu>::launch(
        out.numel(), kernels::GridSampleBilinear<double>{input.data(), grid.data(), out.data(), c,
                                                         h, w, grid.size(1), grid.size(2), align});
    testing::require_close(out, testing::tensor_from_json<double>(j["out_" + key]), tol::f64_row,
                           tol::f64_short);
    Tensor<double> d_input(input.shape()), d_grid(grid.shape());
    grid_sample_backward(input, grid, testing::tensor_from_json<double>(j["d_out_" + key]), align,
                         d_input, d_grid);
    testing::require_close(d_input, testing::tensor_from_json<double>(j["d_input_" + key]),
                           tol::f64_rtol, tol::f64_short);
    testing::require_close(d_grid, testing::tensor_from_json<double>(j["d_grid_" + key]),
                           tol::f64_grid_grad_rtol, tol::f64_row);
  }
}

TEST_CASE("bilinear sample gradients match finite differences in double", "[kernels][bilinear]") {
  const std::int64_t h = 4, w = 5;
  const auto plane0 = Tensor<double>::randn({h, w}, 31).to_vector();
  for (auto [x, y] :
       {std::pair{1.3, 2.6}, std::pair{-0.4, 0.7}, std::pair{4.2, 3.5}, std::pair{2.01, 0.02}}) {
    auto value = [&](const std::vector<double>& p) {
      return kernels::bilinear_sample<double>(p.data(), h, w, w, 1, x, y);
    };
    std::vector<double> d_plane(h * w, 0.0);
    double dx = 0, dy = 0;
    kernels::bilinear_sample_backward<double>(plane0.data(), d_plane.data(), h, w, w, 1, x, y, 1.0,
                                              &dx, &dy);
    testing::require_gradients_match(d_plane, testing::numeric_gradient(value, plane0));
    auto at = [&](double xx, double yy) {
      return kernels::bilinear_sample<double>(plane0.data(), h, w, w, 1, xx, yy);
    };
    REQUIRE(dx == Approx((at(x + tol::fd_step, y) - at(x - tol::fd_step, y)) / (2 * tol::fd_step))
                      .margin(tol::fd_atol));
    REQUIRE(dy == Approx((at(x, y + tol::fd_step) - at(x, y - tol::fd_step)) / (2 * tol::fd_step))
                      .margin(tol::fd_atol));
  }
}

TEST_CASE("unnormalize_coordinate follows grid_sample's two conventions", "[kernels][bilinear]") {
  REQUIRE(kernels::unnormalize_coordinate(-1.0, 10, true) == 0.0);
  REQUIRE(kernels::unnormalize_coordinate(1.0, 10, true) == 9.0);
  REQUIRE(kernels::unnormalize_coordinate(-1.0, 10, false) == -0.5);
  REQUIRE(kernels::unnormalize_coordinate(1.0, 10, false) == 9.5);
}
