// Tests for psalm/models/swin/component.hpp: `psalm forward --component swin` run directly on the
// transformers fixture (HF SwinConfig JSON, Mask2Former-named weights under backbone.) gives
// res2..res5; missing config, weights, prefix or pixel_values are errors that say so.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "psalm/models/swin/component.hpp"
#include "support/component_harness.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

namespace {
const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/swin/";
}  // namespace

TEST_CASE("swin component: res2..res5 from pixel_values match transformers", "[swin][cli]") {
  testing::ComponentHarness h(models::swin::swin_component());
  h.inputs(kDir + "tiny_reference.safetensors")
      .weights(kDir + "tiny_weights.safetensors")
      .config(kDir + "tiny_config.json")
      .prefix("backbone.");
  const nn::ComponentOutputs out = h.run();
  REQUIRE(out.names() == std::vector<std::string>{"res2", "res3", "res4", "res5"});
  testing::require_outputs_close<float>(out, h.opened_inputs(), out.names(), "", tol::f32_sum_rtol,
                                        tol::f32_sum_atol);

  h.check_config_required();
  h.check_weights_required();
  h.check_prefix_required();
  CHECK_THROWS_WITH(h.run_with([&](nn::ComponentRequest& r) { r.inputs = &h.opened_weights(); }),
                    Catch::Contains("pixel_values"));
}
