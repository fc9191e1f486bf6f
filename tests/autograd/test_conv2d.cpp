// Tests for psalm/autograd/ops/conv2d.hpp: 3x3, 1x1 (the GEMM path), 4x4 stride 4, strided /
// dilated / grouped and depthwise convolutions against finite differences in double (permuted
// and sliced inputs, odd sizes) and PyTorch (tests/fixtures/autograd_ops2/conv2d.json).
#include "op_check.hpp"
#include "psalm/autograd/ops/conv2d.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {
void check_torch(const std::string& name, const testing::VarFn<float>& f) {
  testing::check_against_torch("../autograd_ops2/conv2d", name, f, tol::f32_window_rtol,
                               tol::f32_window_atol);
}
}  // namespace

TEST_CASE("conv2d: backward matches finite differences for 3x3 with padding and bias",
          "[autograd][conv2d]") {
  // (1, 2, 5, 3) stored as a permuted view: the non-contiguous im2col path.
  const auto x = Tensor<double>::randn({1, 5, 3, 2}, 1).permute({0, 3, 1, 2});
  const auto w = Tensor<double>::randn({3, 2, 3, 3}, 2, 0.0, 0.5);
  const auto b = Tensor<double>::randn({3}, 3);
  check_gradients(
      [](const Vars<double>& v) {
        return conv2d(v[0], v[1], v[2], {.padding = {1, 1}});
      },
      {x, w, b});
}

TEST_CASE("conv2d: backward matches finite differences for 1x1 on a sliced input",
          "[autograd][conv2d]") {
  const auto x = Tensor<double>::randn({2, 3, 4, 5}, 4).slice(3, 1, 5, 2);  // (2, 3, 4, 2)
  const auto w = Tensor<double>::randn({4, 3, 1, 1}, 5);
  const auto b = Tensor<double>::randn({4}, 6);
  check_gradients([](const Vars<double>& v) { return conv2d(v[0], v[1], v[2]); }, {x, w, b});
}

TEST_CASE(
    "conv2d: backward matches finite differences for 4x4 stride 4, stride / dilation / "
    "groups and depthwise",
    "[autograd][conv2d]") {
  check_gradients(
      [](const Vars<double>& v) {
        return conv2d(v[0], v[1], v[2], {.stride = {4, 4}});
      },
      {Tensor<double>::randn({2, 3, 8, 9}, 7), Tensor<double>::randn({2, 3, 4, 4}, 8),
       Tensor<double>::randn({2}, 9)});
  check_gradients(
      [](const Vars<double>& v) {
        return conv2d(v[0], v[1], {},
                      {.stride = {2, 1}, .padding = {1, 2}, .dilation = {2, 1}, .groups = 2});
      },
      {Tensor<double>::randn({1, 4, 7, 5}, 10), Tensor<double>::randn({4, 2, 3, 2}, 11)});
  check_gradients(
      [](const Vars<double>& v) {
        return conv2d(v[0], v[1], v[2], {.padding = {1, 1}, .groups = 3});
      },
      {Tensor<double>::randn({2, 3, 3, 4}, 12), Tensor<double>::randn({3, 1, 3, 3}, 13),
       Tensor<double>::randn({3}, 14)});
}

TEST_CASE("conv2d: forward and backward match PyTorch", "[autograd][conv2d]") {
  check_torch("3x3_pad1_bias", [](const Vars<float>& v) {
    return conv2d(v[0], v[1], v[2], {.padding = {1, 1}});
  });
  check_torch("1x1", [](const Vars<float>& v) { return conv2d(v[0], v[1], v[2]); });
  check_torch("4x4_stride4", [](const Vars<float>& v) {
    return conv2d(v[0], v[1], v[2], {.stride = {4, 4}});
  });
  check_torch("stride2_dilation2_groups2", [](const Vars<float>& v) {
    return conv2d(v[0], v[1], {},
                  {.stride = {2, 1}, .padding = {1, 2}, .dilation = {2, 1}, .groups = 2});
  });
  check_torch("depthwise_3x3", [](const Vars<float>& v) {
    return conv2d(v[0], v[1], v[2], {.padding = {1, 1}, .groups = 3});
  });
}

TEST_CASE("conv2d: only the inputs that require a gradient get one", "[autograd][conv2d]") {
  const Var<double> x(Tensor<double>::randn({1, 2, 4, 4}, 20));
  const auto w = Var<double>::parameter(Tensor<double>::randn({3, 2, 3, 3}, 21));
  const Var<double> y = conv2d(x, w);
  backward(y, Tensor<double>::ones(y.shape()));
  REQUIRE(w.grad().defined());
  REQUIRE(w.grad().shape() == w.shape());
  NoGrad guard;
  REQUIRE_FALSE(conv2d(Var<double>::parameter(x.value()), w).requires_grad());
}

TEST_CASE("conv2d: rejects mismatched channels, groups and too-small inputs",
          "[autograd][conv2d]") {
  const Var<float> x(Tensor<float>::zeros({1, 4, 5, 5}));
  REQUIRE_THROWS_AS(conv2d(x, Var<float>(Tensor<float>::zeros({2, 3, 3, 3}))), Error);
  REQUIRE_THROWS_AS(conv2d(x, Var<float>(Tensor<float>::zeros({3, 2, 3, 3})), {}, {.groups = 2}),
                    Error);
  REQUIRE_THROWS_AS(conv2d(x, Var<float>(Tensor<float>::zeros({2, 4, 7, 7}))), Error);
  REQUIRE_THROWS_AS(conv2d(x, Var<float>(Tensor<float>::zeros({2, 4, 3, 3})),
                           Var<float>(Tensor<float>::zeros({3}))),
                    Error);
  REQUIRE_THROWS_AS(
      conv2d(x, Var<float>(Tensor<float>::zeros({2, 4, 1, 1})), {}, {.stride = {0, 1}}), Error);
}

TEST_CASE("conv2d: a batch cut into column chunks equals one sample at a time",
          "[autograd][conv2d]") {
  // 8 * 3 * 3 rows x 484 * 484 columns per sample is above 2^24 elements: one sample per chunk.
  const auto x = Var<float>::parameter(Tensor<float>::randn({2, 8, 484, 484}, 30));
  const auto w = Var<float>::parameter(Tensor<float>::randn({2, 8, 3, 3}, 31, 0.0, 0.3));
  const Var<float> y = conv2d(x, w, {}, {.padding = {1, 1}});
  const Tensor<float> d_y = Tensor<float>::randn(y.shape(), 32);
  backward(y, d_y);
  Tensor<float> d_w_sum = Tensor<float>::zeros(w.shape());
  for (std::int64_t s = 0; s < 2; ++s) {
    const auto xs = Var<float>::parameter(x.value().narrow(0, s, 1));
    const auto ws = Var<float>::parameter(w.value());
    const Var<float> ys = conv2d(xs, ws, {}, {.padding = {1, 1}});
    testing::require_close(ys.value(), Tensor<double>(cast<double>(y.value().narrow(0, s, 1))),
                           tol::f32_ulps, tol::f32_atol);
    backward(ys, d_y.narrow(0, s, 1).contiguous());
    testing::require_close(xs.grad(), Tensor<double>(cast<double>(x.grad().narrow(0, s, 1))),
                           tol::f32_ulps, tol::f32_atol);
    d_w_sum.assign(d_w_sum + ws.grad());
  }
  testing::require_close(w.grad(), Tensor<double>(cast<double>(d_w_sum)), tol::f32_grad_rtol,
                         tol::f32_batch_sum_atol);
}
