// Tests for psalm/autograd/ops/group_norm.hpp: group norm of 3-D and 4-D inputs with and
// without affine parameters against finite differences in double (permuted input) and
// PyTorch (tests/fixtures/autograd_ops2/group_norm.json).
#include "op_check.hpp"
#include "psalm/autograd/ops/group_norm.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {
void check_torch(const std::string& name, const testing::VarFn<float>& f) {
  testing::check_against_torch("../autograd_ops2/group_norm", name, f, tol::f32_window_rtol,
                               tol::f32_window_atol);
}
}  // namespace

TEST_CASE("group_norm: backward matches finite differences for x, weight and bias",
          "[autograd][group_norm]") {
  // (2, 6, 3, 2) stored channels-last: a permuted view.
  const auto x = Tensor<double>::randn({2, 3, 2, 6}, 31, 0.5, 2.0).permute({0, 3, 1, 2});
  const auto w = Tensor<double>::randn({6}, 32, 1.0);
  const auto b = Tensor<double>::randn({6}, 33);
  check_gradients([](const Vars<double>& v) { return group_norm(v[0], 3, v[1], v[2]); }, {x, w, b});
  check_gradients([](const Vars<double>& v) { return group_norm(v[0], 2); }, {x});
  check_gradients([](const Vars<double>& v) { return group_norm(v[0], 6, v[1], {}, 1e-3); },
                  {x, w});
  check_gradients([](const Vars<double>& v) { return group_norm(v[0], 1, {}, v[1]); },
                  {Tensor<double>::randn({3, 4, 5}, 34), Tensor<double>::randn({4}, 35)});
}

TEST_CASE("group_norm: forward and backward match PyTorch", "[autograd][group_norm]") {
  check_torch("affine_4d", [](const Vars<float>& v) { return group_norm(v[0], 2, v[1], v[2]); });
  check_torch("plain_3d", [](const Vars<float>& v) { return group_norm(v[0], 3); });
  check_torch("one_channel_per_group",
              [](const Vars<float>& v) { return group_norm(v[0], 4, v[1], v[2], 1e-3); });
}

TEST_CASE("group_norm: each group of the output has zero mean and unit variance",
          "[autograd][group_norm]") {
  const Var<float> x(Tensor<float>::randn({2, 32, 4, 4}, 36, 3.0, 5.0));
  const Tensor<float> y = group_norm(x, 8).value().reshape({16, 64});
  const std::vector<float> v = y.to_vector();
  for (int r = 0; r < 16; ++r) {
    double m = 0, q = 0;
    for (int j = 0; j < 64; ++j) m += v[r * 64 + j];
    m /= 64;
    for (int j = 0; j < 64; ++j) q += (v[r * 64 + j] - m) * (v[r * 64 + j] - m);
    REQUIRE(std::fabs(m) < tol::f32_sum_atol);
    REQUIRE(q / 64 == Approx(1.0).epsilon(tol::f32_grad_rtol));
  }
}

TEST_CASE("group_norm: rejects groups that do not divide the channels and bad weights",
          "[autograd][group_norm]") {
  const Var<float> x(Tensor<float>::zeros({1, 6, 2, 2}));
  REQUIRE_THROWS_AS(group_norm(x, 4), Error);
  REQUIRE_THROWS_AS(group_norm(x, 0), Error);
  REQUIRE_THROWS_AS(group_norm(x, 2, Var<float>(Tensor<float>::ones({5}))), Error);
  REQUIRE_THROWS_AS(group_norm(Var<float>(Tensor<float>::zeros({6})), 2), Error);
}

TEST_CASE("group_norm: weight and bias gradients do not depend on x requiring one",
          "[autograd][group_norm]") {
  const auto x = Tensor<double>::randn({2, 4, 3}, 37);
  const auto w = Tensor<double>::randn({4}, 38), b = Tensor<double>::randn({4}, 39);
  const Tensor<double> d_y = Tensor<double>::randn({2, 4, 3}, 40);
  const auto w1 = Var<double>::parameter(w), b1 = Var<double>::parameter(b);
  const auto w2 = Var<double>::parameter(w), b2 = Var<double>::parameter(b);
  backward(group_norm(Var<double>(x), 2, w1, b1), d_y);
  backward(group_norm(Var<double>::parameter(x), 2, w2, b2), d_y);
  testing::require_close(w1.grad(), w2.grad(), 1e-12, 1e-12);
  testing::require_close(b1.grad(), b2.grad(), 1e-12, 1e-12);
}
