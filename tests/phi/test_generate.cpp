// Phi inference paths: the inputs_embeds entry point equals the input_ids one; the KV cache
// gives the logits of a full forward (prompt in one step, then token by token, also with
// padding); greedy / temperature / top-p token choice; generation is reproducible by seed.
#include <catch2/catch.hpp>

#include <vector>

#include "phi/phi_fixtures.hpp"
#include "psalm/autograd.hpp"

using namespace psalm;
using namespace psalm::testing;
using namespace psalm::testing::phi;

TEST_CASE("phi: the inputs_embeds path equals the input_ids path", "[phi]") {
  auto lm = fixture_model("tiny_b");
  const auto ref = fixture_reference("tiny_b");
  const Tensor<std::int64_t> ids = ref.load<std::int64_t>("input_ids");
  const Tensor<std::int64_t> mask = ref.load<std::int64_t>("attention_mask");
  autograd::NoGrad no_grad;
  const auto by_ids = lm.forward(ids, mask);
  const autograd::Var<float> embeds = lm.model.embed(ids);  // (2, 9, 96)
  const auto by_embeds = lm.forward(embeds, mask);
  require_close(by_embeds.last_hidden_state.value(), by_ids.last_hidden_state.value(), 0, 0);
  require_close(by_embeds.logits.value(), by_ids.logits.value(), 0, 0);
  CHECK_FALSE(lm.forward(ids, mask, /*with_logits=*/false).logits.defined());
}

TEST_CASE("phi kv cache: prompt then one token at a time gives the full forward's logits",
          "[phi]") {
  auto lm = fixture_model("tiny_b");
  const auto ref = fixture_reference("tiny_b");
  const Tensor<std::int64_t> ids = ref.load<std::int64_t>("input_ids");        // (2, 9)
  const Tensor<std::int64_t> mask = ref.load<std::int64_t>("attention_mask");  // (2, 9)
  autograd::NoGrad no_grad;
  const Tensor<float> full = lm.forward(ids, mask).logits.value();  // (2, 9, 64)
  mp::PhiKvCache<float> cache(lm.config(), 2, 12);
  // 4 positions, then 3, then 1, 1: every split of the sequence must agree.
  std::int64_t at = 0;
  for (std::int64_t n : {4, 3, 1, 1}) {
    const Tensor<std::int64_t> step_ids = ids.narrow(1, at, n).contiguous();
    const Tensor<std::int64_t> step_mask = mask.narrow(1, at, n).contiguous();
    const Tensor<float> got = lm.forward(step_ids, step_mask, true, &cache).logits.value();
    INFO("positions " << at << " .. " << at + n);
    require_close(got, full.narrow(1, at, n).contiguous(), 1e-5, 1e-5);
    at += n;
  }
  CHECK(cache.length() == 9);
  REQUIRE_THROWS_WITH(lm.forward(ids, mask, true, &cache),
                      Catch::Matchers::Contains("exceed the capacity"));
}

TEST_CASE("phi kv cache: refuses to record gradients", "[phi]") {
  auto lm = fixture_model("tiny_a");
  mp::PhiKvCache<float> cache(lm.config(), 1, 4);
  const Tensor<std::int64_t> ids = Tensor<std::int64_t>::from_data({1, 2}, Shape{1, 2});
  REQUIRE_THROWS_WITH(lm.forward(ids, {}, true, &cache), Catch::Matchers::Contains("NoGrad"));
}

TEST_CASE("phi generate: greedy, temperature and top-p pick tokens as specified", "[phi]") {
  const std::vector<float> logits{0.0f, 3.0f, 1.0f, 2.9f};
  const std::span<const float> row(logits);
  CHECK(mp::pick_token(row, {}, 0.99) == 1);  // greedy ignores the draw
  // top_p small: only the most likely token survives, whatever the draw.
  mp::GenerateOptions nucleus{.temperature = 1.0, .top_p = 0.3};
  for (double u : {0.0, 0.5, 0.999}) CHECK(mp::pick_token(row, nucleus, u) == 1);
  // p(1) = e^3 / (1 + e^3 + e + e^2.9) ~ 0.49; p(3) ~ 0.44: the draw picks by cumulative mass.
  mp::GenerateOptions sample{.temperature = 1.0};
  CHECK(mp::pick_token(row, sample, 0.2) == 1);
  CHECK(mp::pick_token(row, sample, 0.7) == 3);
  CHECK(mp::pick_token(row, sample, 0.95) == 2);
  CHECK(mp::pick_token(row, sample, 0.999) == 0);
  // top_p 0.9 keeps {1, 3} (0.93 >= 0.9): every draw lands in it.
  mp::GenerateOptions top{.temperature = 1.0, .top_p = 0.9};
  for (double u = 0.0; u < 1.0; u += 0.05) {
    const auto t = mp::pick_token(row, top, u);
    CHECK((t == 1 || t == 3));
  }
}

