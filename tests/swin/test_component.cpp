// Tests for tools/components/swin.hpp: `psalm forward --component swin` run directly on the
// transformers fixture (HF SwinConfig JSON, Mask2Former-named weights under backbone.) gives
// res2..res5; missing config, weights, prefix or pixel_values are errors that say so.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "components/swin.hpp"
#include "support/fixtures.hpp"

using namespace psalm;

namespace {
const std::string kDir = std::string(PSALM_TEST_DATA_DIR) + "/swin/";
}  // namespace

TEST_CASE("swin component: res2..res5 from pixel_values match transformers", "[swin][cli]") {
  const auto inputs = io::SafetensorsCheckpoint::open(kDir + "tiny_reference.safetensors");
  const auto weights = io::SafetensorsCheckpoint::open(kDir + "tiny_weights.safetensors");
  const auto config = io::ConfigReader::from_file(kDir + "tiny_config.json");
  cli::ComponentRequest req;
  req.inputs = &inputs;
  req.config = &config;
  req.weights = &weights;
  req.weights_prefix = "backbone.";
  req.component = "swin";
  const cli::ComponentOutputs out = cli::swin_component().run(req);
  REQUIRE(out.names() == std::vector<std::string>{"res2", "res3", "res4", "res5"});
  for (const std::string& name : out.names()) {
    INFO(name);
    testing::require_close(out.at(name), inputs.load<float>(name), 1e-5, 1e-5);
  }

  cli::ComponentRequest no_config = req;
  no_config.config = nullptr;
  CHECK_THROWS_WITH(cli::swin_component().run(no_config), Catch::Contains("--config"));
  cli::ComponentRequest no_weights = req;
  no_weights.weights = nullptr;
  CHECK_THROWS_WITH(cli::swin_component().run(no_weights), Catch::Contains("--weights"));
  cli::ComponentRequest no_prefix = req;
  no_prefix.weights_prefix = "";
  CHECK_THROWS_WITH(cli::swin_component().run(no_prefix), Catch::Contains("missing"));
  cli::ComponentRequest no_pixels = req;
  no_pixels.inputs = &weights;
  CHECK_THROWS_WITH(cli::swin_component().run(no_pixels), Catch::Contains("pixel_values"));
}
