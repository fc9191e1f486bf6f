// Tests of the sampling distribution of models/phi/generate.hpp: sampling_distribution equals
// transformers' warpers (temperature, top-k, top-p; tests/fixtures/phi/sampling.safetensors from
// tools/reference/sampling_fixtures.py) and a hand computation; check_generate_options refuses
// bad values; sampled tokens follow the distribution and never leave the kept set.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <vector>

#include "phi/phi_fixtures.hpp"
#include "psalm/autograd.hpp"

using namespace psalm;
using namespace psalm::testing;
using namespace psalm::testing::phi;

TEST_CASE("phi sampling: the distribution equals transformers' temperature / top-k / top-p warpers",
          "[phi][sampling]") {
  const auto ref =
      io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) + "/phi/sampling.safetensors");
  const Tensor<float> logits = ref.load<float>("logits");  // (R, V)
  const std::vector<double> temperature = ref.load<double>("case.temperature").to_vector();
  const std::vector<std::int64_t> top_k = ref.load<std::int64_t>("case.top_k").to_vector();
  const std::vector<double> top_p = ref.load<double>("case.top_p").to_vector();
  const Tensor<double> probs = ref.load<double>("probs");  // (C, R, V)
  const std::int64_t rows = logits.size(0), v = logits.size(1);
  REQUIRE(probs.shape() == Shape{static_cast<std::int64_t>(temperature.size()), rows, v});
  const std::vector<float> all = logits.to_vector();
  const std::vector<double> want_all = probs.to_vector();
  std::int64_t pruned = 0;  // entries a warper removed: the fixture must exercise the masks
  for (std::size_t c = 0; c < temperature.size(); ++c) {
    const mp::GenerateOptions opt{
        .temperature = temperature[c], .top_k = top_k[c], .top_p = top_p[c]};
    for (std::int64_t r = 0; r < rows; ++r) {
      INFO("case " << c << " (T " << temperature[c] << ", k " << top_k[c] << ", p " << top_p[c]
                   << "), row " << r);
      const std::span<const float> row(all.data() + r * v, static_cast<std::size_t>(v));
      const std::vector<double> got = mp::sampling_distribution(row, opt);
      REQUIRE(static_cast<std::int64_t>(got.size()) == v);
      for (std::int64_t i = 0; i < v; ++i) {
        const double want =
            want_all[static_cast<std::size_t>((static_cast<std::int64_t>(c) * rows + r) * v + i)];
        const double g = got[static_cast<std::size_t>(i)];
        INFO("token " << i << ": " << g << " vs " << want);
        CHECK((want == 0.0) == (g == 0.0));  // the same tokens kept
        CHECK(std::abs(g - want) <= 1e-6 * want + 1e-12);
        pruned += want == 0.0 ? 1 : 0;
      }
    }
  }
  CHECK(pruned > 0);
}

TEST_CASE("phi sampling: a hand computation of top-k with a tie and of top-p", "[phi][sampling]") {
  // logits 2, 1, 1, 0, -1 at temperature 1: softmax of the kept ones.
  const std::vector<float> logits{2.0f, 1.0f, 1.0f, 0.0f, -1.0f};
  const std::span<const float> row(logits);
  const double e2 = std::exp(2.0), e1 = std::exp(1.0);
  // top_k 2: the 2nd largest is 1, tied with token 2; both stay (transformers: score < kth).
  auto p = mp::sampling_distribution(row, {.temperature = 1.0, .top_k = 2});
  const double k = e2 + 2 * e1;
  CHECK(p[0] == Approx(e2 / k));
  CHECK(p[1] == Approx(e1 / k));
  CHECK(p[2] == Approx(e1 / k));
  CHECK(p[3] == 0.0);
  CHECK(p[4] == 0.0);
  // top_p 0.9: probabilities ~ 0.521, 0.191, 0.191, 0.070, 0.026; ascending cumulative
  // 0.026, 0.096 (<= 0.1: tokens 4 and 3 go), 0.288 (> 0.1: the rest stays).
  p = mp::sampling_distribution(row, {.temperature = 1.0, .top_p = 0.9});
  CHECK(p[0] == Approx(e2 / k));
  CHECK(p[1] == Approx(e1 / k));
  CHECK(p[3] == 0.0);
  CHECK(p[4] == 0.0);
  // top_p 0.6: ascending cumulative 0.026, 0.096, 0.288 (<= 0.4), 0.479 (> 0.4): tokens 4, 3
  // and the first of the tied pair go (the stable ascending sort puts token 1 before token 2).
  p = mp::sampling_distribution(row, {.temperature = 1.0, .top_p = 0.6});
  CHECK(p[0] == Approx(e2 / (e2 + e1)));
  CHECK(p[1] == 0.0);
  CHECK(p[2] == Approx(e1 / (e2 + e1)));
  CHECK(p[3] == 0.0);
  // A tiny top_p keeps the most likely token alone; temperature 0 is one-hot on the argmax.
  p = mp::sampling_distribution(row, {.temperature = 3.0, .top_p = 1e-6});
  CHECK(p == std::vector<double>{1.0, 0.0, 0.0, 0.0, 0.0});
  CHECK(mp::sampling_distribution(row, {}) == std::vector<double>{1.0, 0.0, 0.0, 0.0, 0.0});
  // Temperature: T = 2 flattens, p ~ exp(l / 2).
  p = mp::sampling_distribution(row, {.temperature = 2.0});
  const double t2 = std::exp(1.0) + 2 * std::exp(0.5) + 1.0 + std::exp(-0.5);
  CHECK(p[0] == Approx(std::exp(1.0) / t2));
  CHECK(p[4] == Approx(std::exp(-0.5) / t2));
}

