// Tests for psalm/autograd/ops/select.hpp: where with broadcasting and masked_fill against
// finite differences in double and PyTorch (tests/fixtures/autograd/select.json).
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("select: where and masked_fill backward match finite differences", "[autograd][select]") {
  const auto cond = Tensor<std::uint8_t>::from_data({1, 0, 1, 0, 0, 1}, {2, 3});
  const auto mask = Tensor<std::uint8_t>::from_data({0, 1, 1}, {3});
  const auto a = Tensor<double>::randn({3, 2}, 91).transpose(0, 1);  // (2, 3) view
  check_gradients([&](const Vars<double>& v) { return where(cond, v[0], v[1]); },
                  {a, Tensor<double>::randn({3}, 92)});
  check_gradients([&](const Vars<double>& v) { return masked_fill(v[0], mask, -2.0) * v[0]; }, {a});
}

TEST_CASE("select: forward and backward match PyTorch", "[autograd][select]") {
  const auto cond = testing::fixture_tensor<std::uint8_t>("select", "where", "cond");
  const auto mask = testing::fixture_tensor<std::uint8_t>("select", "masked_fill", "mask");
  check_against_torch("select", "where",
                      [&](const Vars<float>& v) { return where(cond, v[0], v[1]); });
  check_against_torch("select", "masked_fill",
                      [&](const Vars<float>& v) { return masked_fill(v[0], mask, -2.0); });
}
