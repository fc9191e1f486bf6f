// Tests of psalm/nn/feature_maps.hpp (FeatureMaps: levels by Mask2Former's res{k} names, their
// orders, shared batch, errors that name the level) and psalm/nn/map_tokens.hpp (map_to_tokens /
// tokens_to_map: upstream's row-major token order, an exact round trip, the constant-tensor
// form, gradients against finite differences in double, shape errors).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/op_check.hpp"
#include "psalm/autograd.hpp"
#include "psalm/nn/feature_maps.hpp"
#include "psalm/nn/map_tokens.hpp"
#include "support/fixtures.hpp"

using namespace psalm;
using autograd::Var;

TEST_CASE("FeatureMaps: levels by res name, finest or coarsest first, one batch", "[nn]") {
  const Var<float> res2(Tensor<float>::randn({2, 4, 8, 6}, 1));
  const Var<float> res3(Tensor<float>::randn({2, 8, 4, 3}, 2));
  const Var<float> res5(Tensor<float>::randn({2, 16, 1, 1}, 3));
  nn::FeatureMaps<float> f{{5, res5}, {2, res2}};
  f.set(3, res3);
  CHECK(f.levels() == std::vector<int>{2, 3, 5});
  CHECK(f.coarse_to_fine() == std::vector<int>{5, 3, 2});
  CHECK(f.size() == 3);
  CHECK(f.batch() == 2);
  CHECK(f.has(3));
  CHECK_FALSE(f.has(4));
  CHECK(f.names() == "res2, res3, res5");
  CHECK(f.res(3).value().data() == res3.value().data());  // the same map, not a copy
  CHECK_THROWS_WITH(f.res(4), Catch::Contains("res4 is absent (present: res2, res3, res5)"));
  CHECK_THROWS_WITH(f.set(4, Var<float>(Tensor<float>::zeros({3, 8, 2, 2}))),
                    Catch::Contains("res4 has batch 3 but res2 has 2"));
  CHECK_THROWS_WITH(f.set(4, Var<float>(Tensor<float>::zeros({2, 8, 2}))),
                    Catch::Contains("res4 must be a (B, C, H, W) map"));
  CHECK_THROWS_WITH(f.set(-1, res2), Catch::Contains("level -1 is outside"));
  f.set(2, Var<float>(Tensor<float>::zeros({2, 1, 1, 1})));  // replacing keeps one entry
  CHECK(f.size() == 3);
  const nn::FeatureMaps<float> none;
  CHECK(none.empty());
  CHECK(none.batch() == 0);
  CHECK(none.names() == "none");
}

TEST_CASE("map_to_tokens / tokens_to_map: row-major tokens, exact round trip", "[nn]") {
  const std::int64_t b = 2, c = 3, h = 4, w = 5;
  const Tensor<double> x = Tensor<double>::randn({b, c, h, w}, 4);
  const Var<double> tokens = nn::map_to_tokens(Var<double>(x));  // (B, H W, C)
  REQUIRE(tokens.shape() == Shape{b, h * w, c});
  for (std::int64_t n = 0; n < b; ++n)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t col = 0; col < w; ++col)
        for (std::int64_t k = 0; k < c; ++k)
          REQUIRE(tokens.value().item({n, y * w + col, k}) == x.item({n, k, y, col}));
  testing::require_close(nn::map_to_tokens(x), tokens.value(), 0.0, 0.0);
  testing::require_close(nn::tokens_to_map(tokens, h, w).value(), x, 0.0, 0.0);
  CHECK_THROWS_WITH(nn::map_to_tokens(Var<double>(Tensor<double>::zeros({2, 3, 4}))),
                    Catch::Contains("expected a map (B, C, H, W)"));
  CHECK_THROWS_WITH(nn::tokens_to_map(tokens, 3, 5), Catch::Contains("expected tokens (B, 3 * 5"));
}

TEST_CASE("map_to_tokens / tokens_to_map: gradients match finite differences in double", "[nn]") {
  testing::check_gradients(
      [](const std::vector<Var<double>>& in) {
        return nn::tokens_to_map(nn::map_to_tokens(in[0]) * in[1], 3, 2);
      },
      {Tensor<double>::randn({2, 4, 3, 2}, 5), Tensor<double>::randn({2, 6, 4}, 6)});
}
