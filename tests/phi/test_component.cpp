// The `phi` component of `psalm forward` on the transformers fixtures: hidden states and logits
// from input_ids (with padding) or inputs_embeds, weights in either layout, bare PhiModel
// weights give hidden states only, a config with tied word embeddings gives logits from
// embed_tokens, and bad requests are clear errors. Letters: B batch, L tokens, D hidden, V vocab.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "phi/phi_fixtures.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/models/phi/component.hpp"
#include "support/component_harness.hpp"

using namespace psalm;
using namespace psalm::testing;
using namespace psalm::testing::phi;
using Catch::Matchers::Contains;

namespace {

/// The phi component on `inputs` and `weights` with the fixture `fixture`'s config.json.
ComponentHarness phi_run(const std::string& inputs, const std::string& weights,
                         const std::string& fixture) {
  ComponentHarness h(mp::phi_component());
  h.inputs(inputs).weights(weights).config(fixture_dir(fixture) + "config.json");
  return h;
}

}  // namespace

TEST_CASE("phi component: input_ids with padding give transformers' hidden states and logits",
          "[phi]") {
  const std::string dir = fixture_dir("tiny_b");
  const auto out =
      phi_run(dir + "reference.safetensors", dir + "weights.safetensors", "tiny_b").run();
  REQUIRE(out.names() == std::vector<std::string>{"last_hidden_state", "logits"});
  const auto ref = fixture_reference("tiny_b");
  require_close(out.at("last_hidden_state"), ref.load<float>("last_hidden_state"), fwd_rtol,
                fwd_atol);
  require_close(out.at("logits"), ref.load<float>("logits"), fwd_rtol, fwd_atol);
  // The same with a float32 attention_mask, as a user may save it.
  io::SafetensorsWriter inputs;
  inputs.add("input_ids", ref.load<std::int64_t>("input_ids"));
  inputs.add("attention_mask", ref.load<float>("attention_mask"));
  const TempSafetensors float_mask("phi_float_mask.safetensors");
  float_mask.write(inputs);
  require_close(
      phi_run(float_mask.string(), dir + "weights.safetensors", "tiny_b").run().at("logits"),
      out.at("logits"), 0, 0);
}

TEST_CASE("phi component: fused weights, inputs_embeds, and bare PhiModel weights", "[phi]") {
  const std::string dir = fixture_dir("tiny_a");
  const mp::PhiConfig cfg = fixture_config("tiny_a");
  const auto split = io::SafetensorsFile::open(dir + "weights.safetensors");
  nn::StateDict<float> sd;
  for (const std::string& n : split.names()) sd.insert(n, split.load<float>(n));
  const auto ref = fixture_reference("tiny_a");

  // Fused layout under a prefix, inputs_embeds = the embedding rows of the fixture's ids.
  io::SafetensorsWriter fused;
  for (const auto& [n, t] : mp::to_fused_layout(sd, cfg.num_attention_heads))
    fused.add("llm." + n, t);
  const TempSafetensors fused_file("phi_fused.safetensors");
  fused_file.write(fused);
  io::SafetensorsWriter inputs;
  nn::InitRng rng{0};
  mp::PhiForCausalLM<float> lm(cfg, rng);
  nn::load_state_dict(lm, sd);
  inputs.add("inputs_embeds", lm.model.embed(ref.load<std::int64_t>("input_ids")).value());
  const TempSafetensors inputs_file("phi_inputs.safetensors");
  inputs_file.write(inputs);
  {
    ComponentHarness h = phi_run(inputs_file.string(), fused_file.string(), "tiny_a");
    const auto out = h.prefix("llm.").run();
    require_close(out.at("logits"), ref.load<float>("logits"), fwd_rtol, fwd_atol);
    // Not under the prefix: a clear error naming what is missing.
    REQUIRE_THROWS_WITH(h.prefix("").run(), Contains("embed_tokens.weight"));
  }
  // Bare PhiModel names (no model. wrapper, no lm_head): hidden states only.
  io::SafetensorsWriter bare;
  for (const auto& [n, t] : sd)
    if (n.starts_with("model.")) bare.add(n.substr(6), t);
  const TempSafetensors bare_file("phi_bare.safetensors");
  bare_file.write(bare);
  {
    const auto out = phi_run(dir + "reference.safetensors", bare_file.string(), "tiny_a").run();
    REQUIRE(out.names() == std::vector<std::string>{"last_hidden_state"});
    require_close(out.at("last_hidden_state"), ref.load<float>("last_hidden_state"), fwd_rtol,
                  fwd_atol);
  }
  // Both input_ids and inputs_embeds: refused.
  io::SafetensorsWriter both;
  both.add("input_ids", ref.load<std::int64_t>("input_ids"));
  both.add("inputs_embeds", Tensor<float>::zeros({2, 7, 64}));
  const TempSafetensors both_file("phi_both.safetensors");
  both_file.write(both);
  REQUIRE_THROWS_WITH(phi_run(both_file.string(), dir + "weights.safetensors", "tiny_a").run(),
                      Contains("exactly one of input_ids and inputs_embeds"));
}

TEST_CASE("phi component: a config with tied word embeddings gives logits from embed_tokens",
          "[phi]") {
  // tiny_b's weights without lm_head, its config with tie_word_embeddings: the logits are
  // transformers' last hidden states times embed_tokens.weight^T, summed here in double.
  const std::string dir = fixture_dir("tiny_b");
  const auto split = io::SafetensorsFile::open(dir + "weights.safetensors");
  io::SafetensorsWriter untied;
  for (const std::string& n : split.names())
    if (!n.starts_with("lm_head.")) untied.add(n, split.load<float>(n));
  const TempSafetensors weights_file("phi_tied.safetensors");
  weights_file.write(untied);
  nlohmann::json config = io::read_json_file(dir + "config.json");
  config["tie_word_embeddings"] = true;
  config["lm_head_bias"] = false;
  const std::filesystem::path config_file = std::filesystem::temp_directory_path() /
                                            ("psalm_" + std::to_string(::getpid()) + "_tied.json");
  { std::ofstream(config_file) << config.dump(); }
  ComponentHarness h(mp::phi_component());
  h.inputs(dir + "reference.safetensors")
      .weights(weights_file.string())
      .config(config_file.string());
  const auto out = h.run();
  std::filesystem::remove(config_file);
  REQUIRE(out.names() == std::vector<std::string>{"last_hidden_state", "logits"});

  const auto ref = fixture_reference("tiny_b");
  const Tensor<float> hidden = ref.load<float>("last_hidden_state").contiguous();  // (B, L, D)
  const Tensor<float> embed =
      split.load<float>("model.embed_tokens.weight").contiguous();  // (V, D)
  const std::int64_t rows = hidden.size(0) * hidden.size(1), d = hidden.size(2), v = embed.size(0);
  Tensor<float> want(Shape{hidden.size(0), hidden.size(1), v});  // (B, L, V)
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < v; ++j) {
      double acc = 0;
      for (std::int64_t k = 0; k < d; ++k)
        acc += static_cast<double>(hidden.data()[r * d + k]) * embed.data()[j * d + k];
      want.data()[r * v + j] = static_cast<float>(acc);
    }
  require_close(out.at("logits"), want, fwd_rtol, fwd_atol);
}
