// The `phi` component of `psalm forward` on the transformers fixtures: hidden states and logits
// from input_ids (with padding) or inputs_embeds, weights in either layout, bare PhiModel
// weights give hidden states only, and bad requests are clear errors.
#include <catch2/catch.hpp>

#include "phi/phi_fixtures.hpp"
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
