// Tests for psalm/autograd/var.hpp: leaves with and without gradients, accumulation across
// backward calls, zero_grad, detach, retain_grad and the GradSlot sharing rules.
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;

TEST_CASE("var: a leaf that does not require a gradient gets none", "[autograd][var]") {
  auto w = Var<double>::parameter(Tensor<double>::from_data({2.0}, {1}));
  const Var<double> c(Tensor<double>::from_data({3.0}, {1}));
  REQUIRE_FALSE(c.requires_grad());
  REQUIRE(c.is_leaf());
  backward(sum(w * c));
  REQUIRE(w.grad().to_vector() == std::vector<double>{3.0});
  REQUIRE_FALSE(c.grad().defined());
}

TEST_CASE("var: parameter gradients accumulate across backward calls until zero_grad",
          "[autograd][var]") {
  auto w = Var<double>::parameter(Tensor<double>::from_data({2.0, -1.0}, {2}));
  backward(sum(w * w));
  const Tensor<double> first = w.grad();  // a handle the caller keeps: must not change
  backward(sum(w * w));
  REQUIRE(w.grad().to_vector() == std::vector<double>{8.0, -4.0});
  REQUIRE(first.to_vector() == std::vector<double>{4.0, -2.0});
  backward(sum(w * 3.0));
  REQUIRE(w.grad().to_vector() == std::vector<double>{11.0, -1.0});
  w.zero_grad();
  REQUIRE_FALSE(w.grad().defined());
  backward(sum(w));
  REQUIRE(w.grad().to_vector() == std::vector<double>{1.0, 1.0});
}

TEST_CASE("var: detach shares the value and cuts the gradient", "[autograd][var]") {
  auto w = Var<double>::parameter(Tensor<double>::from_data({2.0}, {1}));
  const auto y = w * w;
  const auto d = y.detach();
  REQUIRE_FALSE(d.requires_grad());
  REQUIRE(d.value().shares_storage_with(y.value()));
  backward(sum(y * d));  // d/dw (w^2 * const 4) = 8 w = 16, not 4 w^3 = 32
  REQUIRE(w.grad().to_vector() == std::vector<double>{16.0});
}

TEST_CASE("var: non-leaf gradients are released unless retained", "[autograd][var]") {
  auto w = Var<double>::parameter(Tensor<double>::from_data({1.0, 2.0}, {2}));
  auto h = w * 2.0;
  auto k = w * 3.0;
  h.retain_grad();
  REQUIRE_FALSE(h.is_leaf());
  backward(sum(h * k));
  REQUIRE(h.grad().to_vector() == std::vector<double>{3.0, 6.0});  // = k
  REQUIRE_FALSE(k.grad().defined());
  REQUIRE(w.grad().to_vector() == std::vector<double>{12.0, 24.0});  // 12 w
}

TEST_CASE("var: a gradient of the wrong shape is a psalm::Error", "[autograd][var]") {
  GradSlot<float, cpu> slot(Shape{2, 3}, true);
  REQUIRE_THROWS_AS(slot.accumulate(Tensor<float>::zeros({3, 2})), psalm::Error);
  REQUIRE_THROWS_AS(Var<float>(Tensor<float>()), psalm::Error);
}
