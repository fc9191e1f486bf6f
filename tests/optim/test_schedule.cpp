// Tests for psalm/optim/schedule.hpp: the warm-up + cosine multipliers equal the reference
// script's (tests/fixtures/autograd_ops3/optim.json, the lambda given to torch's LambdaLR), the
// floor is held after the last step, and LambdaLr applies them to every group's initial rate.
#include <cmath>

#include "optim_fixture.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::optim;
using autograd::Var;

TEST_CASE("schedule: warm-up then cosine to a floor matches the reference multipliers",
          "[optim][schedule]") {
  const auto& j = testing::optim_fixture();
  const auto f =
      warmup_cosine_schedule(j.at("warmup").get<std::int64_t>(), j.at("total").get<std::int64_t>(),
                             j.at("floor").get<double>());
  const auto want = j.at("multipliers").get<std::vector<double>>();
  for (std::size_t s = 0; s < want.size(); ++s) {
    INFO("step " << s);
    REQUIRE(f(static_cast<std::int64_t>(s)) ==
            Approx(want[s]).epsilon(tol::f64_ulps).margin(tol::denormal_margin));
  }
  REQUIRE(f(1000) == Approx(j.at("floor").get<double>()));
}

TEST_CASE("schedule: without a floor the cosine equals Hugging Face's formula",
          "[optim][schedule]") {
  const auto f = warmup_cosine_schedule(10, 110, 0.0);
  REQUIRE(f(0) == 0.0);
  REQUIRE(f(5) == 0.5);
  REQUIRE(f(10) == 1.0);
  REQUIRE(f(60) == Approx(0.5).epsilon(tol::f64_ulps));  // halfway: cos(pi / 2)
  REQUIRE(f(35) == Approx(0.5 * (1 + std::cos(M_PI * 0.25))).epsilon(tol::f64_ulps));
  REQUIRE(f(110) == Approx(0.0).margin(tol::f64_zero));
  REQUIRE(constant_schedule()(12345) == 1.0);
  REQUIRE(linear_warmup_schedule(4)(1) == 0.25);
  REQUIRE(linear_warmup_schedule(4)(9) == 1.0);
  REQUIRE_THROWS_AS(warmup_cosine_schedule(10, 5), psalm::Error);
  REQUIRE_THROWS_AS(warmup_cosine_schedule(1, 5, 1.5), psalm::Error);
}

TEST_CASE("schedule: LambdaLr scales each group's initial learning rate", "[optim][schedule]") {
  auto a = Var<float>::parameter(Tensor<float>::ones({2}));
  auto b = Var<float>::parameter(Tensor<float>::ones({2}));
  AdamW<float> opt({{.params = {a}, .lr = 0.1}, {.params = {b}, .lr = 0.02}});
  LambdaLr sched(opt, linear_warmup_schedule(4));
  REQUIRE(opt.groups()[0].lr == 0.0);
  sched.step();
  sched.step();
  REQUIRE(sched.count() == 2);
  REQUIRE(opt.groups()[0].lr == Approx(0.05));
  REQUIRE(opt.groups()[1].lr == Approx(0.01));
  REQUIRE(opt.groups()[1].initial_lr == 0.02);
}
