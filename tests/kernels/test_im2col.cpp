// Tests for psalm/kernels/im2col.hpp: im2col against a direct loop over the convolution
// window (strided input, padding, stride, dilation), and col2im as its exact adjoint
// (<im2col(x), c> == <x, col2im(c)>).
#include <catch2/catch.hpp>

#include <vector>

#include "psalm/kernels/im2col.hpp"
#include "psalm/tensor.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using kernels::ConvGeometry;

namespace {

ConvGeometry geometry(std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t kh,
                      std::int64_t kw, std::int64_t sh, std::int64_t sw, std::int64_t ph,
                      std::int64_t pw, std::int64_t dh, std::int64_t dw) {
  ConvGeometry g{c, h, w, kh, kw, sh, sw, ph, pw, dh, dw};
  g.compute_output();
  return g;
}

// cols of a (N, C, H, W) tensor by the definition, one entry at a time.
std::vector<double> direct_columns(const Tensor<double>& x, const ConvGeometry& g) {
  const std::int64_t n = x.size(0);
  std::vector<double> out;
  for (std::int64_t s = 0; s < n; ++s)
    for (std::int64_t c = 0; c < g.channels; ++c)
      for (std::int64_t ki = 0; ki < g.kernel_h; ++ki)
        for (std::int64_t kj = 0; kj < g.kernel_w; ++kj)
          for (std::int64_t oh = 0; oh < g.out_h; ++oh)
            for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
              const std::int64_t h = oh * g.stride_h - g.pad_h + ki * g.dilation_h;
              const std::int64_t w = ow * g.stride_w - g.pad_w + kj * g.dilation_w;
              const bool inside = h >= 0 && h < g.height && w >= 0 && w < g.width;
              out.push_back(inside ? x.item({s, c, h, w}) : 0.0);
            }
  return out;
}

Tensor<double> run_im2col(const Tensor<double>& x, const ConvGeometry& g) {
  const std::int64_t n = x.size(0);
  Tensor<double> cols(Shape{n, g.col_rows(), g.col_cols()});
  Executor<cpu>::launch(n * g.col_rows() * g.out_h,
                        kernels::Im2Col<double>{x.data(), cols.data(), x.strides()[0],
                                                x.strides()[1], x.strides()[2], x.strides()[3], g},
                        1);
  return cols;
}

}  // namespace

TEST_CASE("im2col: matches the direct window loop for padding, stride, dilation and strided input",
          "[kernels][im2col]") {
  struct Case {
    ConvGeometry g;
    bool permuted;
  };
  const std::vector<Case> cases = {
      {geometry(3, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1), false},  // 3x3 same padding
      {geometry(2, 8, 12, 4, 4, 4, 4, 0, 0, 1, 1), true},  // 4x4 stride 4 (patch embedding)
      {geometry(4, 7, 5, 3, 2, 2, 1, 1, 2, 2, 1), true},   // mixed stride / padding / dilation
      {geometry(1, 3, 3, 5, 5, 1, 1, 2, 2, 1, 1), false},  // kernel larger than the plane
  };
  for (const auto& c : cases) {
    const ConvGeometry& g = c.g;
    INFO("kernel " << g.kernel_h << "x" << g.kernel_w << " on " << g.height << "x" << g.width);
    Tensor<double> x = Tensor<double>::randn({2, g.channels, g.height, g.width}, 5);
    if (c.permuted)  // same logical tensor, planes stored (N, H, W, C)
      x = Tensor<double>(x.permute({0, 2, 3, 1}).clone()).permute({0, 3, 1, 2});
    REQUIRE(x.is_contiguous() == !c.permuted);
    const std::vector<double> want = direct_columns(x, g);
    const std::vector<double> got = run_im2col(x, g).to_vector();
    REQUIRE(got == want);
  }
}

TEST_CASE("col2im: is the adjoint of im2col", "[kernels][im2col]") {
  for (const ConvGeometry& g :
       {geometry(3, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1), geometry(2, 9, 7, 3, 3, 2, 3, 1, 0, 1, 2),
        geometry(2, 8, 8, 4, 4, 4, 4, 0, 0, 1, 1)}) {
    const Tensor<double> x = Tensor<double>::randn({2, g.channels, g.height, g.width}, 11);
    const Tensor<double> c = Tensor<double>::randn({2, g.col_rows(), g.col_cols()}, 12);
    Tensor<double> d_x(x.shape());
    Executor<cpu>::launch(2 * g.channels * g.height,
                          kernels::Col2Im<double>{c.data(), d_x.data(), g}, 1);
    const std::vector<double> cols = run_im2col(x, g).to_vector(), cv = c.to_vector();
    const std::vector<double> xv = x.to_vector(), dv = d_x.to_vector();
    double lhs = 0, rhs = 0;
    for (std::size_t i = 0; i < cols.size(); ++i) lhs += cols[i] * cv[i];
    for (std::size_t i = 0; i < xv.size(); ++i) rhs += xv[i] * dv[i];
    REQUIRE(lhs == Approx(rhs).epsilon(tol::f64_rtol));
  }
}
