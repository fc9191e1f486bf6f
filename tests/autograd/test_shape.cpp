// Tests for psalm/autograd/ops/shape.hpp: reshape, permute, transpose, slice, unsqueeze,
// squeeze, concat, stack, contiguous — views route gradients back to their base — against finite
// differences in double and PyTorch (tests/fixtures/autograd/shape.json).
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("shape: view ops and joins backward match finite differences", "[autograd][shape]") {
  const auto x = Tensor<double>::randn({4, 3, 2}, 81).permute({2, 1, 0});  // (2, 3, 4) view
  const auto weight = Tensor<double>::randn({4, 2, 3}, 82);
  check_gradients(
      [&](const Vars<double>& v) {
        return permute(v[0], {2, 0, 1}) * Var<double>(weight);
      },
      {x});
  check_gradients(
      [](const Vars<double>& v) {
        return reshape(transpose(v[0], 0, 1), {4, 6});
      },
      {x});
  check_gradients([](const Vars<double>& v) { return slice(v[0], 2, 1, 4, 2); }, {x});
  check_gradients([](const Vars<double>& v) { return squeeze(unsqueeze(v[0], 1), 1) * v[0]; }, {x});
  check_gradients(
      [](const Vars<double>& v) {
        return concat(Vars<double>{v[0], v[1], v[0]}, 1);
      },
      {Tensor<double>::randn({2, 3}, 83), Tensor<double>::randn({2, 1}, 84)});
  check_gradients(
      [](const Vars<double>& v) {
        return stack(Vars<double>{v[0], v[1]}, 2);
      },
      {Tensor<double>::randn({2, 3}, 85), Tensor<double>::randn({2, 3}, 86)});
}

TEST_CASE("shape: the gradient of a slice lands in the sliced part of its base",
          "[autograd][shape]") {
  auto x = Var<double>::parameter(Tensor<double>::zeros({2, 4}));
  backward(sum(slice(x, 1, 1, 4, 2)));
  REQUIRE(x.grad().to_vector() == std::vector<double>{0, 1, 0, 1, 0, 1, 0, 1});
}

TEST_CASE("shape: forward and backward match PyTorch", "[autograd][shape]") {
  const auto ramp = Var<float>(Tensor<float>::arange(24).reshape({4, 2, 3}));
  check_against_torch("shape", "permute", [&](const Vars<float>& v) {
    return permute(v[0], {2, 0, 1}) * ramp;
  });
  check_against_torch("shape", "transpose_reshape", [](const Vars<float>& v) {
    return reshape(transpose(v[0], 0, 1), {4, 6});
  });
  check_against_torch("shape", "slice_step",
                      [](const Vars<float>& v) { return slice(v[0], 1, 0, 3, 2); });
  check_against_torch("shape", "concat", [](const Vars<float>& v) { return concat(v, 1); });
  check_against_torch("shape", "stack", [](const Vars<float>& v) { return stack(v, 1); });
}

TEST_CASE("shape: joins of mismatched inputs are a psalm::Error", "[autograd][shape]") {
  const Vars<float> xs{Var<float>(Tensor<float>::zeros({2, 3})),
                       Var<float>(Tensor<float>::zeros({3, 3}))};
  REQUIRE_THROWS_AS(concat(xs, 1), psalm::Error);
  REQUIRE_THROWS_AS(stack(xs, 0), psalm::Error);
}

TEST_CASE("shape: contiguous copies a strided view densely and passes the gradient back",
          "[autograd][shape]") {
  const auto x = Tensor<double>::randn({4, 3, 2}, 87).permute({2, 1, 0});  // (2, 3, 4) view
  const Var<double> dense = contiguous(Var<double>(x));
  CHECK(dense.value().is_contiguous());
  CHECK(dense.value().to_vector() == x.contiguous().to_vector());
  const Var<double> same(Tensor<double>::randn({2, 3}, 88));
  CHECK(contiguous(same).value().shares_storage_with(same.value()));  // no copy when dense
  check_gradients([](const Vars<double>& v) { return contiguous(v[0]) * v[0]; }, {x});
}
