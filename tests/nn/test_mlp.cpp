// Tests of nn/mlp.hpp: layer shapes and upstream names, ReLU between layers but not after the
// last, gradients against finite differences in double.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/nn/mlp.hpp"
#include "support/fixtures.hpp"
#include "support/module_gradcheck.hpp"

using namespace psalm;
using nn::Var;

TEST_CASE("Mlp: layers.{i} names and shapes as Mask2Former's MLP", "[nn][mlp]") {
  nn::InitRng rng{1};
  nn::Mlp<float> mlp(6, 10, 4, 3, rng);
  std::vector<std::string> names;
  for (const auto& [n, p] : mlp.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.1.weight",
                                          "layers.1.bias", "layers.2.weight", "layers.2.bias"});
  CHECK(mlp.layers[0].weight.shape() == Shape{10, 6});
  CHECK(mlp.layers[1].weight.shape() == Shape{10, 10});
  CHECK(mlp.layers[2].weight.shape() == Shape{4, 10});
  CHECK_THROWS_WITH(nn::Mlp<float>(2, 2, 2, 0, rng), Catch::Contains("at least 1"));
}

TEST_CASE("Mlp: forward is Linear, ReLU, ..., Linear with no ReLU at the end", "[nn][mlp]") {
  nn::InitRng rng{2};
  nn::Mlp<double> mlp(3, 5, 2, 2, rng);
  const Var<double> x(Tensor<double>::randn({4, 3}, 3));
  const Var<double> want = mlp.layers[1](autograd::relu(mlp.layers[0](x)));
  testing::require_close(mlp(x).value(), want.value(), 0.0, 0.0);
  // A negative output is possible only without a final ReLU.
  mlp.layers[1].bias.value().fill(-100.0);
  for (double v : mlp(x).value().to_vector()) CHECK(v < 0.0);
  nn::Mlp<double> one(3, 5, 2, 1, rng);  // one layer: a plain Linear
  testing::require_close(one(x).value(), one.layers[0](x).value(), 0.0, 0.0);
}

TEST_CASE("Mlp: gradients match finite differences in double", "[nn][mlp]") {
  nn::InitRng rng{3};
  nn::Mlp<double> mlp(3, 4, 2, 3, rng);
  const Var<double> x = Var<double>::parameter(Tensor<double>::randn({2, 5, 3}, 4));
  const auto weights = Tensor<double>::randn({2, 5, 2}, 5);
  testing::check_module_gradients(mlp, {{"x", x}},
                                  [&] { return autograd::sum(mlp(x) * Var<double>(weights)); });
}
