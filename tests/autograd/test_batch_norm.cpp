// Tests for psalm/autograd/ops/batch_norm.hpp: training mode (batch statistics, running-stat
// update with momentum and unbiased variance) and eval mode (running statistics) against
// finite differences in double (sliced input) and PyTorch
// (tests/fixtures/autograd_ops2/batch_norm.json), including the updated running statistics.
#include "op_check.hpp"
#include "psalm/autograd/ops/batch_norm.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops2/batch_norm";
}  // namespace

TEST_CASE("batch_norm2d: backward matches finite differences in training and eval mode",
          "[autograd][batch_norm]") {
  const auto x = Tensor<double>::randn({3, 3, 4, 5}, 41, 0.5, 2.0).slice(3, 0, 5, 2);  // (3,3,4,3)
  const auto w = Tensor<double>::randn({3}, 42, 1.0);
  const auto b = Tensor<double>::randn({3}, 43);
  const auto rm = Tensor<double>::randn({3}, 44);
  const auto rv = Tensor<double>::rand({3}, 45);
  check_gradients([](const Vars<double>& v) { return batch_norm2d(v[0], v[1], v[2], {}, {}); },
                  {x, w, b});
  check_gradients([](const Vars<double>& v) { return batch_norm2d(v[0], {}, {}, {}, {}); }, {x});
  check_gradients(
      [&](const Vars<double>& v) {
        return batch_norm2d(v[0], v[1], v[2], rm, Tensor<double>(rv + 0.5), {.training = false});
      },
      {x, w, b});
}

TEST_CASE("batch_norm2d: forward, backward and running statistics match PyTorch",
          "[autograd][batch_norm]") {
  struct Case {
    const char* name;
    BatchNormOptions opt;
  };
  for (const Case& c : {Case{"train", {}}, Case{"train_momentum_03", {.momentum = 0.3}},
                        Case{"eval", {.training = false}}}) {
    INFO("case " << c.name);
    Tensor<float> rm = testing::fixture_tensor<float>(kFile, c.name, "running_mean");
    Tensor<float> rv = testing::fixture_tensor<float>(kFile, c.name, "running_var");
    testing::check_against_torch(
        kFile, c.name,
        [&](const Vars<float>& v) { return batch_norm2d(v[0], v[1], v[2], rm, rv, c.opt); }, 5e-5,
        5e-5);
    testing::require_close(rm, testing::fixture_tensor<double>(kFile, c.name, "running_mean_after"),
                           1e-5, 1e-6);
    testing::require_close(rv, testing::fixture_tensor<double>(kFile, c.name, "running_var_after"),
                           1e-5, 1e-6);
  }
}

TEST_CASE("batch_norm2d: rejects eval without running statistics and single-value channels",
          "[autograd][batch_norm]") {
  const Var<float> x(Tensor<float>::zeros({2, 3, 2, 2}));
  REQUIRE_THROWS_AS(batch_norm2d(x, {}, {}, {}, {}, {.training = false}), Error);
  REQUIRE_THROWS_AS(batch_norm2d(Var<float>(Tensor<float>::zeros({1, 3, 1, 1})), {}, {}, {}, {}),
                    Error);
  REQUIRE_THROWS_AS(batch_norm2d(x, Var<float>(Tensor<float>::ones({2})), {}, {}, {}), Error);
  REQUIRE_THROWS_AS(batch_norm2d(Var<float>(Tensor<float>::zeros({2, 3, 4})), {}, {}, {}, {}),
                    Error);
}

TEST_CASE("batch_norm2d: weight and bias gradients do not depend on x requiring one",
          "[autograd][batch_norm]") {
  const auto x = Tensor<double>::randn({2, 3, 2, 2}, 46);
  const auto w = Tensor<double>::randn({3}, 47), b = Tensor<double>::randn({3}, 48);
  const Tensor<double> d_y = Tensor<double>::randn({2, 3, 2, 2}, 49);
  const auto w1 = Var<double>::parameter(w), b1 = Var<double>::parameter(b);
  const auto w2 = Var<double>::parameter(w), b2 = Var<double>::parameter(b);
  backward(batch_norm2d(Var<double>(x), w1, b1, {}, {}), d_y);
  backward(batch_norm2d(Var<double>::parameter(x), w2, b2, {}, {}), d_y);
  testing::require_close(w1.grad(), w2.grad(), 1e-12, 1e-12);
  testing::require_close(b1.grad(), b2.grad(), 1e-12, 1e-12);
}
