// Tests for psalm/autograd/ops/dice.hpp: Mask2Former's dice loss (sum over masks / num_masks,
// per-mask values with reduction none, empty target masks) against finite differences in double
// (strided logits) and the criterion's formula run by PyTorch autograd
// (tests/fixtures/autograd_ops3/dice.json).
#include "op_check.hpp"
#include "psalm/autograd/ops/dice.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops3/dice";  // beside tests/fixtures/autograd/
}  // namespace

TEST_CASE("dice: backward matches finite differences", "[autograd][dice]") {
  const auto x = Tensor<double>::randn({4, 3, 2}, 61, 0.0, 2.0).permute({2, 0, 1});  // (2, 4, 3)
  auto y = Tensor<double>(Tensor<double>::rand({2, 4, 3}, 62) < 0.5);
  y.select(0, 1).fill(0.0);  // an empty target
  const DiceOptions cases[] = {
      {}, {.reduction = Reduction::sum}, {.reduction = Reduction::none}, {.num_masks = 5.0}};
  for (const auto& opt : cases) {
    INFO("reduction " << static_cast<int>(opt.reduction) << " num_masks " << opt.num_masks);
    check_gradients([&](const Vars<double>& v) { return dice_loss(v[0], y, opt); }, {x});
  }
}

TEST_CASE("dice: forward and backward match PyTorch", "[autograd][dice]") {
  const auto y = testing::fixture_tensor<float>(kFile, "mean", "target");
  check_against_torch(kFile, "num_masks_3",
                      [&](const Vars<float>& v) { return dice_loss(v[0], y, {.num_masks = 3.0}); });
  check_against_torch(kFile, "mean", [&](const Vars<float>& v) { return dice_loss(v[0], y); });
  check_against_torch(kFile, "none", [&](const Vars<float>& v) {
    return dice_loss(v[0], y, {.reduction = Reduction::none});
  });
}

TEST_CASE("dice: a mask equal to its target far from the boundary costs almost nothing",
          "[autograd][dice]") {
  const auto y = Tensor<double>::from_data({1, 0, 1, 0, 0, 0}, Shape{2, 3});
  const auto x = Var<double>(Tensor<double>(where(y > 0.5, 40.0, -40.0)));
  const auto per_mask = dice_loss(x, y, {.reduction = Reduction::none}).value().to_vector();
  REQUIRE(per_mask[0] == Approx(0.0).margin(tol::f64_atol));
  REQUIRE(per_mask[1] ==
          Approx(0.0).margin(tol::f64_atol));  // empty target, empty prediction: (0+1)/(0+1)
}

TEST_CASE("dice: mismatched target or negative num_masks is a psalm::Error", "[autograd][dice]") {
  const auto x = Var<float>::parameter(Tensor<float>::zeros({2, 3}));
  REQUIRE_THROWS_AS(dice_loss(x, Tensor<float>::zeros({2, 4})), psalm::Error);
  REQUIRE_THROWS_AS(dice_loss(x, Tensor<float>::zeros({2, 3}), {.num_masks = -1.0}), psalm::Error);
}
