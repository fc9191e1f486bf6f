// Tests of the common layers in nn/: PyTorch's default initialisation bounds and moments,
// truncated normal bounds, BatchNorm2d's running statistics and eval mode, DropPath only in
// training, and each layer's forward equal to the op it wraps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "psalm/nn.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
using nn::Var;

namespace {
double mean_of(const std::vector<float>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
double var_of(const std::vector<float>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size());
}
}  // namespace

TEST_CASE("init: Linear and Conv2d use U(-1/sqrt(fan_in), 1/sqrt(fan_in))", "[nn]") {
  nn::InitRng rng{3};
  nn::Linear<float> fc(256, 512, rng);
  const auto w = fc.weight.value().to_vector();
  const double bound = 1.0 / 16.0;
  CHECK(*std::max_element(w.begin(), w.end()) <= bound);
  CHECK(*std::min_element(w.begin(), w.end()) >= -bound);
  CHECK(var_of(w) == Approx(bound * bound / 3.0).epsilon(0.02));
  nn::Conv2d<float> conv(16, 8, {3, 3}, rng, {.padding = {1, 1}});
  CHECK(conv.weight.shape() == Shape{8, 16, 3, 3});
  const auto cw = conv.weight.value().to_vector();
  CHECK(*std::max_element(cw.begin(), cw.end()) <= 1.0 / 12.0);
}

TEST_CASE("init: truncated normal stays inside its bounds with the right spread", "[nn]") {
  nn::InitRng rng{9};
  const auto t = nn::init::trunc_normal<float>({200000}, 0.02, rng).to_vector();
  CHECK(std::abs(mean_of(t)) < 2e-4);
  CHECK(std::sqrt(var_of(t)) == Approx(0.02).epsilon(0.01));  // bounds at +-100 sigma: no effect
  const auto u = nn::init::trunc_normal<float>({200000}, 1.0, rng, 0.0, -1.0, 1.0).to_vector();
  CHECK(*std::max_element(u.begin(), u.end()) <= 1.0f);
  CHECK(*std::min_element(u.begin(), u.end()) >= -1.0f);
  CHECK(var_of(u) == Approx(0.2911).epsilon(0.02));  // variance of N(0,1) truncated to [-1, 1]
}

TEST_CASE("BatchNorm2d: running statistics in training, used in eval", "[nn]") {
  nn::BatchNorm2d<double> bn(2, 1e-5, 0.1);
  Tensor<double> x = Tensor<double>::randn({4, 2, 3, 3}, 11, 1.0, 2.0);
  Var<double> y = bn(Var<double>(x));
  // running = 0.9 * init + 0.1 * batch (unbiased variance), as PyTorch.
  const auto xs = x.to_vector();
  for (int c = 0; c < 2; ++c) {
    double s = 0, s2 = 0;
    int n = 0;
    for (int b = 0; b < 4; ++b)
      for (int i = 0; i < 9; ++i) {
        const double v = xs[(b * 2 + c) * 9 + i];
        s += v;
        s2 += v * v;
        ++n;
      }
    const double mean = s / n, var_unbiased = (s2 - n * mean * mean) / (n - 1);
    CHECK(bn.running_mean.item({c}) == Approx(0.1 * mean));
    CHECK(bn.running_var.item({c}) == Approx(0.9 + 0.1 * var_unbiased));
  }
  CHECK(bn.num_batches_tracked.item() == 1.0);
  bn.eval();
  Var<double> z = bn(Var<double>(x));
  const double expect = (x.item({1, 1, 2, 2}) - bn.running_mean.item({1})) /
                        std::sqrt(bn.running_var.item({1}) + 1e-5);
  CHECK(z.value().item({1, 1, 2, 2}) == Approx(expect));
  CHECK(bn.num_batches_tracked.item() == 1.0);
  (void)y;
}

