// Tests for psalm/optim/sgd.hpp: SGD with momentum 0.9 (and Nesterov), weight decay in one of
// two parameter groups and a frozen group matches torch.optim.SGD step by step over 20 steps
// (tests/fixtures/autograd_ops3/optim.json), in float and in double.
#include "optim_fixture.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::optim;
using autograd::Var;

namespace {
template <class T>
void run_sgd(const std::string& name, bool nesterov, double rtol, double atol) {
  auto params = testing::fixture_params<T>();
  auto frozen = Var<T>::parameter(Tensor<T>::randn({4}, 6));
  Sgd<T> opt({{.params = {params[0], params[1]}, .lr = 5e-2, .weight_decay = 1e-2},
              {.params = {params[2]}, .lr = 2e-2, .weight_decay = 0.0},
              {.params = {frozen}, .lr = 1.0, .frozen = true}},
             {.momentum = 0.9, .dampening = 0.0, .nesterov = nesterov});
  LambdaLr sched(opt, constant_schedule());
  testing::replay<T>(
      name, params, opt,
      [&] {
        opt.step();
        sched.step();
      },
      rtol, atol, frozen);
}
}  // namespace

TEST_CASE("sgd: momentum matches torch.optim.SGD over 20 steps in double and float",
          "[optim][sgd]") {
  run_sgd<double>("sgd_f64", false, tol::f64_rtol, tol::f64_short);
  run_sgd<float>("sgd_f32", false, tol::f32_ulps, tol::f32_one_ulp);
}

TEST_CASE("sgd: Nesterov momentum matches torch.optim.SGD over 20 steps in double and float",
          "[optim][sgd]") {
  run_sgd<double>("sgd_nesterov_f64", true, tol::f64_rtol, tol::f64_short);
  run_sgd<float>("sgd_nesterov_f32", true, tol::f32_ulps, tol::f32_one_ulp);
}

TEST_CASE("sgd: without momentum a step is p -= lr * (g + wd * p)", "[optim][sgd]") {
  auto p = Var<double>::parameter(Tensor<double>::from_data({1.0, -2.0}, Shape{2}));
  Sgd<double> opt({{.params = {p}, .lr = 0.5, .weight_decay = 0.1}});
  autograd::backward(p, Tensor<double>::from_data({0.2, 0.4}, Shape{2}));
  opt.step();
  REQUIRE(p.value().to_vector()[0] == Approx(1.0 - 0.5 * (0.2 + 0.1)).epsilon(tol::f64_ulps));
  REQUIRE(p.value().to_vector()[1] == Approx(-2.0 - 0.5 * (0.4 - 0.2)).epsilon(tol::f64_ulps));
  REQUIRE_FALSE(opt.momentum_buffer(0, 0).defined());
}

TEST_CASE("sgd: Nesterov without momentum is a psalm::Error", "[optim][sgd]") {
  auto p = Var<float>::parameter(Tensor<float>::ones({3}));
  REQUIRE_THROWS_AS(Sgd<float>({{.params = {p}}}, {.nesterov = true}), psalm::Error);
}
