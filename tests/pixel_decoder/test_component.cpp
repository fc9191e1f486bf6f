// Tests for the pixel_decoder component of psalm/models/deformable/component.hpp: `psalm forward
// --component pixel_decoder` run directly on the fixture of
// tools/reference/pixel_decoder_fixtures.py (weights under pixel_decoder., inputs res2..res5) gives
// the reference outputs; a missing config, input or weight and a bad config field are errors that
// say what is wrong.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "psalm/models/deformable/component.hpp"
#include "support/component_harness.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

namespace {
const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/pixel_decoder/";

testing::ComponentHarness fixture_harness() {
  testing::ComponentHarness h(models::deformable::pixel_decoder_component());
  h.inputs(kDir + "pixel_decoder.safetensors")  // the fixture holds inputs and weights
      .weights(kDir + "pixel_decoder.safetensors")
      .config(kDir + "tiny_config.json")
      .prefix("pixel_decoder.");
  return h;
}
}  // namespace

TEST_CASE("pixel_decoder component: outputs from res2..res5 match the PyTorch composition",
          "[pixel_decoder][cli]") {
  const testing::ComponentHarness h = fixture_harness();
  const nn::ComponentOutputs out = h.run();
  REQUIRE(out.names() == std::vector<std::string>{"mask_features", "multi_scale_0", "multi_scale_1",
                                                  "multi_scale_2"});
  testing::require_outputs_close<double>(out, h.opened_inputs(), out.names(), "out.",
                                         tol::f32_grad_rtol, tol::f32_sum_atol);

  h.check_config_required();
  h.check_prefix_required();
  const auto bad = io::ConfigReader::from_text(
      R"({"in_channels": [8, 12, 16, 20], "conv_dim": 32, "mask_dim": 24, "norm_groups": 8,
          "transformer_enc_layers": 2, "transformer_nheads": 4, "enc_n_points": 2,
          "transformer_dim_feedforward": 64, "weight_names": "detectron"})",
      "bad.json");
  CHECK_THROWS_WITH(h.run_with([&](nn::ComponentRequest& r) { r.config = &bad; }),
                    Catch::Contains("weight_names"));
  const auto three = io::ConfigReader::from_text(R"({"in_channels": [8, 12, 16]})", "three.json");
  CHECK_THROWS_WITH(h.run_with([&](nn::ComponentRequest& r) { r.config = &three; }),
                    Catch::Contains("in_channels must list 4 values"));
}

TEST_CASE("pixel_decoder component: a missing input is an error naming it",
          "[pixel_decoder][cli]") {
  testing::ComponentHarness h = fixture_harness();
  h.inputs(kDir + "position_encoding.safetensors");  // no res2..res5
  CHECK_THROWS_WITH(h.run(), Catch::Contains("res2"));
}
