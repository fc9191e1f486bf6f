// Tests for psalm/kernels/grid_sample.hpp: the input gradient of grid sampling is the exact
// adjoint of kernels/bilinear.hpp's forward body, and the grid gradient matches central
// differences of that forward body (align_corners true and false, points outside the input).
#include <catch2/catch.hpp>

#include <vector>

#include "psalm/kernels/grid_sample.hpp"
#include "psalm/tensor.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

namespace {
struct Sizes {
  std::int64_t n = 2, c = 3, h = 4, w = 5, ho = 3, wo = 2;
};

Tensor<double> forward(const Tensor<double>& x, const Tensor<double>& grid, const Sizes& s,
                       bool align) {
  Tensor<double> y(Shape{s.n, s.c, s.ho, s.wo});
  Executor<cpu>::launch(
      y.numel(), kernels::GridSampleBilinear<double>{x.data(), grid.data(), y.data(), s.c, s.h, s.w,
                                                     s.ho, s.wo, align});
  return y;
}

double dot(const Tensor<double>& a, const Tensor<double>& b) {
  const auto av = a.to_vector(), bv = b.to_vector();
  double sum = 0;
  for (std::size_t i = 0; i < av.size(); ++i) sum += av[i] * bv[i];
  return sum;
}
}  // namespace

TEST_CASE("grid_sample kernel: input gradient is the adjoint, grid gradient matches differences",
          "[kernels][grid_sample]") {
  const Sizes s;
  const Tensor<double> x = Tensor<double>::randn({s.n, s.c, s.h, s.w}, 1);
  const Tensor<double> grid(Tensor<double>::rand({s.n, s.ho, s.wo, 2}, 2) * 2.4 - 1.2);
  const Tensor<double> g = Tensor<double>::randn({s.n, s.c, s.ho, s.wo}, 3);
  for (bool align : {false, true}) {
    INFO("align_corners " << align);
    Tensor<double> d_x = Tensor<double>::zeros(x.shape());
    Tensor<double> d_grid(grid.shape());
    Executor<cpu>::launch(s.n * s.ho * s.wo,
                          kernels::GridSampleBilinearBackward<double>{
                              x.data(), grid.data(), g.data(), d_x.data(), d_grid.data(), s.c, s.h,
                              s.w, s.ho, s.wo, align},
                          1);
    REQUIRE(dot(forward(x, grid, s, align), g) == Approx(dot(x, d_x)).epsilon(tol::f64_rtol));
    for (std::int64_t i = 0; i < grid.numel(); ++i) {
      const double keep = grid.data()[i], step = tol::fd_step;
      grid.data()[i] = keep + step;
      const double up = dot(forward(x, grid, s, align), g);
      grid.data()[i] = keep - step;
      const double down = dot(forward(x, grid, s, align), g);
      grid.data()[i] = keep;
      INFO("grid element " << i);
      REQUIRE(d_grid.data()[i] ==
              Approx((up - down) / (2 * step)).epsilon(tol::fd_module_rtol).margin(tol::fd_atol));
    }
  }
}
