// Tests for psalm/autograd/ops/gather.hpp: torch.gather along inner and outer axes, with an
// index smaller than the input, against finite differences in double (permuted input) and
// PyTorch (tests/fixtures/autograd_ops2/gather.json), and its input checks.
#include "op_check.hpp"
#include "psalm/autograd/ops/gather.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops2/gather";
}  // namespace

TEST_CASE("gather: backward matches finite differences with repeated indices",
          "[autograd][gather]") {
  const auto x = Tensor<double>::randn({4, 3, 5}, 71).permute({1, 0, 2});  // (3, 4, 5)
  const auto index =
      Tensor<std::int64_t>::from_data({0, 3, 3, 1, 2, 2, 0, 0, 1, 3, 3, 3}, Shape{2, 2, 3});
  check_gradients([&](const Vars<double>& v) { return gather(v[0], 1, index); }, {x});
  const auto index0 = Tensor<std::int64_t>::from_data({2, 2, 0, 1}, Shape{1, 2, 2});
  check_gradients([&](const Vars<double>& v) { return gather(v[0], 0, index0); }, {x});
}

TEST_CASE("gather: forward and backward match PyTorch", "[autograd][gather]") {
  for (const auto& [name, axis] : {std::pair{"axis1", 1}, std::pair{"axis0_smaller_index", 0}}) {
    const auto index = testing::fixture_tensor<std::int64_t>(kFile, name, "index");
    testing::check_against_torch(kFile, name,
                                 [&](const Vars<float>& v) { return gather(v[0], axis, index); });
  }
}

TEST_CASE("gather: rejects rank mismatch, oversized index and out-of-range values",
          "[autograd][gather]") {
  const Var<float> x(Tensor<float>::zeros({2, 3}));
  REQUIRE_THROWS_AS(gather(x, 1, Tensor<std::int64_t>::zeros({2})), Error);
  REQUIRE_THROWS_AS(gather(x, 1, Tensor<std::int64_t>::zeros({3, 1})), Error);
  REQUIRE_THROWS_AS(gather(x, 1, Tensor<std::int64_t>::full({2, 1}, 3)), Error);
}
