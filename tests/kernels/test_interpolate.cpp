// Tests for psalm/kernels/interpolate.hpp: source-index rules (PyTorch's bilinear and nearest
// conventions written out by hand), identity at equal size, a linear ramp reproduced exactly
// by align_corners=true, each backward body as the exact adjoint of its forward, and the resize
// window (resize fused with a crop) as the crop of the whole resize.
#include <catch2/catch.hpp>

#include <array>
#include <vector>

#include "psalm/kernels/interpolate.hpp"
#include "psalm/tensor.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::kernels;

TEST_CASE("interpolate kernels: source indices follow PyTorch's rules", "[kernels][interpolate]") {
  // align_corners=false, 4 -> 8: (dst + 0.5) / 2 - 0.5, clamped at 0.
  REQUIRE(bilinear_source_index<double>(0, 4, 8, false) == 0.0);
  REQUIRE(bilinear_source_index<double>(1, 4, 8, false) == 0.25);
  REQUIRE(bilinear_source_index<double>(7, 4, 8, false) == 3.25);
  // align_corners=true, 4 -> 7: dst * 3 / 6; a single output pixel reads pixel 0.
  REQUIRE(bilinear_source_index<double>(3, 4, 7, true) == 1.5);
  REQUIRE(bilinear_source_index<double>(0, 4, 1, true) == 0.0);
  // The second tap is clamped at the last pixel.
  const BilinearTaps t = bilinear_taps<double>(7, 4, 8, false);
  REQUIRE((t.i0 == 3 && t.i1 == 3 && t.w1 == 0.25));
  // nearest: floor(dst * in / out), 3 -> 7 reads 0 0 0 1 1 2 2; 7 -> 3 reads 0 2 4.
  std::vector<std::int64_t> up, down;
  for (int d = 0; d < 7; ++d) up.push_back(nearest_source_index(d, 3, 7));
  for (int d = 0; d < 3; ++d) down.push_back(nearest_source_index(d, 7, 3));
  REQUIRE(up == std::vector<std::int64_t>{0, 0, 0, 1, 1, 2, 2});
  REQUIRE(down == std::vector<std::int64_t>{0, 2, 4});
}

TEST_CASE("interpolate kernels: equal size is the identity and align_corners keeps a ramp linear",
          "[kernels][interpolate]") {
  const Tensor<double> x = Tensor<double>::randn({2, 3, 4}, 1);
  for (bool align : {false, true}) {
    Tensor<double> y(x.shape());
    Executor<cpu>::launch(y.numel(), ResizeBilinear<double>{x.data(), y.data(), 3, 4, 3, 4, align});
    REQUIRE(y.to_vector() == x.to_vector());
  }
  // x[h, w] = 2h + w resized 3x4 -> 5x7 with align_corners: y = 2 * h * 2/4 + w * 3/6.
  std::vector<double> ramp;
  for (int h = 0; h < 3; ++h)
    for (int w = 0; w < 4; ++w) ramp.push_back(2.0 * h + w);
  const auto r = Tensor<double>::from_data(ramp, Shape{1, 3, 4});
  Tensor<double> y(Shape{1, 5, 7});
  Executor<cpu>::launch(y.numel(), ResizeBilinear<double>{r.data(), y.data(), 3, 4, 5, 7, true});
  for (std::int64_t h = 0; h < 5; ++h)
    for (std::int64_t w = 0; w < 7; ++w)
      REQUIRE(y.item({0, h, w}) == Approx(2.0 * h * 0.5 + w * 0.5).margin(tol::f64_atol));
}

TEST_CASE("interpolate kernels: backward bodies are the adjoints of the forward bodies",
          "[kernels][interpolate]") {
  const std::int64_t h = 5, w = 3, oh = 7, ow = 8;
  const Tensor<double> x = Tensor<double>::randn({2, h, w}, 2);
  const Tensor<double> g = Tensor<double>::randn({2, oh, ow}, 3);
  auto dot = [](const Tensor<double>& a, const Tensor<double>& b) {
    const auto av = a.to_vector(), bv = b.to_vector();
    double s = 0;
    for (std::size_t i = 0; i < av.size(); ++i) s += av[i] * bv[i];
    return s;
  };
  for (int mode = 0; mode < 3; ++mode) {
    INFO("mode " << mode);
    Tensor<double> y(Shape{2, oh, ow});
    Tensor<double> d_x = Tensor<double>::zeros(x.shape());
    if (mode < 2) {
      Executor<cpu>::launch(y.numel(),
                            ResizeBilinear<double>{x.data(), y.data(), h, w, oh, ow, mode == 1});
      Executor<cpu>::launch(
          g.numel(), ResizeBilinearBackward<double>{g.data(), d_x.data(), h, w, oh, ow, mode == 1},
          7);
    } else {
      Executor<cpu>::launch(y.numel(), ResizeNearest<double>{x.data(), y.data(), h, w, oh, ow});
      Executor<cpu>::launch(g.numel(),
                            ResizeNearestBackward<double>{g.data(), d_x.data(), h, w, oh, ow}, 7);
    }
    REQUIRE(dot(y, g) == Approx(dot(x, d_x)).epsilon(tol::f64_rtol));
  }
}

TEST_CASE("interpolate kernels: a resize window is the top-left crop of the whole resize",
          "[kernels][interpolate]") {
  const Tensor<float> x = Tensor<float>::randn({2, 7, 5}, 4);
  for (bool align : {false, true})
    for (const auto& [oh, ow, wh, ww] : std::vector<std::array<std::int64_t, 4>>{
             {16, 12, 11, 9}, {16, 12, 16, 12}, {5, 3, 2, 1}}) {
      INFO("to " << oh << "x" << ow << ", window " << wh << "x" << ww << ", align " << align);
      Tensor<float> full(Shape{2, oh, ow}), window(Shape{2, wh, ww});
      Executor<cpu>::launch(full.numel(),
                            ResizeBilinear<float>{x.data(), full.data(), 7, 5, oh, ow, align});
      Executor<cpu>::launch(window.numel(), ResizeBilinearWindow<float>{x.data(), window.data(), 7,
                                                                        5, oh, ow, wh, ww, align});
      // Same taps, same arithmetic: equal to the last bit.
      CHECK(window.to_vector() == full.slice(1, 0, wh).slice(2, 0, ww).contiguous().to_vector());
    }
}
