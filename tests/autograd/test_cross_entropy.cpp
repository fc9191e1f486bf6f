// Tests for psalm/autograd/ops/cross_entropy.hpp: class weights (PyTorch's weighted mean),
// ignore_index and the three reductions against finite differences in double (strided logits)
// and F.cross_entropy (tests/fixtures/autograd_ops3/cross_entropy.json); bad targets are errors.
#include <cmath>

#include "op_check.hpp"
#include "psalm/autograd/ops/cross_entropy.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops3/cross_entropy";  // beside tests/fixtures/autograd/

Tensor<std::int64_t> targets(const std::string& name) {
  return Tensor<std::int64_t>(
      cast<std::int64_t>(testing::fixture_tensor<double>(kFile, name, "target")));
}
}  // namespace

TEST_CASE("cross_entropy: backward matches finite differences for every reduction",
          "[autograd][cross_entropy]") {
  const auto logits = Tensor<double>::randn({5, 6}, 21).transpose(0, 1);  // (6, 5) view
  const auto target = Tensor<std::int64_t>::from_data({0, 4, -100, 2, 2, 1}, Shape{6});
  const auto weight = Tensor<double>::from_data({1.0, 0.3, 2.0, 0.7, 1.4}, Shape{5});
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    INFO("reduction " << static_cast<int>(r));
    check_gradients(
        [&](const Vars<double>& x) {
          return cross_entropy(x[0], target, {.weight = weight, .reduction = r});
        },
        {logits});
    check_gradients(
        [&](const Vars<double>& x) { return cross_entropy(x[0], target, {.reduction = r}); },
        {logits});
  }
}

TEST_CASE("cross_entropy: forward and backward match PyTorch", "[autograd][cross_entropy]") {
  const auto weight = testing::fixture_tensor<float>(kFile, "weighted_mean", "weight");
  const Reduction reductions[] = {Reduction::mean, Reduction::sum, Reduction::none};
  const char* names[] = {"weighted_mean", "weighted_sum", "weighted_none"};
  for (int i = 0; i < 3; ++i) {
    const auto t = targets(names[i]);
    check_against_torch(kFile, names[i], [&](const Vars<float>& x) {
      return cross_entropy(x[0], t, {.weight = weight, .reduction = reductions[i]});
    });
  }
  const auto t = targets("unweighted_mean");
  check_against_torch(kFile, "unweighted_mean",
                      [&](const Vars<float>& x) { return cross_entropy(x[0], t); });
}

TEST_CASE("cross_entropy: the weighted mean divides by the weights of the kept rows",
          "[autograd][cross_entropy]") {
  // Two rows of equal logits: nll = log(2) each; weights 3 and 1; one row ignored.
  const auto x = Var<double>(Tensor<double>::zeros({3, 2}));
  const auto t = Tensor<std::int64_t>::from_data({0, 1, 7}, Shape{3});
  const auto w = Tensor<double>::from_data({3.0, 1.0}, Shape{2});
  const auto loss = cross_entropy(x, t, {.weight = w, .ignore_index = 7});
  REQUIRE(loss.rank() == 0);
  REQUIRE(loss.value().item() == Approx(std::log(2.0)).epsilon(tol::f64_short));
  const auto none =
      cross_entropy(x, t, {.weight = w, .ignore_index = 7, .reduction = Reduction::none});
  REQUIRE(none.value().to_vector() == std::vector<double>{3 * std::log(2.0), std::log(2.0), 0.0});
  // Every row ignored: 0 / 0, NaN as PyTorch.
  const auto all_ignored = Tensor<std::int64_t>::from_data({7, 7, 7}, Shape{3});
  REQUIRE(std::isnan(cross_entropy(x, all_ignored, {.ignore_index = 7}).value().item()));
}

TEST_CASE("cross_entropy: targets out of range and bad shapes are a psalm::Error",
          "[autograd][cross_entropy]") {
  const auto x = Var<float>::parameter(Tensor<float>::zeros({2, 3}));
  REQUIRE_THROWS_AS(cross_entropy(x, Tensor<std::int64_t>::from_data({0, 3}, Shape{2})),
                    psalm::Error);
  REQUIRE_THROWS_AS(cross_entropy(x, Tensor<std::int64_t>::from_data({-1, 0}, Shape{2})),
                    psalm::Error);
  REQUIRE_THROWS_AS(cross_entropy(x, Tensor<std::int64_t>::zeros({3})), psalm::Error);
  REQUIRE_THROWS_AS(
      cross_entropy(x, Tensor<std::int64_t>::zeros({2}), {.weight = Tensor<float>::ones({2})}),
      psalm::Error);
  REQUIRE_THROWS_AS(
      cross_entropy(Var<float>(Tensor<float>::zeros({2, 3, 1})), Tensor<std::int64_t>::zeros({2})),
      psalm::Error);
}
