// Tests for tools/components/projector.hpp: `psalm forward --component projector` run directly
// on the eval fixture (weights under model.mm_projector., input res5) gives PyTorch's tokens;
// missing config, weights or input are errors that say what is missing.
#include <catch2/catch.hpp>

#include <string>

#include "components/projector.hpp"
#include "support/fixtures.hpp"

using namespace psalm;

namespace {
const std::string kDir = std::string(PSALM_TEST_DATA_DIR) + "/projector/";
}  // namespace

TEST_CASE("projector component: eval-mode tokens from res5 match PyTorch", "[projector][cli]") {
  const auto fixture = io::SafetensorsCheckpoint::open(kDir + "swin_conv_eval.safetensors");
  const auto config = io::ConfigReader::from_file(kDir + "swin_conv_tiny_config.json");
  cli::ComponentRequest req;
  req.inputs = &fixture;
  req.config = &config;
  req.weights = &fixture;
  req.weights_prefix = "model.mm_projector.";
  req.component = "projector";
  const cli::ComponentOutputs out = cli::projector_component().run(req);
  REQUIRE(out.names() == std::vector<std::string>{"tokens"});
  testing::require_close(out.at("tokens"), fixture.load<double>("tokens"), 1e-5, 1e-5);

  cli::ComponentRequest no_config = req;
  no_config.config = nullptr;
  CHECK_THROWS_WITH(cli::projector_component().run(no_config), Catch::Contains("--config"));
  cli::ComponentRequest no_prefix = req;
  no_prefix.weights_prefix = "";
  CHECK_THROWS_WITH(cli::projector_component().run(no_prefix), Catch::Contains("missing"));
  const auto other = io::SafetensorsCheckpoint::open(kDir + "linear.safetensors");
  cli::ComponentRequest no_res5 = req;
  no_res5.inputs = &other;
  CHECK_THROWS_WITH(cli::projector_component().run(no_res5), Catch::Contains("res5"));
}
