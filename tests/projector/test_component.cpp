// Tests for psalm/models/projector/component.hpp: `psalm forward --component projector` run
// directly on the eval fixture (weights under model.mm_projector., input res5) gives PyTorch's
// tokens; missing config, weights or input are errors that say what is missing.
#include <catch2/catch.hpp>

#include <string>

#include "psalm/models/projector/component.hpp"
#include "support/component_harness.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

namespace {
const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/projector/";
}  // namespace

TEST_CASE("projector component: eval-mode tokens from res5 match PyTorch", "[projector][cli]") {
  testing::ComponentHarness h(models::projector::projector_component());
  h.inputs(kDir + "swin_conv_eval.safetensors")  // the fixture holds inputs and weights
      .weights(kDir + "swin_conv_eval.safetensors")
      .config(kDir + "swin_conv_tiny_config.json")
      .prefix("model.mm_projector.");
  const nn::ComponentOutputs out = h.run();
  REQUIRE(out.names() == std::vector<std::string>{"tokens"});
  testing::require_outputs_close<double>(out, h.opened_inputs(), {"tokens"}, "", tol::f32_sum_rtol,
                                         tol::f32_sum_atol);

  h.check_config_required();
  h.check_prefix_required();
  h.inputs(kDir + "linear.safetensors");  // no res5
  CHECK_THROWS_WITH(h.run(), Catch::Contains("res5"));
}
