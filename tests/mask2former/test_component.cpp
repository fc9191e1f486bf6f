// Tests of tools/components/mask_decoder.hpp (`psalm forward --component mask_decoder`) on the
// PyTorch fixture tests/data/mask2former/decoder_tiny.safetensors: the final and aux outputs
// under their names, region conditions stacked with per-sample counts, absent conditions, and
// errors for inconsistent counts.
#include <catch2/catch.hpp>

#include <string>

#include "components/mask_decoder.hpp"
#include "psalm/io/safetensors_writer.hpp"
#include "support/fixtures.hpp"

using namespace psalm;

namespace {

const std::string kDir = std::string(PSALM_TEST_DATA_DIR) + "/mask2former/";
constexpr double kRtol = 1e-5, kAtol = 1e-5;

/// Writes the fixture's inputs named in `names` (plus overrides) to a temporary file.
io::SafetensorsCheckpoint inputs_file(const io::SafetensorsCheckpoint& fixture,
                                      const std::vector<std::string>& names,
                                      const std::string& file,
                                      const nn::StateDict<float>& overrides = {}) {
  io::SafetensorsWriter writer;
  for (const std::string& n : names)
    if (!overrides.contains(n)) writer.add(n, fixture.load<float>(n));
  for (const auto& [n, t] : overrides) writer.add(n, t);
  const std::string path = (std::filesystem::temp_directory_path() / file).string();
  writer.write(path);
  return io::SafetensorsCheckpoint::open(path);
}

}  // namespace

TEST_CASE("mask_decoder component: final and aux outputs match PyTorch", "[mask2former][cli]") {
  const auto fixture = io::SafetensorsCheckpoint::open(kDir + "decoder_tiny.safetensors");
  const auto config = io::ConfigReader::from_file(kDir + "tiny_config.json");
  cli::ComponentRequest req;
  req.inputs = &fixture;  // the fixture holds the inputs under the component's names
  req.config = &config;
  req.weights = &fixture;
  req.weights_prefix = "predictor.";
  req.component = "mask_decoder";
  const cli::ComponentOutputs out = cli::mask_decoder_component().run(req);
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
  const auto config = io::ConfigReader::from_file(kDir + "tiny_config.json");
  const std::vector<std::string> base{"queries", "mask_features", "multi_scale_0", "multi_scale_1",
                                      "multi_scale_2"};
  cli::ComponentRequest req;
  req.config = &config;
  req.weights = &fixture;
  req.weights_prefix = "predictor.";
  req.component = "mask_decoder";
  const auto plain = inputs_file(fixture, base, "psalm_mask_decoder_plain.safetensors");
  req.inputs = &plain;
  const cli::ComponentOutputs out = cli::mask_decoder_component().run(req);
  CHECK(out.size() == 5);  // pred_masks and aux_0..3_pred_masks only
  testing::require_close(out.at("pred_masks"), fixture.load<float>("out.4.pred_masks"), kRtol,
                         kAtol);

  std::vector<std::string> with_regions = base;
  with_regions.push_back("region_conditions");
  const auto no_counts = inputs_file(fixture, with_regions, "psalm_mask_decoder_nc.safetensors");
  req.inputs = &no_counts;
  CHECK_THROWS_WITH(cli::mask_decoder_component().run(req), Catch::Contains("region_counts (B)"));
  with_regions.push_back("region_counts");
  nn::StateDict<float> bad;
  bad.insert("region_counts", Tensor<float>::from_data({3.f, 1.f}, {2}));
  const auto short_counts =
      inputs_file(fixture, with_regions, "psalm_mask_decoder_bad.safetensors", bad);
  req.inputs = &short_counts;
  CHECK_THROWS_WITH(cli::mask_decoder_component().run(req), Catch::Contains("sum to 4"));
  req.weights_prefix = "";
  CHECK_THROWS_WITH(cli::mask_decoder_component().run(req), Catch::Contains("missing"));
}
