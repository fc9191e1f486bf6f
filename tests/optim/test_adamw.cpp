// Tests for psalm/optim/adamw.hpp (with optim/schedule.hpp and optim/param_group.hpp): AdamW
// with two parameter groups (different lr and weight decay), a frozen group and a linear
// warm-up + cosine LambdaLR matches torch.optim.AdamW + LambdaLR step by step over 20 steps
// (tests/fixtures/autograd_ops3/optim.json), in float and in double.
#include "optim_fixture.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::optim;
using autograd::Var;

namespace {
template <class T>
void run_adamw(const std::string& name, double rtol, double atol) {
  auto params = testing::fixture_params<T>();
  auto frozen = Var<T>::parameter(Tensor<T>::randn({4}, 5));
  const auto& j = testing::optim_fixture();
  AdamW<T> opt({{.params = {params[0], params[1]}, .lr = 1e-2, .weight_decay = 0.1},
                {.params = {params[2]}, .lr = 3e-3, .weight_decay = 0.0},
                {.params = {frozen}, .lr = 1.0, .weight_decay = 0.5, .frozen = true}},
               {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8});
  LambdaLr sched(
      opt, warmup_cosine_schedule(j.at("warmup").get<std::int64_t>(),
                                  j.at("total").get<std::int64_t>(), j.at("floor").get<double>()));
  testing::replay<T>(
      name, params, opt,
      [&] {
        opt.step();
        sched.step();
      },
      rtol, atol, frozen);
  REQUIRE(opt.step_count(0, 0) == 20);
  REQUIRE(opt.step_count(2, 0) == 0);
}
}  // namespace

TEST_CASE("adamw: matches torch.optim.AdamW + LambdaLR over 20 steps in double", "[optim][adamw]") {
  run_adamw<double>("adamw_f64", tol::f64_rtol, tol::f64_short);
}

TEST_CASE("adamw: matches torch.optim.AdamW + LambdaLR over 20 steps in float", "[optim][adamw]") {
  run_adamw<float>("adamw_f32", tol::f32_ulps, tol::f32_one_ulp);
}

TEST_CASE("adamw: parameters without a gradient keep their value and state", "[optim][adamw]") {
  auto a = Var<float>::parameter(Tensor<float>::ones({3}));
  auto b = Var<float>::parameter(Tensor<float>::ones({2}));
  AdamW<float> opt({{.params = {a, b}, .lr = 0.1, .weight_decay = 0.0}});
  autograd::backward(a, Tensor<float>::ones({3}));
  opt.step();
  REQUIRE(opt.step_count(0, 0) == 1);
  REQUIRE(opt.step_count(0, 1) == 0);
  REQUIRE(b.value().to_vector() == std::vector<float>{1.f, 1.f});
  // First Adam step moves by lr (m / sqrt(v) = 1 after bias correction).
  REQUIRE(a.value().to_vector()[0] == Approx(0.9f).epsilon(tol::f32_ulps));
}

TEST_CASE("adamw: bad hyper-parameters and parameters are a psalm::Error", "[optim][adamw]") {
  auto p = Var<float>::parameter(Tensor<float>::ones({3}));
  REQUIRE_THROWS_AS(AdamW<float>({{.params = {p}, .lr = -1.0}}), psalm::Error);
  REQUIRE_THROWS_AS(AdamW<float>({{.params = {p}}}, {.beta1 = 1.0}), psalm::Error);
  REQUIRE_THROWS_AS(AdamW<float>({{.params = {Var<float>(Tensor<float>::ones({3}))}}}),
                    psalm::Error);  // does not require a gradient
  auto strided = Var<float>::parameter(Tensor<float>::ones({4, 3}).transpose(0, 1));
  REQUIRE_THROWS_AS(AdamW<float>({{.params = {strided}}}), psalm::Error);
}