TEST_CASE("phi generate: sampling is reproducible by seed and stops at eos", "[phi]") {
  auto lm = fixture_model("tiny_a");
  const Tensor<std::int64_t> prompt =
      Tensor<std::int64_t>::from_data({5, 6, 7, 8, 9, 10}, Shape{2, 3});
  const mp::GenerateOptions opt{.max_new_tokens = 6, .temperature = 1.5, .top_p = 0.95, .seed = 7};
  const auto a = mp::generate(lm, prompt, opt).to_vector();
  const auto b = mp::generate(lm, prompt, opt).to_vector();
  CHECK(a == b);
  REQUIRE(a.size() == 2 * 9);
  mp::GenerateOptions other = opt;
  other.seed = 8;
  CHECK(mp::generate(lm, prompt, other).to_vector() != a);
  // eos = the first greedy token of row 0: generation stops after one step for row 0 ... and
  // row 1 goes on until max_new_tokens unless it also hits eos.
  const auto greedy = mp::generate(lm, prompt, {.max_new_tokens = 4}).to_vector();
  const std::int64_t eos = greedy[3];
  const Tensor<std::int64_t> stopped = mp::generate(lm, prompt.narrow(0, 0, 1).contiguous(),
                                                    {.max_new_tokens = 4, .eos_token_id = eos});
  CHECK(stopped.shape() == Shape{1, 4});
  CHECK(stopped.to_vector().back() == eos);
}

namespace {

// generate() runs the prompt once, then one-row steps (GEMVs) with the logits on the last
// position only; an uncached full forward per step (GEMMs, logits everywhere) must pick the
// same tokens.
void check_greedy_against_full_forwards(mp::PhiForCausalLM<float>& lm,
                                        const Tensor<std::int64_t>& prompt, std::int64_t steps) {
  const std::int64_t b = prompt.size(0), l0 = prompt.size(1), v = lm.config().vocab_size;
  const std::vector<std::int64_t> got =
      mp::generate(lm, prompt, {.max_new_tokens = steps}).to_vector();
  std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(b));
  const std::vector<std::int64_t> flat = prompt.to_vector();
  for (std::int64_t i = 0; i < b; ++i)
    rows[static_cast<std::size_t>(i)].assign(flat.begin() + i * l0, flat.begin() + (i + 1) * l0);
  autograd::NoGrad no_grad;
  for (std::int64_t s = 0; s < steps; ++s) {
    std::vector<std::int64_t> seq;
    for (const auto& r : rows) seq.insert(seq.end(), r.begin(), r.end());
    const std::int64_t l = l0 + s;
    const std::vector<float> logits =
        lm.forward(Tensor<std::int64_t>::from_data(seq, Shape{b, l})).logits.value().to_vector();
    for (std::int64_t i = 0; i < b; ++i) {
      const float* last = logits.data() + (i * l + l - 1) * v;
      rows[static_cast<std::size_t>(i)].push_back(std::max_element(last, last + v) - last);
    }
  }
  std::vector<std::int64_t> want;
  for (const auto& r : rows) want.insert(want.end(), r.begin(), r.end());
  CHECK(got == want);
}

}  // namespace

TEST_CASE("phi generate: greedy tokens are the argmax of full forwards over the sequence so far",
          "[phi]") {
  auto lm = fixture_model("tiny_b");
  const auto ref = fixture_reference("tiny_b");
  check_greedy_against_full_forwards(
      lm, ref.load<std::int64_t>("input_ids").narrow(1, 0, 5).contiguous(), 6);
}

TEST_CASE(
    "phi generate: with tied word embeddings the last position's logits come from "
    "embed_tokens",
    "[phi]") {
  // A tied model has no lm_head: generate() must take its logits the way forward() does.
  mp::PhiConfig cfg = fixture_config("tiny_b");
  cfg.tie_word_embeddings = true;
  cfg.lm_head_bias = false;
  nn::InitRng rng{7};
  mp::PhiForCausalLM<float> lm(cfg, rng);
  const auto ref = fixture_reference("tiny_b");
  check_greedy_against_full_forwards(
      lm, ref.load<std::int64_t>("input_ids").narrow(1, 0, 5).contiguous(), 6);
}
