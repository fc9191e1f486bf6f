// Tests for the ms_deform_attn component of psalm/models/deformable/component.hpp: `psalm forward
// --component ms_deform_attn` run directly on tests/fixtures/msda/component.safetensors (inputs
// named as the arguments of ms_deform_attn_core_pytorch) gives the PyTorch reference's output; a
// missing or mis-shaped input is an error that names it.
#include <catch2/catch.hpp>

#include <string>

#include "psalm/models/deformable/component.hpp"
#include "support/component_harness.hpp"
#include "support/tolerances.hpp"

using namespace psalm;

namespace {
const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/msda/";
}  // namespace

TEST_CASE("ms_deform_attn component: output matches the PyTorch reference", "[msda][cli]") {
  testing::ComponentHarness h(models::deformable::ms_deform_attn_component());
  h.inputs(kDir + "component.safetensors");
  const nn::ComponentOutputs out = h.run();
  REQUIRE(out.names() == std::vector<std::string>{"output"});
  testing::require_outputs_close<double>(out, h.opened_inputs(), {"output"}, "",
                                         testing::tol::f32_sum_rtol, testing::tol::f32_sum_atol);
}

TEST_CASE("ms_deform_attn component: missing and mis-shaped inputs are named errors",
          "[msda][cli]") {
  testing::ComponentHarness h(models::deformable::ms_deform_attn_component());
  h.inputs(kDir + "op.safetensors");  // prefixed names
  CHECK_THROWS_WITH(h.run(), Catch::Contains("no tensor named \"spatial_shapes\""));
  // module.safetensors has spatial_shapes but not level_start_index
  h.inputs(kDir + "module.safetensors");
  CHECK_THROWS_WITH(h.run(), Catch::Contains("level_start_index"));
}
