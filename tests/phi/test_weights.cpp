// Phi config and weights: config.json parsing and its errors; strict loading (a missing,
// unexpected or mis-shaped tensor is an error naming it; lm_head.bias declarable as dropped);
// loading a PhiModel alone under "model."; the vocabulary resize of PSALM ([PAD] = mean row).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "phi/phi_fixtures.hpp"
#include "psalm/autograd.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
using namespace psalm::testing;
using namespace psalm::testing::phi;
using Catch::Matchers::Contains;

namespace {
nn::StateDict<float> fixture_state(const std::string& name) {
  const auto f = io::SafetensorsFile::open(fixture_dir(name) + "weights.safetensors");
  nn::StateDict<float> sd;
  for (const std::string& n : f.names()) sd.insert(n, f.load<float>(n));
  return sd;
}
nn::StateDict<float> without(const nn::StateDict<float>& sd, const std::string& drop) {
  nn::StateDict<float> out;
  for (const auto& [n, t] : sd)
    if (n != drop) out.insert(n, t);
  return out;
}
}  // namespace

TEST_CASE("phi config: reads Hugging Face config.json fields and the Phi-1.5 preset", "[phi]") {
  const mp::PhiConfig c = fixture_config("tiny_b");
  CHECK(c.vocab_size == 64);
  CHECK(c.hidden_size == 96);
  CHECK(c.num_hidden_layers == 3);
  CHECK(c.num_attention_heads == 6);
  CHECK(c.head_dim() == 16);
  CHECK(c.rotary_dim() == 6);  // int(16 * 0.4)
  CHECK(c.partial_rotary_factor == Approx(0.4));
  CHECK_FALSE(c.pad_token_id.has_value());
  const mp::PhiConfig p = mp::PhiConfig::phi_1_5();
  CHECK(p.hidden_size == 2048);
  CHECK(p.intermediate_size == 8192);
  CHECK(p.num_hidden_layers == 24);
  CHECK(p.rotary_dim() == 32);
  CHECK(mp::PhiConfig::psalm().vocab_size == 50297);
  CHECK_FALSE(mp::PhiConfig::psalm().lm_head_bias);
  // transformers 5 writes rope settings under rope_parameters
  const auto r = io::ConfigReader::from_text(
      R"({"vocab_size": 10, "hidden_size": 8, "intermediate_size": 4, "num_hidden_layers": 1,
          "num_attention_heads": 2, "rope_parameters": {"rope_theta": 500.0,
          "partial_rotary_factor": 1.0}, "some_unknown_key": [1, 2]})",
      "cfg.json");
  const mp::PhiConfig q = mp::PhiConfig::from_json(r);
  CHECK(q.rope_theta == 500.0);
  CHECK(q.rotary_dim() == 4);
}

TEST_CASE("phi config: missing or wrong-typed required keys are errors naming the key", "[phi]") {
  const auto missing = io::ConfigReader::from_text(
      R"({"vocab_size": 10, "intermediate_size": 4, "num_hidden_layers": 1,
          "num_attention_heads": 2})",
      "a.json");
  REQUIRE_THROWS_WITH(mp::PhiConfig::from_json(missing), Contains("hidden_size"));
  const auto typed = io::ConfigReader::from_text(
      R"({"vocab_size": 10, "hidden_size": "8", "intermediate_size": 4, "num_hidden_layers": 1,
          "num_attention_heads": 2})",
      "b.json");
  REQUIRE_THROWS_WITH(mp::PhiConfig::from_json(typed), Contains("hidden_size"));
  const auto heads = io::ConfigReader::from_text(
      R"({"vocab_size": 10, "hidden_size": 9, "intermediate_size": 4, "num_hidden_layers": 1,
          "num_attention_heads": 2})",
      "c.json");
  REQUIRE_THROWS_WITH(mp::PhiConfig::from_json(heads), Contains("num_attention_heads"));
  const auto gqa = io::ConfigReader::from_text(
      R"({"vocab_size": 10, "hidden_size": 8, "intermediate_size": 4, "num_hidden_layers": 1,
          "num_attention_heads": 2, "num_key_value_heads": 1})",
      "d.json");
  REQUIRE_THROWS_WITH(mp::PhiConfig::from_json(gqa), Contains("num_key_value_heads"));
}

TEST_CASE("phi weights: strict loading names a missing, unexpected or mis-shaped tensor", "[phi]") {
  const mp::PhiConfig cfg = fixture_config("tiny_a");
  nn::InitRng rng{1};
  mp::PhiForCausalLM<float> lm(cfg, rng);
  const nn::StateDict<float> sd = fixture_state("tiny_a");
  REQUIRE_NOTHROW(nn::load_state_dict(lm, mp::FusedQkvAsSplit(sd, cfg.num_attention_heads)));

  REQUIRE_THROWS_WITH(
      nn::load_state_dict(lm, mp::FusedQkvAsSplit(without(sd, "model.layers.1.mlp.fc2.bias"),
                                                  cfg.num_attention_heads)),
      Contains("missing") && Contains("model.layers.1.mlp.fc2.bias"));
  nn::StateDict<float> extra = sd;
  extra.insert("model.layers.0.self_attn.rotary.inv_freq", Tensor<float>::zeros({2}));
  REQUIRE_THROWS_WITH(nn::load_state_dict(lm, mp::FusedQkvAsSplit(extra, cfg.num_attention_heads)),
                      Contains("unexpected") && Contains("rotary.inv_freq"));
  nn::StateDict<float> shaped = sd;
  shaped.insert("model.layers.0.self_attn.dense.weight", Tensor<float>::zeros({64, 63}));
  REQUIRE_THROWS_WITH(nn::load_state_dict(lm, mp::FusedQkvAsSplit(shaped, cfg.num_attention_heads)),
                      Contains("model.layers.0.self_attn.dense.weight") && Contains("shape"));
  // A fused checkpoint: a mis-shaped query_key_value is named by the split name it feeds.
  nn::StateDict<float> fused = mp::to_fused_layout(sd, cfg.num_attention_heads);
  fused.insert("model.layers.1.self_attn.query_key_value.bias", Tensor<float>::zeros({191}));
  REQUIRE_THROWS_WITH(nn::load_state_dict(lm, mp::FusedQkvAsSplit(fused, cfg.num_attention_heads)),
                      Contains("model.layers.1.self_attn"));
}