TEST_CASE("phi sampling: drawn tokens follow the distribution and stay in the kept set",
          "[phi][sampling]") {
  const std::vector<float> logits{0.5f, 2.0f, -1.0f, 1.5f, 0.0f, 1.0f};
  const std::span<const float> row(logits);
  const mp::GenerateOptions opt{.temperature = 0.9, .top_k = 4, .top_p = 0.85};
  const std::vector<double> p = mp::sampling_distribution(row, opt);
  std::map<std::int64_t, int> counts;
  const int draws = 20000;
  const CounterRng rng{3, 0};
  for (int i = 0; i < draws; ++i)
    ++counts[mp::pick_token(row, opt, rng.uniform_double(static_cast<std::uint64_t>(i)))];
  for (const auto& [token, n] : counts) {
    INFO("token " << token);
    REQUIRE(p[static_cast<std::size_t>(token)] > 0.0);
    // Binomial standard deviation <= 0.0036 at 20,000 draws: 0.015 is over 4 sigma.
    CHECK(std::abs(n / static_cast<double>(draws) - p[static_cast<std::size_t>(token)]) < 0.015);
  }
  CHECK(counts.size() >= 2);
}

TEST_CASE("phi sampling: bad options are refused with the field named", "[phi][sampling]") {
  using Catch::Matchers::Contains;
  const auto bad = [](const mp::GenerateOptions& o) { mp::check_generate_options(o); };
  CHECK_NOTHROW(bad({}));
  CHECK_NOTHROW(bad({.temperature = 0.7, .top_k = 40, .top_p = 0.9}));
  CHECK_THROWS_WITH(bad({.max_new_tokens = -1}), Contains("max_new_tokens"));
  CHECK_THROWS_WITH(bad({.temperature = -0.5}), Contains("temperature must be >= 0"));
  CHECK_THROWS_WITH(bad({.temperature = std::nan("")}), Contains("temperature"));
  CHECK_THROWS_WITH(bad({.temperature = INFINITY}), Contains("temperature"));
  CHECK_THROWS_WITH(bad({.temperature = 1.0, .top_k = -3}), Contains("top_k must be >= 0"));
  CHECK_THROWS_WITH(bad({.temperature = 1.0, .top_p = 0.0}), Contains("top_p must be in (0, 1]"));
  CHECK_THROWS_WITH(bad({.temperature = 1.0, .top_p = 1.5}), Contains("top_p"));
  CHECK_THROWS_WITH(bad({.temperature = 1.0, .top_p = std::nan("")}), Contains("top_p"));
  CHECK_THROWS_WITH(bad({.top_p = 0.9}), Contains("need a temperature > 0"));
  CHECK_THROWS_WITH(bad({.top_k = 5}), Contains("need a temperature > 0"));
  CHECK_THROWS_WITH(bad({.eos_token_id = -2}), Contains("eos_token_id"));
  const std::vector<float> logits{1.0f, 2.0f};
  CHECK_THROWS_WITH(mp::sampling_distribution(std::span<const float>(logits), {.top_p = 0.5}),
                    Contains("temperature"));
  auto lm = fixture_model("tiny_a");
  const Tensor<std::int64_t> prompt = Tensor<std::int64_t>::from_data({5, 6}, Shape{1, 2});
  CHECK_THROWS_WITH(mp::generate(lm, prompt, {.temperature = -1.0}), Contains("temperature"));
  CHECK_THROWS_WITH(mp::generate(lm, prompt, {.eos_token_id = 1000}),
                    Contains("outside the vocabulary of 1000"));
}
