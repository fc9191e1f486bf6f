// Tests for psalm/autograd/ops/focal.hpp: sigmoid focal loss with and without alpha, gamma 0,
// 1.5 and 2, each reduction, against finite differences in double (strided logits, soft
// targets) and torchvision's formula run by PyTorch autograd
// (tests/fixtures/autograd_ops3/focal.json).
#include "op_check.hpp"
#include "psalm/autograd/ops/bce.hpp"
#include "psalm/autograd/ops/focal.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops3/focal";  // beside tests/fixtures/autograd/
}  // namespace

TEST_CASE("focal: backward matches finite differences", "[autograd][focal]") {
  const auto x = Tensor<double>::randn({5, 3}, 51, 0.0, 2.0).transpose(0, 1);  // (3, 5) view
  auto y = Tensor<double>(Tensor<double>::rand({3, 5}, 52) < 0.5);
  y.select(0, 2).select(0, 3).fill(0.25);  // a soft target
  const FocalOptions cases[] = {{},
                                {.alpha = -1.0, .gamma = 1.5, .reduction = Reduction::mean},
                                {.alpha = 0.6, .gamma = 0.0, .reduction = Reduction::sum},
                                {.alpha = 0.4, .gamma = 3.0, .reduction = Reduction::none}};
  for (const auto& opt : cases) {
    INFO("alpha " << opt.alpha << " gamma " << opt.gamma);
    check_gradients([&](const Vars<double>& v) { return sigmoid_focal_loss(v[0], y, opt); }, {x});
  }
}

TEST_CASE("focal: forward and backward match PyTorch", "[autograd][focal]") {
  const auto y = testing::fixture_tensor<float>(kFile, "default_none", "target");
  check_against_torch(kFile, "default_none",
                      [&](const Vars<float>& v) { return sigmoid_focal_loss(v[0], y); });
  check_against_torch(kFile, "alpha_off_gamma_1_5_mean", [&](const Vars<float>& v) {
    return sigmoid_focal_loss(v[0], y, {.alpha = -1.0, .gamma = 1.5, .reduction = Reduction::mean});
  });
  check_against_torch(kFile, "gamma_0_sum", [&](const Vars<float>& v) {
    return sigmoid_focal_loss(v[0], y, {.alpha = 0.6, .gamma = 0.0, .reduction = Reduction::sum});
  });
}

TEST_CASE("focal: with gamma 0 and no alpha it equals binary cross-entropy", "[autograd][focal]") {
  const auto x = Var<double>(Tensor<double>::randn({4, 4}, 53, 0.0, 3.0));
  const auto y = Tensor<double>(Tensor<double>::rand({4, 4}, 54) < 0.5);
  const auto focal = sigmoid_focal_loss(x, y, {.alpha = -1.0, .gamma = 0.0});
  const auto bce = binary_cross_entropy_with_logits(x, y, {.reduction = Reduction::none});
  testing::require_close(focal.value(), bce.value(), 1e-15, 1e-15);
}

TEST_CASE("focal: bad alpha, gamma or target shape is a psalm::Error", "[autograd][focal]") {
  const auto x = Var<float>::parameter(Tensor<float>::zeros({2, 3}));
  const auto y = Tensor<float>::zeros({2, 3});
  REQUIRE_THROWS_AS(sigmoid_focal_loss(x, Tensor<float>::zeros({3})), psalm::Error);
  REQUIRE_THROWS_AS(sigmoid_focal_loss(x, y, {.alpha = 1.5}), psalm::Error);
  REQUIRE_THROWS_AS(sigmoid_focal_loss(x, y, {.gamma = -1.0}), psalm::Error);
}