TEST_CASE("DropPath and Dropout act only in training, reproducibly", "[nn]") {
  nn::DropPath<float> dp(0.5, 17);
  Var<float> x(Tensor<float>::ones({64, 8}));
  const auto a = dp(x).value().to_vector();
  const std::size_t zeros = static_cast<std::size_t>(std::count(a.begin(), a.end(), 0.0f));
  CHECK(zeros % 8 == 0);  // whole samples
  CHECK(zeros > 0);
  CHECK(zeros < a.size());
  const auto b = dp(x).value().to_vector();
  CHECK(a != b);  // a new stream per call
  nn::DropPath<float> again(0.5, 17);
  CHECK(again(x).value().to_vector() == a);
  dp.eval();
  CHECK(dp(x).value().to_vector() == x.value().to_vector());
  nn::Dropout<float> drop(0.25, 1);
  drop.eval();
  CHECK(drop(x).value().shares_storage_with(x.value()));
}

TEST_CASE("layers compute what their ops compute", "[nn]") {
  nn::InitRng rng{21};
  Var<float> x(Tensor<float>::randn({2, 4, 5, 5}, 1));
  nn::GroupNorm<float> gn(2, 4);
  CHECK(gn(x).value().to_vector() ==
        autograd::group_norm(x, 2, gn.weight, gn.bias).value().to_vector());
  nn::Conv2d<float> conv(4, 6, {3, 3}, rng, {.stride = {2, 2}, .padding = {1, 1}});
  CHECK(conv(x).shape() == Shape{2, 6, 3, 3});
  nn::Embedding<float> emb(10, 3, rng);
  const Tensor<std::int64_t> ids = Tensor<std::int64_t>::from_data({1, 9, 1}, {3});
  const Var<float> e = emb(ids);
  CHECK(e.shape() == Shape{3, 3});
  CHECK(e.value().item({0, 2}) == e.value().item({2, 2}));
  CHECK(e.value().item({1, 0}) == emb.weight.value().item({9, 0}));
}

TEST_CASE("Linear: a weight kept in bf16 serves inference at half the memory", "[nn][bf16]") {
  nn::InitRng rng{31};
  nn::Linear<float> fc(64, 8, rng);
  const Tensor<float> x = Tensor<float>::randn({3, 64}, 32);  // (3, in)
  const Tensor<float> y32 = fc(Var<float>(x)).value();        // (3, out)
  fc.keep_weight_in_bf16();
  CHECK(fc.weight_in_bf16());
  CHECK_FALSE(fc.weight.defined());
  CHECK_FALSE(fc.bias.requires_grad());
  CHECK(fc.in_features() == 64);
  CHECK(fc.out_features() == 8);
  // No trainable weight left: the parameter list holds the bias only.
  const auto named = fc.named_parameters();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "bias");
  const Tensor<float> y16 = fc(Var<float>(x)).value();  // (3, out)
  testing::require_close(y16, y32, testing::tol::bf16_rtol, testing::tol::bf16_atol * 4);
  // Rounding happened: the bf16 layer is not the float one bit for bit.
  CHECK(y16.to_vector() != y32.to_vector());
  REQUIRE_THROWS_WITH(fc.keep_weight_in_bf16(), Catch::Contains("in bf16 already"));
}

TEST_CASE("keep_linear_weights_in_bf16 converts every Linear of a model and nothing else",
          "[nn][bf16]") {
  nn::InitRng rng{33};
  nn::Mlp<float> mlp(16, 32, 4, 3, rng);  // three Linear layers
  nn::LayerNorm<float> norm(16);
  CHECK(nn::keep_linear_weights_in_bf16(mlp) == 3);
  for (const auto& layer : mlp.layers) CHECK(layer.weight_in_bf16());
  CHECK(nn::keep_linear_weights_in_bf16(mlp) == 0);  // nothing left to convert
  CHECK(nn::keep_linear_weights_in_bf16(norm) == 0);
  CHECK(norm.weight.defined());
}