TEST_CASE("phi weights: lm_head.bias can be declared dropped, as PSALM does", "[phi]") {
  mp::PhiConfig cfg = fixture_config("tiny_a");
  cfg.lm_head_bias = false;
  nn::InitRng rng{1};
  mp::PhiForCausalLM<float> lm(cfg, rng);
  CHECK_FALSE(lm.lm_head.bias.defined());
  const nn::StateDict<float> sd = fixture_state("tiny_a");
  REQUIRE_THROWS_WITH(nn::load_state_dict(lm, mp::FusedQkvAsSplit(sd, cfg.num_attention_heads)),
                      Contains("lm_head.bias"));
  const auto report = nn::load_state_dict(lm, mp::FusedQkvAsSplit(sd, cfg.num_attention_heads),
                                          {.ignore = {"lm_head.bias"}});
  CHECK(report.ignored == std::vector<std::string>{"lm_head.bias"});
  // The logits are transformers' minus its bias.
  const auto ref = fixture_reference("tiny_a");
  autograd::NoGrad no_grad;
  const Tensor<float> logits = lm.forward(ref.load<std::int64_t>("input_ids")).logits.value();
  const Tensor<float> want = ref.load<float>("logits") - sd.at("lm_head.bias");
  require_close(logits, want, fwd_rtol, fwd_atol);
}

TEST_CASE("phi weights: a PhiModel loads from a causal-LM checkpoint under model.", "[phi]") {
  const mp::PhiConfig cfg = fixture_config("tiny_a");
  nn::InitRng rng{1};
  mp::PhiModel<float> model(cfg, rng);
  const nn::StateDict<float> sd = fixture_state("tiny_a");
  // lm_head.* lies outside the prefix, so it is neither expected nor unexpected.
  REQUIRE_NOTHROW(nn::load_state_dict(model, mp::FusedQkvAsSplit(sd, cfg.num_attention_heads),
                                      {.prefix = "model."}));
  const auto ref = fixture_reference("tiny_a");
  autograd::NoGrad no_grad;
  require_close(model(ref.load<std::int64_t>("input_ids")).value(),
                ref.load<float>("last_hidden_state"), fwd_rtol, fwd_atol);
}

TEST_CASE("phi weights: vocabulary resize keeps rows, sets [PAD] to the mean, draws the rest",
          "[phi]") {
  mp::PhiConfig cfg = mp::PhiConfig::tiny();
  cfg.vocab_size = 20;
  nn::InitRng rng{3};
  mp::PhiForCausalLM<float> lm(cfg, rng);
  const Tensor<float> old_embed = lm.model.embed_tokens.weight.value().clone();  // (20, 8)
  const Tensor<float> old_head = lm.lm_head.weight.value().clone();              // (20, 8)
  // PSALM's flow at small scale: shrink 20 -> 17, rows 15 ([PAD], mean of 0..14) and 16 fresh.
  mp::resize_token_embeddings(lm,
                              {.new_vocab = 17, .fresh_from = 15, .mean_rows = {15}, .seed = 4});
  CHECK(lm.config().vocab_size == 17);
  const Tensor<float> e = lm.model.embed_tokens.weight.value();
  REQUIRE(e.shape() == Shape{17, 8});
  REQUIRE(lm.lm_head.weight.shape() == Shape{17, 8});
  REQUIRE(lm.lm_head.bias.shape() == Shape{17});
  CHECK(lm.model.embed_tokens.weight.requires_grad());
  require_close(e.narrow(0, 0, 15).contiguous(), old_embed.narrow(0, 0, 15).contiguous(), 0, 0);
  require_close(lm.lm_head.weight.value().narrow(0, 0, 15).contiguous(),
                old_head.narrow(0, 0, 15).contiguous(), 0, 0);
  for (std::int64_t j = 0; j < 8; ++j) {
    double mean_e = 0, mean_h = 0;
    for (std::int64_t i = 0; i < 15; ++i) {
      mean_e += old_embed.item({i, j}) / 15.0;
      mean_h += old_head.item({i, j}) / 15.0;
    }
    CHECK(e.item({15, j}) == Approx(mean_e).margin(tol::f32_atol));
    CHECK(lm.lm_head.weight.value().item({15, j}) == Approx(mean_h).margin(tol::f32_atol));
    CHECK(e.item({16, j}) != old_embed.item({16, j}));  // re-drawn, not the old row
    CHECK(std::fabs(e.item({16, j})) < 0.2);            // N(0, 0.02)
  }
  CHECK(lm.lm_head.bias.value().item({16}) == 0.0f);
  // Growing keeps every old row; a forward over a new id works.
  mp::resize_token_embeddings(lm, {.new_vocab = 30});
  autograd::NoGrad no_grad;
  const auto out = lm.forward(Tensor<std::int64_t>::from_data({29, 3}, Shape{1, 2}));
  CHECK(out.logits.shape() == Shape{1, 2, 30});
  REQUIRE_THROWS_WITH(mp::resize_token_embeddings(lm, {.new_vocab = 30, .mean_rows = {3}}),
                      Contains("mean row 3"));
}
