// Tests of psalm/models/mask2former/component.hpp (`psalm forward --component mask_decoder`) on
// the PyTorch fixture tests/fixtures/mask2former/decoder_tiny.safetensors: the final and aux
// outputs under their names, region conditions stacked with per-sample counts, absent conditions,
// and errors for inconsistent counts.
#include <catch2/catch.hpp>

#include <string>

#include "psalm/models/mask2former/component.hpp"
#include "support/component_harness.hpp"

using namespace psalm;

namespace {

const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/mask2former/";
constexpr double kRtol = 1e-5, kAtol = 1e-5;

/// The decoder with the fixture's weights (under predictor.) and config; inputs as given.
testing::ComponentHarness fixture_harness(const std::string& inputs) {
  testing::ComponentHarness h(models::mask2former::mask_decoder_component());
  h.inputs(inputs)
      .weights(kDir + "decoder_tiny.safetensors")
      .config(kDir + "tiny_config.json")
      .prefix("predictor.");
  return h;
}

/// Writes the fixture's inputs named in `names` (plus overrides) to `file`.
void write_inputs(const io::SafetensorsCheckpoint& fixture, const std::vector<std::string>& names,
                  const testing::TempSafetensors& file,
                  const nn::StateDict<float>& overrides = {}) {
  io::SafetensorsWriter writer;
  for (const std::string& n : names)
    if (!overrides.contains(n)) writer.add(n, fixture.load<float>(n));
  for (const auto& [n, t] : overrides) writer.add(n, t);
  file.write(writer);
}

}  // namespace

TEST_CASE("mask_decoder component: final and aux outputs match PyTorch", "[mask2former][cli]") {
  // the fixture holds the inputs under the component's names
  const testing::ComponentHarness h = fixture_harness(kDir + "decoder_tiny.safetensors");
  const auto& fixture = h.opened_inputs();
  const nn::ComponentOutputs out = h.run();
  CHECK(out.size() == 5 * 4);
  for (int s = 0; s < 5; ++s) {
    INFO("prediction set " << s);
    const std::string name = s == 4 ? "" : "aux_" + std::to_string(s) + "_";
    const std::string key = "out." + std::to_string(s) + ".";
    for (const char* o : {"pred_masks", "pred_class_logits", "pred_seg_logits"})
      testing::require_close(out.at(name + o), fixture.load<float>(key + o), kRtol, kAtol);
    const Tensor<float> r0 = fixture.load<float>(key + "pred_region_logits.0");  // (3, Q)
    const Tensor<float> r1 = fixture.load<float>(key + "pred_region_logits.1");  // (2, Q)
    const Tensor<float>& got = out.at(name + "pred_region_logits");              // (5, Q)
    testing::require_close(Tensor<float>(got.narrow(0, 0, 3)), r0, kRtol, kAtol);
    testing::require_close(Tensor<float>(got.narrow(0, 3, 2)), r1, kRtol, kAtol);
  }
}

TEST_CASE("mask_decoder component: absent conditions, bad region counts", "[mask2former][cli]") {
  const auto fixture = io::SafetensorsCheckpoint::open(kDir + "decoder_tiny.safetensors");
  const std::vector<std::string> base{"queries", "mask_features", "multi_scale_0", "multi_scale_1",
                                      "multi_scale_2"};
  const testing::TempSafetensors plain("mask_decoder_plain.safetensors");
  write_inputs(fixture, base, plain);
  testing::ComponentHarness h = fixture_harness(plain.string());
  const nn::ComponentOutputs out = h.run();
  CHECK(out.size() == 5);  // pred_masks and aux_0..3_pred_masks only
  testing::require_close(out.at("pred_masks"), fixture.load<float>("out.4.pred_masks"), kRtol,
                         kAtol);

  std::vector<std::string> with_regions = base;
  with_regions.push_back("region_conditions");
  const testing::TempSafetensors no_counts("mask_decoder_nc.safetensors");
  write_inputs(fixture, with_regions, no_counts);
  h.inputs(no_counts.string());
  CHECK_THROWS_WITH(h.run(), Catch::Contains("region_counts (B)"));
  with_regions.push_back("region_counts");
  nn::StateDict<float> bad;
  bad.insert("region_counts", Tensor<float>::from_data({3.f, 1.f}, {2}));
  const testing::TempSafetensors short_counts("mask_decoder_bad.safetensors");
  write_inputs(fixture, with_regions, short_counts, bad);
  h.inputs(short_counts.string());
  CHECK_THROWS_WITH(h.run(), Catch::Contains("sum to 4"));
  h.check_prefix_required();
}
