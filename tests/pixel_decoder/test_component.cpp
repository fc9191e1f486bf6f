// Tests for tools/components/pixel_decoder.hpp: `psalm forward --component pixel_decoder` run
// directly on the fixture of tools/reference/pixel_decoder_fixtures.py (weights under
// pixel_decoder., inputs res2..res5) gives the reference outputs; a missing config, input or
// weight and a bad config field are errors that say what is wrong.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "components/pixel_decoder.hpp"
#include "support/fixtures.hpp"

using namespace psalm;

namespace {
const std::string kDir = std::string(PSALM_TEST_DATA_DIR) + "/pixel_decoder/";
}  // namespace

TEST_CASE("pixel_decoder component: outputs from res2..res5 match the PyTorch composition",
          "[pixel_decoder][cli]") {
  const auto fixture = io::SafetensorsCheckpoint::open(kDir + "pixel_decoder.safetensors");
  const auto config = io::ConfigReader::from_file(kDir + "tiny_config.json");
  cli::ComponentRequest req;
  req.inputs = &fixture;
  req.config = &config;
  req.weights = &fixture;
  req.weights_prefix = "pixel_decoder.";
  req.component = "pixel_decoder";
  const cli::ComponentOutputs out = cli::pixel_decoder_component().run(req);
  REQUIRE(out.names() == std::vector<std::string>{"mask_features", "multi_scale_0", "multi_scale_1",
                                                  "multi_scale_2"});
  for (const std::string& name : out.names())
    testing::require_close(out.at(name), fixture.load<double>("out." + name), 1e-4, 1e-5);

  cli::ComponentRequest no_config = req;
  no_config.config = nullptr;
  CHECK_THROWS_WITH(cli::pixel_decoder_component().run(no_config), Catch::Contains("--config"));
  cli::ComponentRequest no_prefix = req;
  no_prefix.weights_prefix = "";
  CHECK_THROWS_WITH(cli::pixel_decoder_component().run(no_prefix), Catch::Contains("missing"));
  const auto bad = io::ConfigReader::from_text(
      R"({"in_channels": [8, 12, 16, 20], "conv_dim": 32, "mask_dim": 24, "norm_groups": 8,
          "transformer_enc_layers": 2, "transformer_nheads": 4, "enc_n_points": 2,
          "transformer_dim_feedforward": 64, "weight_names": "detectron"})",
      "bad.json");
  cli::ComponentRequest bad_names = req;
  bad_names.config = &bad;
  CHECK_THROWS_WITH(cli::pixel_decoder_component().run(bad_names), Catch::Contains("weight_names"));
  const auto three = io::ConfigReader::from_text(R"({"in_channels": [8, 12, 16]})", "three.json");
  cli::ComponentRequest three_levels = req;
  three_levels.config = &three;
  CHECK_THROWS_WITH(cli::pixel_decoder_component().run(three_levels),
                    Catch::Contains("in_channels must list 4 values"));
}

TEST_CASE("pixel_decoder component: a missing input is an error naming it",
          "[pixel_decoder][cli]") {
  const auto fixture = io::SafetensorsCheckpoint::open(kDir + "pixel_decoder.safetensors");
  const auto inputs =
      io::SafetensorsCheckpoint::open(kDir + "position_encoding.safetensors");  // no res2..res5
  const auto config = io::ConfigReader::from_file(kDir + "tiny_config.json");
  cli::ComponentRequest req;
  req.inputs = &inputs;
  req.config = &config;
  req.weights = &fixture;
  req.weights_prefix = "pixel_decoder.";
  req.component = "pixel_decoder";
  CHECK_THROWS_WITH(cli::pixel_decoder_component().run(req), Catch::Contains("res2"));
}
