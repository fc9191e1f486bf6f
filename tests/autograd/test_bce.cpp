// Tests for psalm/autograd/ops/bce.hpp: binary cross-entropy with logits with pos_weight
// (scalar and per class, broadcast), soft targets and far tails, against finite differences in
// double (strided logits) and F.binary_cross_entropy_with_logits
// (tests/fixtures/autograd_ops3/bce.json).
#include <cmath>

#include "op_check.hpp"
#include "psalm/autograd/ops/bce.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops3/bce";  // beside tests/fixtures/autograd/
}  // namespace

TEST_CASE("bce_with_logits: backward matches finite differences", "[autograd][bce]") {
  const auto x = Tensor<double>::randn({4, 3}, 41, 0.0, 2.0).transpose(0, 1);  // (3, 4) view
  auto y = Tensor<double>(Tensor<double>::rand({3, 4}, 42) < 0.5);
  y.select(0, 0).select(0, 1).fill(0.3);
  const auto pw = Tensor<double>::from_data({0.5, 2.0, 1.0, 4.0}, Shape{4});
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    INFO("reduction " << static_cast<int>(r));
    check_gradients(
        [&](const Vars<double>& v) {
          return binary_cross_entropy_with_logits(v[0], y, {.pos_weight = pw, .reduction = r});
        },
        {x});
    check_gradients(
        [&](const Vars<double>& v) {
          return binary_cross_entropy_with_logits(v[0], y, {.reduction = r});
        },
        {x});
  }
}

TEST_CASE("bce_with_logits: forward and backward match PyTorch", "[autograd][bce]") {
  auto y = [](const char* c) { return testing::fixture_tensor<float>(kFile, c, "target"); };
  auto pw = [](const char* c) { return testing::fixture_tensor<float>(kFile, c, "pos_weight"); };
  const auto y_mean = y("mean"), y_s = y("pos_weight_scalar_mean"),
             y_c = y("pos_weight_class_none"), y_sum = y("sum");
  const auto pw_s = pw("pos_weight_scalar_mean"), pw_c = pw("pos_weight_class_none");
  check_against_torch(kFile, "mean", [&](const Vars<float>& v) {
    return binary_cross_entropy_with_logits(v[0], y_mean);
  });
  check_against_torch(kFile, "pos_weight_scalar_mean", [&](const Vars<float>& v) {
    return binary_cross_entropy_with_logits(v[0], y_s, {.pos_weight = pw_s});
  });
  check_against_torch(kFile, "pos_weight_class_none", [&](const Vars<float>& v) {
    return binary_cross_entropy_with_logits(v[0], y_c,
                                            {.pos_weight = pw_c, .reduction = Reduction::none});
  });
  check_against_torch(kFile, "sum", [&](const Vars<float>& v) {
    return binary_cross_entropy_with_logits(v[0], y_sum, {.reduction = Reduction::sum});
  });
}

TEST_CASE("bce_with_logits: logits of +-100 give finite, exact losses and gradients",
          "[autograd][bce]") {
  const auto x = Var<float>::parameter(Tensor<float>::from_data({100.f, -100.f, 100.f}, Shape{3}));
  const auto y = Tensor<float>::from_data({0.f, 0.f, 1.f}, Shape{3});
  const auto loss = binary_cross_entropy_with_logits(x, y, {.reduction = Reduction::none});
  REQUIRE(loss.value().to_vector()[0] == 100.f);
  REQUIRE(loss.value().to_vector()[1] == Approx(0.0).margin(tol::f64_underflow));
  REQUIRE(loss.value().to_vector()[2] == Approx(0.0).margin(tol::f64_underflow));
  backward(loss, Tensor<float>::ones({3}));
  const auto g = x.grad().to_vector();
  REQUIRE(g[0] == 1.f);
  REQUIRE(std::isfinite(g[1]));
  REQUIRE(std::isfinite(g[2]));
}

TEST_CASE("bce_with_logits: mismatched target or pos_weight is a psalm::Error", "[autograd][bce]") {
  const auto x = Var<float>::parameter(Tensor<float>::zeros({2, 3}));
  REQUIRE_THROWS_AS(binary_cross_entropy_with_logits(x, Tensor<float>::zeros({3, 2})),
                    psalm::Error);
  REQUIRE_THROWS_AS(binary_cross_entropy_with_logits(x, Tensor<float>::zeros({2, 3}),
                                                     {.pos_weight = Tensor<float>::ones({2})}),
                    psalm::Error);
}
