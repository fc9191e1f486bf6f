// Tests for psalm/psalm/region_pooling.hpp: the pooled region vectors and their gradient
// against PyTorch (context_cluster.py region_pooling: grid_sample align_corners=True +
// AdaptiveAvgPool1d, float64; tests/fixtures/psalm/prompts.json) and central finite differences in
// double; the points' (col / W, row / H) float32 formula; the sampler's rule (subset without
// replacement / all / all + repeats), its seeding and uniformity; the strided mode; errors;
// the region features of the model parity fixture (tests/fixtures/psalm/parity/interactive).
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "autograd/op_check.hpp"
#include "psalm/autograd.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/psalm/region_pooling.hpp"
#include "schema_fixture.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using psalm::testing::schema_fixture;
using psalm::testing::tensor_from_json;

namespace {

/// (K, H, W) masks with the given row-major pixel lists set.
Tensor<std::uint8_t> masks_with(std::int64_t h, std::int64_t w,
                                const std::vector<std::vector<std::int64_t>>& pixels) {
  auto m = Tensor<std::uint8_t>::zeros(Shape{static_cast<std::int64_t>(pixels.size()), h, w});
  for (std::size_t k = 0; k < pixels.size(); ++k)
    for (const std::int64_t p : pixels[k]) m.data()[static_cast<std::int64_t>(k) * h * w + p] = 1;
  return m;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to, std::int64_t step = 1) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = from; i < to; i += step) out.push_back(i);
  return out;
}

}  // namespace

TEST_CASE("region_pool: forward and backward match PyTorch's region_pooling",
          "[psalm][region_pooling]") {
  int checked = 0;
  for (const auto& c : schema_fixture().at("pooling")) {
    INFO("grid " << c.at("grid").get<int>());
    const auto tokens = autograd::Var<float>::parameter(tensor_from_json<float>(c.at("tokens")));
    const Tensor<float> points = tensor_from_json<float>(c.at("points"));
    const autograd::Var<float> pooled = region_pool(tokens, points);  // (K, D)
    testing::require_close(pooled.value(), tensor_from_json<double>(c.at("out")),
                           testing::tol::f32_sum_rtol, testing::tol::f32_sum_atol);
    autograd::backward(pooled, tensor_from_json<float>(c.at("d_out")));
    testing::require_close(tokens.grad(), tensor_from_json<double>(c.at("d_tokens")),
                           testing::tol::f32_sum_rtol, testing::tol::f32_sum_atol);
    ++checked;
  }
  REQUIRE(checked == 3);
}

TEST_CASE("region_pool: gradient matches finite differences in double", "[psalm][region_pooling]") {
  // Non-contiguous tokens; points on and between grid lines, at the borders.
  const auto tokens = Tensor<double>::randn({5, 9}, 31).transpose(0, 1);  // (9, 5) = (G*G, D)
  const auto points = Tensor<double>::from_data(
      {0.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.3, 0.8, 0.99, 0.01, 0.25, 0.75, 0.1, 0.6, 0.7, 0.2},
      Shape{2, 4, 2});  // (K, P, 2)
  testing::check_gradients(
      [&](const std::vector<autograd::Var<double>>& v) { return region_pool(v[0], points); },
      {tokens});
}

TEST_CASE("region_pool: equals grid_sample + mean over the points, the upstream formulation",
          "[psalm][region_pooling]") {
  namespace ag = autograd;
  for (const std::int64_t g : {1, 2, 5, 16}) {
    INFO("grid " << g);
    const std::int64_t d = 7, k = 3, p = 33;
    auto points = Tensor<double>::rand({k, p, 2}, 40 + g);  // (K, P, 2)
    points.data()[0] = 1.0, points.data()[1] = 1.0;         // the far corner
    points.data()[2] = 0.0, points.data()[3] = 0.5;         // the left edge
    auto tokens = ag::Var<double>::parameter(Tensor<double>::randn({g * g, d}, 50 + g));
    const auto ours = region_pool(tokens, points);  // (K, D)
    const Tensor<double> d_out = Tensor<double>::randn({k, d}, 60 + g);
    ag::backward(ours, d_out);
    const Tensor<double> grad = tokens.grad().clone();
    tokens.zero_grad();
    const ag::Var<double> grid(Tensor<double>(points.reshape({1, k, p, 2}) * 2.0 - 1.0));
    const auto plane = ag::permute(ag::reshape(tokens, {1, g, g, d}), {0, 3, 1, 2});  // (1,D,G,G)
    const auto ref = ag::transpose(
        ag::reshape(ag::mean(ag::grid_sample(plane, grid, true), 3), {d, k}), 0, 1);  // (K, D)
    ag::backward(ref, d_out);
    testing::require_close(ours.value(), ref.value(), testing::tol::f64_rtol,
                           testing::tol::f64_atol);
    testing::require_close(grad, tokens.grad(), testing::tol::f64_rtol, testing::tol::f64_atol);
    // Each row of the weights is a distribution over the tokens (points inside the grid).
    const Tensor<double> w = region_pool_weights(points, g);  // (K, G*G)
    for (std::int64_t r = 0; r < k; ++r) {
      double sum = 0;
      for (std::int64_t j = 0; j < g * g; ++j) sum += w.item({r, j});
      REQUIRE(sum == Approx(1.0).epsilon(tol::f64_rtol));
    }
  }
}

