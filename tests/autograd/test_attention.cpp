// Tests for psalm/autograd/ops/attention.hpp: fused scaled-dot-product attention with an
// additive mask, a boolean mask and both, against finite differences in double (strided q / k /
// v views, broadcast masks) and PyTorch's F.scaled_dot_product_attention
// (tests/fixtures/autograd_ops3/attention.json); fully blocked rows give zeros.
#include <limits>

#include "op_check.hpp"
#include "psalm/autograd/ops/attention.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

namespace {
// op_check reads tests/fixtures/autograd/<file>.json; these fixtures live beside it.
const std::string kFile = "../autograd_ops3/attention";

Tensor<std::uint8_t> blocked_from(const Tensor<double>& m) {
  return Tensor<std::uint8_t>(cast<std::uint8_t>(m));
}
}  // namespace

TEST_CASE("attention: backward matches finite differences, no mask and strided inputs",
          "[autograd][attention]") {
  // q as a permuted view, k as a sliced view, v contiguous.
  const auto q = Tensor<double>::randn({2, 3, 4, 5}, 1).permute({0, 2, 1, 3});  // (2, 4, 3, 5)
  const auto k = Tensor<double>::randn({2, 4, 6, 5}, 2).slice(2, 0, 6, 2);      // (2, 4, 3, 5)
  const auto v = Tensor<double>::randn({2, 4, 3, 7}, 3);
  check_gradients(
      [](const Vars<double>& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
      {q.permute({0, 2, 1, 3}).permute({0, 2, 1, 3}), k, v});
  check_gradients(
      [](const Vars<double>& x) { return scaled_dot_product_attention(x[0], x[1], x[2], {}, 0.7); },
      {q, k, v});
}

TEST_CASE("attention: backward matches finite differences with additive and boolean masks",
          "[autograd][attention]") {
  const auto q = Tensor<double>::randn({2, 2, 3, 4}, 4);
  const auto k = Tensor<double>::randn({2, 2, 5, 4}, 5);
  const auto v = Tensor<double>::randn({2, 2, 5, 3}, 6);
  auto additive = Tensor<double>::randn({2, 1, 3, 5}, 7);  // broadcast over heads
  additive.select(0, 1).select(0, 0).select(0, 2).fill(-std::numeric_limits<double>::infinity());
  auto block = Tensor<std::uint8_t>::zeros({3, 5});  // broadcast over batch and heads
  block.select(0, 0).slice(0, 1, 4).fill(1);
  block.select(0, 2).select(0, 4).fill(1);
  const auto key_padding = Tensor<std::uint8_t>::zeros({2, 1, 1, 5});
  key_padding.select(0, 1).select(0, 0).select(0, 0).slice(0, 3, 5).fill(1);
  for (int which = 0; which < 4; ++which) {
    INFO("mask combination " << which);
    AttentionMask<double, cpu> m;
    if (which == 0 || which == 2) m.additive = additive;
    if (which == 1 || which == 2) m.blocked = block;
    if (which == 3) m.blocked = key_padding;
    check_gradients(
        [&](const Vars<double>& x) { return scaled_dot_product_attention(x[0], x[1], x[2], m); },
        {q, k, v});
  }
}

TEST_CASE("attention: forward and backward match PyTorch", "[autograd][attention]") {
  check_against_torch(kFile, "plain", [](const Vars<float>& x) {
    return scaled_dot_product_attention(x[0], x[1], x[2]);
  });
  const auto mask = testing::fixture_tensor<float>(kFile, "additive_mask", "mask");
  check_against_torch(kFile, "additive_mask", [&](const Vars<float>& x) {
    return scaled_dot_product_attention(x[0], x[1], x[2], {.additive = mask});
  });
  const auto blocked =
      blocked_from(testing::fixture_tensor<double>(kFile, "bool_mask_scale", "blocked"));
  check_against_torch(kFile, "bool_mask_scale", [&](const Vars<float>& x) {
    return scaled_dot_product_attention(x[0], x[1], x[2], {.blocked = blocked}, 0.3);
  });
}

TEST_CASE("attention: a query row blocked everywhere gives a zero output and zero gradients",
          "[autograd][attention]") {
  auto q = Var<double>::parameter(Tensor<double>::randn({1, 2, 3, 4}, 8));
  auto k = Var<double>::parameter(Tensor<double>::randn({1, 2, 5, 4}, 9));
  auto v = Var<double>::parameter(Tensor<double>::randn({1, 2, 5, 4}, 10));
  auto block = Tensor<std::uint8_t>::zeros({1, 2, 3, 5});
  block.select(0, 0).select(0, 1).select(0, 2).fill(1);  // head 1, query 2: everything blocked
  const auto y = scaled_dot_product_attention(q, k, v, {.blocked = block});
  for (double e : y.value().select(0, 0).select(0, 1).select(0, 2).to_vector()) REQUIRE(e == 0.0);
  for (double e : y.value().select(0, 0).select(0, 0).select(0, 2).to_vector()) REQUIRE(e != 0.0);
  backward(y, Tensor<double>::ones(y.shape()));
  for (double e : q.grad().select(0, 0).select(0, 1).select(0, 2).to_vector()) REQUIRE(e == 0.0);
  for (double e : q.grad().to_vector()) REQUIRE(std::isfinite(e));
  for (double e : k.grad().to_vector()) REQUIRE(std::isfinite(e));
}

TEST_CASE("attention: mismatched shapes and masks are a psalm::Error", "[autograd][attention]") {
  auto q = Var<float>::parameter(Tensor<float>::zeros({1, 2, 3, 4}));
  auto k = Var<float>::parameter(Tensor<float>::zeros({1, 2, 5, 4}));
  auto v = Var<float>::parameter(Tensor<float>::zeros({1, 2, 5, 6}));
  auto k_bad = Var<float>::parameter(Tensor<float>::zeros({1, 2, 5, 3}));
  auto v_bad = Var<float>::parameter(Tensor<float>::zeros({1, 2, 4, 6}));
  REQUIRE_THROWS_AS(scaled_dot_product_attention(q, k_bad, v), psalm::Error);
  REQUIRE_THROWS_AS(scaled_dot_product_attention(q, k, v_bad), psalm::Error);
  REQUIRE_THROWS_AS(
      scaled_dot_product_attention(q, k, v, {.additive = Tensor<float>::zeros({3, 4})}),
      psalm::Error);
  REQUIRE_THROWS_AS(
      scaled_dot_product_attention(q, k, v, {.blocked = Tensor<std::uint8_t>::zeros({2, 2, 3, 5})}),
      psalm::Error);
  REQUIRE_THROWS_AS(scaled_dot_product_attention(q, k, v, {}, -1.0), psalm::Error);
  REQUIRE(scaled_dot_product_attention(q, k, v).shape() == Shape{1, 2, 3, 6});
}
