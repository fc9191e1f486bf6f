// Tests for psalm/autograd/ops/reduce.hpp: sum, mean, max along an axis and in total, against
// finite differences in double (non-contiguous inputs, no ties) and PyTorch
// (tests/fixtures/autograd/reduce.json).
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("reduce: sum, mean and max backward match finite differences", "[autograd][reduce]") {
  const auto x = Tensor<double>::randn({4, 3, 2}, 41).permute({2, 1, 0});  // (2, 3, 4) view
  for (int axis : {0, 1, 2, -1}) {
    for (bool keep : {false, true}) {
      INFO("axis " << axis << " keepdim " << keep);
      check_gradients([=](const Vars<double>& v) { return sum(v[0], axis, keep); }, {x});
      check_gradients([=](const Vars<double>& v) { return mean(v[0], axis, keep); }, {x});
      check_gradients([=](const Vars<double>& v) { return max(v[0], axis, keep); }, {x});
    }
  }
  check_gradients([](const Vars<double>& v) { return sum(v[0]); }, {x});
  check_gradients([](const Vars<double>& v) { return mean(v[0]); }, {x});
  check_gradients([](const Vars<double>& v) { return max(v[0]); }, {x});
}

TEST_CASE("reduce: total max shares the gradient among ties, axis max picks the first",
          "[autograd][reduce]") {
  auto x = Var<double>::parameter(Tensor<double>::from_data({3.0, 1.0, 3.0, 2.0}, {2, 2}));
  backward(max(x));
  REQUIRE(x.grad().to_vector() == std::vector<double>{0.5, 0.0, 0.5, 0.0});
  x.zero_grad();
  backward(sum(max(x, 0)));  // columns (3, 3) and (1, 2): first maximum of each
  REQUIRE(x.grad().to_vector() == std::vector<double>{1.0, 0.0, 0.0, 1.0});
}

TEST_CASE("reduce: forward and backward match PyTorch", "[autograd][reduce]") {
  check_against_torch("reduce", "sum_all", [](const Vars<float>& v) { return sum(v[0]); });
  check_against_torch("reduce", "sum_axis1_keepdim",
                      [](const Vars<float>& v) { return sum(v[0], 1, true); });
  check_against_torch("reduce", "sum_last", [](const Vars<float>& v) { return sum(v[0], -1); });
  check_against_torch("reduce", "mean_all", [](const Vars<float>& v) { return mean(v[0]); });
  check_against_torch("reduce", "mean_axis0", [](const Vars<float>& v) { return mean(v[0], 0); });
  check_against_torch("reduce", "max_axis1", [](const Vars<float>& v) { return max(v[0], 1); });
  check_against_torch("reduce", "max_all", [](const Vars<float>& v) { return max(v[0]); });
}
