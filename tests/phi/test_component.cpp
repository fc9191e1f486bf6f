// The `phi` component of `psalm forward` on the transformers fixtures: hidden states and logits
// from input_ids (with padding) or inputs_embeds, weights in either layout, bare PhiModel
// weights give hidden states only, and bad requests are clear errors.
#include <catch2/catch.hpp>

#include <filesystem>

#include "components/phi.hpp"
#include "phi/phi_fixtures.hpp"
#include "psalm/io/safetensors_writer.hpp"

using namespace psalm;
using namespace psalm::testing;
using namespace psalm::testing::phi;
using Catch::Matchers::Contains;

namespace {

struct Files {
  io::SafetensorsCheckpoint inputs, weights;
  io::ConfigReader config;
};

cli::ComponentOutputs run(const Files& f, const std::string& prefix = {}) {
  cli::ComponentRequest req{&f.inputs, &f.config, &f.weights, prefix, "phi"};
  return cli::phi_component().run(req);
}

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("psalm_phi_" + std::to_string(::getpid()) + "_" + name);
}

}  // namespace

TEST_CASE("phi component: input_ids with padding give transformers' hidden states and logits",
          "[phi]") {
  const std::string dir = fixture_dir("tiny_b");
  const Files f{io::SafetensorsCheckpoint::open(dir + "reference.safetensors"),
                io::SafetensorsCheckpoint::open(dir + "weights.safetensors"),
                io::ConfigReader::from_file(dir + "config.json")};
  const auto out = run(f);
  REQUIRE(out.names() == std::vector<std::string>{"last_hidden_state", "logits"});
  const auto ref = fixture_reference("tiny_b");
  require_close(out.at("last_hidden_state"), ref.load<float>("last_hidden_state"), fwd_rtol,
                fwd_atol);
  require_close(out.at("logits"), ref.load<float>("logits"), fwd_rtol, fwd_atol);
  // The same with a float32 attention_mask, as a user may save it.
  io::SafetensorsWriter inputs;
  inputs.add("input_ids", ref.load<std::int64_t>("input_ids"));
  inputs.add("attention_mask", ref.load<float>("attention_mask"));
  const auto path = temp_file("float_mask.safetensors");
  inputs.write(path);
  const Files g{io::SafetensorsCheckpoint::open(path),
                io::SafetensorsCheckpoint::open(dir + "weights.safetensors"),
                io::ConfigReader::from_file(dir + "config.json")};
  require_close(run(g).at("logits"), out.at("logits"), 0, 0);
  std::filesystem::remove(path);
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
  const auto fused_path = temp_file("fused.safetensors");
  fused.write(fused_path);
  io::SafetensorsWriter inputs;
  nn::InitRng rng{0};
  mp::PhiForCausalLM<float> lm(cfg, rng);
  mp::load_phi_weights(lm, sd, cfg);
  inputs.add("inputs_embeds", lm.model.embed(ref.load<std::int64_t>("input_ids")).value());
  const auto inputs_path = temp_file("inputs.safetensors");
  inputs.write(inputs_path);
  {
    const Files f{io::SafetensorsCheckpoint::open(inputs_path),
                  io::SafetensorsCheckpoint::open(fused_path),
                  io::ConfigReader::from_file(dir + "config.json")};
    const auto out = run(f, "llm.");
    require_close(out.at("logits"), ref.load<float>("logits"), fwd_rtol, fwd_atol);
    // Not under the prefix: a clear error naming what is missing.
    REQUIRE_THROWS_WITH(run(f), Contains("embed_tokens.weight"));
  }
  // Bare PhiModel names (no model. wrapper, no lm_head): hidden states only.
  io::SafetensorsWriter bare;
  for (const auto& [n, t] : sd)
    if (n.starts_with("model.")) bare.add(n.substr(6), t);
  const auto bare_path = temp_file("bare.safetensors");
  bare.write(bare_path);
  {
    const Files f{io::SafetensorsCheckpoint::open(dir + "reference.safetensors"),
                  io::SafetensorsCheckpoint::open(bare_path),
                  io::ConfigReader::from_file(dir + "config.json")};
    const auto out = run(f);
    REQUIRE(out.names() == std::vector<std::string>{"last_hidden_state"});
    require_close(out.at("last_hidden_state"), ref.load<float>("last_hidden_state"), fwd_rtol,
                  fwd_atol);
  }
  // Both input_ids and inputs_embeds: refused.
  io::SafetensorsWriter both;
  both.add("input_ids", ref.load<std::int64_t>("input_ids"));
  both.add("inputs_embeds", Tensor<float>::zeros({2, 7, 64}));
  const auto both_path = temp_file("both.safetensors");
  both.write(both_path);
  {
    const Files f{io::SafetensorsCheckpoint::open(both_path),
                  io::SafetensorsCheckpoint::open(dir + "weights.safetensors"),
                  io::ConfigReader::from_file(dir + "config.json")};
    REQUIRE_THROWS_WITH(run(f), Contains("exactly one of input_ids and inputs_embeds"));
  }
  for (const auto& p : {fused_path, inputs_path, bare_path, both_path}) std::filesystem::remove(p);
}
