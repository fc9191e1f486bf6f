// Tests for psalm/autograd/reduce_broadcast.hpp: sum_to_shape against sums written out by hand
// and against tensor/reduce.hpp, on contiguous and strided gradients.
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;

TEST_CASE("sum_to_shape: sums over leading and extent-1 axes", "[autograd][reduce_broadcast]") {
  const auto g = Tensor<double>::arange(24).reshape({2, 3, 4});
  testing::require_close(sum_to_shape(g, Shape{3, 1}),
                         Tensor<double>(psalm::sum(psalm::sum(g, 0), 1, true)), 0, 0);
  testing::require_close(sum_to_shape(g, Shape{4}), Tensor<double>(psalm::sum(psalm::sum(g, 0), 0)),
                         0, 0);
  testing::require_close(sum_to_shape(g, Shape{2, 1, 1}),
                         Tensor<double>::from_data({66.0, 210.0}, {2, 1, 1}), 0, 0);
  testing::require_close(sum_to_shape(g, Shape{}), Tensor<double>::from_data({276.0}, {}), 0, 0);
}

TEST_CASE("sum_to_shape: strided input and the no-copy case", "[autograd][reduce_broadcast]") {
  const auto g = Tensor<double>::randn({4, 3}, 5).transpose(0, 1);  // (3, 4) view
  testing::require_close(sum_to_shape(g, Shape{1, 4}), Tensor<double>(psalm::sum(g, 0, true)),
                         1e-15, 1e-15);
  REQUIRE(sum_to_shape(g, g.shape()).data() == g.data());
  REQUIRE_THROWS_AS(sum_to_shape(g, Shape{2, 4}), psalm::Error);
}
