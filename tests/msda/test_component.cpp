// Tests for tools/components/ms_deform_attn.hpp: `psalm forward --component ms_deform_attn` run
// directly on tests/data/msda/component.safetensors (inputs named as the arguments of
// ms_deform_attn_core_pytorch) gives the PyTorch reference's output; a missing or mis-shaped
// input is an error that names it.
#include <catch2/catch.hpp>

#include <string>

#include "components/ms_deform_attn.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

using namespace psalm;

namespace {
const std::string kDir = std::string(PSALM_TEST_DATA_DIR) + "/msda/";
}  // namespace

TEST_CASE("ms_deform_attn component: output matches the PyTorch reference", "[msda][cli]") {
  const auto fixture = io::SafetensorsCheckpoint::open(kDir + "component.safetensors");
  cli::ComponentRequest req;
  req.inputs = &fixture;
  req.component = "ms_deform_attn";
  const cli::ComponentOutputs out = cli::ms_deform_attn_component().run(req);
  REQUIRE(out.names() == std::vector<std::string>{"output"});
  testing::require_close(out.at("output"), fixture.load<double>("output"),
                         testing::tol::f32_sum_rtol, testing::tol::f32_sum_atol);
}

TEST_CASE("ms_deform_attn component: missing and mis-shaped inputs are named errors",
          "[msda][cli]") {
  const auto wrong = io::SafetensorsCheckpoint::open(kDir + "op.safetensors");  // prefixed names
  cli::ComponentRequest req;
  req.inputs = &wrong;
  req.component = "ms_deform_attn";
  CHECK_THROWS_WITH(cli::ms_deform_attn_component().run(req),
                    Catch::Contains("no tensor named \"spatial_shapes\""));
  const auto module = io::SafetensorsCheckpoint::open(kDir + "module.safetensors");
  // module.safetensors has spatial_shapes but not level_start_index
  req.inputs = &module;
  CHECK_THROWS_WITH(cli::ms_deform_attn_component().run(req), Catch::Contains("level_start_index"));
}
