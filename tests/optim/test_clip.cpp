// Tests for psalm/optim/clip.hpp: clip_grad_norm returns the total norm and scales gradients
// as torch.nn.utils.clip_grad_norm_ (tests/fixtures/autograd_ops3/optim.json), leaves them alone
// below max_norm, skips frozen groups, and scales a gradient shared by two inputs only once.
#include "optim_fixture.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::optim;
using autograd::Var;

namespace {
template <class T>
std::vector<Var<T>> params_with_step0_grads() {
  const Tensor<double> grads =
      testing::tensor_from_json<double>(testing::optim_fixture().at("grads")[0]);
  auto params = testing::fixture_params<T>();
  std::int64_t offset = 0;
  for (auto& p : params) {
    const Tensor<T> g = Tensor<T>(cast<T>(grads.select(0, 0).narrow(0, offset, p.numel())));
    autograd::backward(
        p, Tensor<T>(g.contiguous())
               .reshape(std::vector<std::int64_t>(p.shape().dims().v.begin(),
                                                  p.shape().dims().v.begin() + p.rank())));
    offset += p.numel();
  }
  return params;
}
}  // namespace

TEST_CASE("clip: total norm and clipped gradients match clip_grad_norm_", "[optim][clip]") {
  for (const char* key : {"1.0", "100.0"}) {
    INFO("max_norm " << key);
    const auto& c = testing::optim_fixture().at("clip").at(key);
    const double max_norm = std::stod(key);
    auto pd = params_with_step0_grads<double>();
    REQUIRE(clip_grad_norm(pd, max_norm) ==
            Approx(c.at("total_norm").get<double>()).epsilon(tol::f64_short));
    auto pf = params_with_step0_grads<float>();
    REQUIRE(clip_grad_norm(pf, max_norm) ==
            Approx(c.at("total_norm").get<double>()).epsilon(tol::f32_ulps));
    for (std::size_t i = 0; i < pd.size(); ++i) {
      const auto want = testing::tensor_from_json<double>(c.at("grads")[i]);
      testing::require_close(pd[i].grad(), want, 1e-14, 1e-15);
      testing::require_close(pf[i].grad(), want, 1e-6, 1e-7);
    }
  }
}

TEST_CASE("clip: frozen groups are neither counted nor scaled", "[optim][clip]") {
  auto a = Var<double>::parameter(Tensor<double>::zeros({2}));
  auto b = Var<double>::parameter(Tensor<double>::zeros({1}));
  autograd::backward(a, Tensor<double>::from_data({3.0, 4.0}, Shape{2}));
  autograd::backward(b, Tensor<double>::from_data({100.0}, Shape{1}));
  std::vector<ParamGroup<double>> groups{{.params = {a}}, {.params = {b}, .frozen = true}};
  REQUIRE(clip_grad_norm(groups, 1.0) == Approx(5.0).epsilon(tol::f64_ulps));
  REQUIRE(a.grad().to_vector()[0] == Approx(0.6).epsilon(tol::f32_ulps));
  REQUIRE(b.grad().to_vector()[0] == 100.0);
  REQUIRE(clip_grad_norm(groups, 1.0, INFINITY) == Approx(0.8).epsilon(tol::f32_ulps));
}

TEST_CASE("clip: a gradient tensor shared by two parameters is scaled once for each",
          "[optim][clip]") {
  auto a = Var<double>::parameter(Tensor<double>::zeros({2}));
  auto b = Var<double>::parameter(Tensor<double>::zeros({2}));
  const auto y = autograd::add(a, b);  // backward hands the same d_y to both leaves
  autograd::backward(y, Tensor<double>::from_data({3.0, 4.0}, Shape{2}));
  std::vector<Var<double>> params{a, b};
  REQUIRE(clip_grad_norm(params, 1.0) == Approx(std::sqrt(50.0)).epsilon(tol::f64_ulps));
  const double s = 1.0 / (std::sqrt(50.0) + 1e-6);
  REQUIRE(a.grad().to_vector()[0] == Approx(3.0 * s).epsilon(tol::f64_short));
  REQUIRE(b.grad().to_vector()[0] == Approx(3.0 * s).epsilon(tol::f64_short));
  REQUIRE_THROWS_AS(clip_grad_norm(params, 1.0, 1.0), psalm::Error);
}
