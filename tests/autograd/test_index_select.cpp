// Tests for psalm/autograd/ops/index_select.hpp: selection with repeated indices along inner
// and outer axes against finite differences in double (permuted input) and PyTorch
// (tests/fixtures/autograd_ops2/index_select.json), and index validation.
#include "op_check.hpp"
#include "psalm/autograd/ops/index_select.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops2/index_select";
}  // namespace

TEST_CASE("index_select: backward matches finite differences with repeated indices",
          "[autograd][index_select]") {
  const auto index = Tensor<std::int64_t>::from_data({2, 0, 2, 1, 2}, Shape{5});
  const auto x = Tensor<double>::randn({3, 4, 5}, 51).permute({2, 1, 0});  // (5, 4, 3)
  for (int axis : {0, 2, -1})
    check_gradients([&](const Vars<double>& v) { return index_select(v[0], axis, index); }, {x});
}

TEST_CASE("index_select: forward and backward match PyTorch", "[autograd][index_select]") {
  for (const auto& [name, axis] : {std::pair{"axis1", 1}, std::pair{"axis0", 0}}) {
    const auto index = testing::fixture_tensor<std::int64_t>(kFile, name, "index");
    testing::check_against_torch(
        kFile, name, [&](const Vars<float>& v) { return index_select(v[0], axis, index); });
  }
}

TEST_CASE("index_select: rejects out-of-range and multi-axis indices", "[autograd][index_select]") {
  const Var<float> x(Tensor<float>::zeros({3, 4}));
  REQUIRE_THROWS_AS(index_select(x, 0, Tensor<std::int64_t>::from_data({0, 3}, Shape{2})), Error);
  REQUIRE_THROWS_AS(index_select(x, 1, Tensor<std::int32_t>::from_data({-1}, Shape{1})), Error);
  REQUIRE_THROWS_AS(index_select(x, 0, Tensor<std::int64_t>::zeros({1, 1})), Error);
  REQUIRE(index_select(x, 1, Tensor<std::int64_t>::zeros({0})).shape() == Shape{3, 0});
}