TEST_CASE("region_points: (col / W, row / H) in float32 as upstream computes them",
          "[psalm][region_pooling]") {
  for (const auto& c : schema_fixture().at("pooling")) {
    const std::int64_t side = c.at("side");
    const auto pix = c.at("pixels").at("data").get<std::vector<std::int64_t>>();  // (row, col)
    const auto want = c.at("points").at("data").get<std::vector<double>>();       // (x, y)
    std::vector<std::vector<std::int64_t>> singles;
    for (std::size_t i = 0; i < pix.size(); i += 2) singles.push_back({pix[i] * side + pix[i + 1]});
    const Tensor<float> got = strided_region_points(masks_with(side, side, singles), 1);
    REQUIRE(got.numel() == static_cast<std::int64_t>(want.size()));
    for (std::size_t i = 0; i < want.size(); ++i)
      REQUIRE(got.data()[i] == static_cast<float>(want[i]));
  }
  // Non-square planes divide by their own width and height.
  const Tensor<float> r = strided_region_points(masks_with(4, 8, {{2 * 8 + 5}}), 1);
  REQUIRE(r.data()[0] == 5.0f / 8.0f);
  REQUIRE(r.data()[1] == 2.0f / 4.0f);
}

TEST_CASE("region_points: upstream's sampling rule, seeded", "[psalm][region_pooling]") {
  const std::int64_t h = 12, w = 10, p = 16;
  const std::vector<std::int64_t> many = range(0, 100, 1);          // n > P
  const std::vector<std::int64_t> exact = range(3, 3 + 16 * 7, 7);  // n == P
  const std::vector<std::int64_t> few = {5, 17, 64, 90, 101};       // n < P
  const auto masks = masks_with(h, w, {many, exact, few});
  const CounterRng rng{1234, 5};
  const auto chosen = choose_region_pixels(masks, p, RegionSampling::random, rng);
  REQUIRE(chosen.size() == 3);
  // more than P: P distinct pixels of the mask
  REQUIRE(chosen[0].size() == static_cast<std::size_t>(p));
  REQUIRE(std::set<std::int64_t>(chosen[0].begin(), chosen[0].end()).size() ==
          static_cast<std::size_t>(p));
  for (const std::int64_t px : chosen[0])
    REQUIRE(std::find(many.begin(), many.end(), px) != many.end());
  REQUIRE_FALSE(std::is_sorted(chosen[0].begin(), chosen[0].end()));  // random order
  // exactly P: every pixel once, row-major
  REQUIRE(chosen[1] == exact);
  // fewer: every pixel in row-major order, then P - n repeats drawn from them
  REQUIRE(std::vector<std::int64_t>(chosen[2].begin(), chosen[2].begin() + 5) == few);
  for (std::size_t i = 5; i < chosen[2].size(); ++i)
    REQUIRE(std::find(few.begin(), few.end(), chosen[2][i]) != few.end());
  // seeded, and region k's draws do not depend on the other regions
  REQUIRE(choose_region_pixels(masks, p, RegionSampling::random, rng) == chosen);
  const auto other =
      choose_region_pixels(masks_with(h, w, {few, exact, few}), p, RegionSampling::random, rng);
  REQUIRE(other[2] == chosen[2]);
  REQUIRE(choose_region_pixels(masks, p, RegionSampling::random, CounterRng{1235, 5})[0] !=
          chosen[0]);
  // the points are those pixels
  const Tensor<float> pts = sample_region_points(masks, p, rng);  // (K, P, 2)
  REQUIRE(pts.shape() == Shape{3, p, 2});
  for (std::int64_t k = 0; k < 3; ++k)
    for (std::int64_t i = 0; i < p; ++i) {
      const std::int64_t px = chosen[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
      REQUIRE(pts.item({k, i, 0}) == static_cast<float>(px % w) / static_cast<float>(w));
      REQUIRE(pts.item({k, i, 1}) == static_cast<float>(px / w) / static_cast<float>(h));
    }
}

TEST_CASE("region_points: draws are uniform over the prompt pixels", "[psalm][region_pooling]") {
  // n = 5 > P = 2: each pixel is in the subset with probability 2/5; n = 3 < P = 5: each of
  // the 2 repeats picks each pixel with probability 1/3. 3000 seeds, 4.5 sigma bounds.
  const auto big = masks_with(2, 3, {{0, 1, 2, 3, 4}});
  const auto small = masks_with(2, 3, {{1, 3, 5}});
  std::map<std::int64_t, int> in_subset, repeats;
  const int trials = 3000;
  for (int s = 0; s < trials; ++s) {
    const CounterRng rng{static_cast<std::uint64_t>(s), 0};
    const auto subset = choose_region_pixels(big, 2, RegionSampling::random, rng);
    for (const std::int64_t px : subset[0]) ++in_subset[px];
    const auto r = choose_region_pixels(small, 5, RegionSampling::random, rng)[0];
    for (std::size_t i = 3; i < r.size(); ++i) ++repeats[r[i]];
  }
  REQUIRE(in_subset.size() == 5);
  for (const auto& [px, n] : in_subset)
    REQUIRE(std::abs(n - trials * 0.4) < 4.5 * std::sqrt(trials * 0.4 * 0.6));
  REQUIRE(repeats.size() == 3);
  for (const auto& [px, n] : repeats)
    REQUIRE(std::abs(n - 2 * trials / 3.0) < 4.5 * std::sqrt(2 * trials * (1 / 3.0) * (2 / 3.0)));
}

TEST_CASE("region_points: strided mode is deterministic and evenly spread",
          "[psalm][region_pooling]") {
  const auto masks = masks_with(10, 10, {range(0, 100), {7, 8, 9}});
  const auto chosen = choose_region_pixels(masks, 8, RegionSampling::strided);
  REQUIRE(chosen[0] == std::vector<std::int64_t>{0, 12, 25, 37, 50, 62, 75, 87});
  REQUIRE(chosen[1] == std::vector<std::int64_t>{7, 7, 7, 8, 8, 8, 9, 9});
  // The strided mean approaches the plain mean over the prompt (here: exactly, P = n).
  const auto tokens = autograd::Var<float>(Tensor<float>::randn({16, 3}, 4));  // (G*G, D), G = 4
  const auto all = masks_with(4, 4, {range(0, 16)});
  const Tensor<float> mean16 = region_pool(tokens, strided_region_points(all, 16)).value();
  const Tensor<float> rand16 = region_pool(tokens, sample_region_points(all, 16, {9, 9})).value();
  testing::require_close(rand16, mean16, testing::tol::f32_sum_rtol, testing::tol::f32_sum_atol);
}

TEST_CASE("region pooling: bad input is a clear error", "[psalm][region_pooling]") {
  const auto masks = masks_with(4, 4, {{1, 2}, {}});
  REQUIRE_THROWS_WITH(sample_region_points(masks, 8, {}),
                      Catch::Contains("prompt mask 1 is empty"));
  REQUIRE_THROWS_WITH(strided_region_points(masks, 8), Catch::Contains("empty"));
  REQUIRE_THROWS_AS(strided_region_points(Tensor<std::uint8_t>::ones(Shape{4, 4}), 8), Error);
  REQUIRE_THROWS_AS(strided_region_points(masks_with(4, 4, {{1}}), 0), Error);
  const auto tokens = autograd::Var<float>(Tensor<float>::zeros(Shape{15, 3}));
  const auto pts = Tensor<float>::zeros(Shape{2, 4, 2});
  REQUIRE_THROWS_WITH(region_pool(tokens, pts), Catch::Contains("square grid"));
  const auto square = autograd::Var<float>(Tensor<float>::zeros(Shape{16, 3}));
  REQUIRE_THROWS_AS(region_pool(square, Tensor<float>::zeros(Shape{2, 4, 3})), Error);
  REQUIRE_THROWS_AS(region_pool(square, Tensor<float>::zeros(Shape{8, 2})), Error);
  REQUIRE_THROWS_AS(region_pool(autograd::Var<float>(Tensor<float>::zeros(Shape{16})), pts), Error);
}

TEST_CASE("region_pool: the region features of the PSALM parity fixture",
          "[psalm][region_pooling]") {
  // tools/reference/psalm_fixtures.py: per sample, prompt masks (K, 64, 64), the drawn points
  // (K, 16, 2), the projector tokens (G*G = 4, D = 32) and the pooled features (K, 32).
  const auto f = io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) +
                                           "/psalm/parity/interactive.safetensors");
  const Tensor<float> tokens = f.load<float>("image_tokens");  // (B, G*G, D)
  for (std::int64_t b = 0; b < tokens.size(0); ++b) {
    INFO("sample " << b);
    const std::string s = std::to_string(b);
    const Tensor<float> points = f.load<float>("region_points." + s);              // (K, P, 2)
    const Tensor<std::uint8_t> masks = f.load<std::uint8_t>("region_masks." + s);  // (K, T, T)
    const auto pooled =
        region_pool(autograd::Var<float>(tokens.select(0, b).contiguous()), points);  // (K, D)
    testing::require_close(pooled.value(), f.load<float>("region_features." + s),
                           testing::tol::f32_sum_rtol, testing::tol::f32_sum_atol);
    // Every point is a prompt pixel at (col / T, row / T).
    const std::int64_t t = masks.size(1);
    for (std::int64_t k = 0; k < points.size(0); ++k)
      for (std::int64_t i = 0; i < points.size(1); ++i) {
        const float x = points.item({k, i, 0}), y = points.item({k, i, 1});
        const auto col = static_cast<std::int64_t>(std::lround(x * t));
        const auto row = static_cast<std::int64_t>(std::lround(y * t));
        REQUIRE(static_cast<float>(col) / static_cast<float>(t) == x);
        REQUIRE(static_cast<float>(row) / static_cast<float>(t) == y);
        REQUIRE(masks.item({k, row, col}) == 1);
      }
  }
}
