// Tests of psalm/psalm/component.hpp (`psalm forward --component psalm`) on the PyTorch fixture
// tests/fixtures/psalm/forward/ (tools/reference/psalm_forward_fixtures.py: the reference
// composition in eval mode on upstream-style batch tensors): every output of every case
// (panoptic with shuffled classes, referring with padded sentences, interactive from masks,
// interactive from points with padded ids) against PyTorch, the weights under a prefix, and the
// errors for missing or mis-shaped inputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "psalm/psalm/component.hpp"
#include "support/component_harness.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

using namespace psalm;

namespace {

const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/psalm/forward/";
const std::vector<std::string> kCases{"panoptic", "referring", "interactive",
                                      "interactive_padding"};

testing::ComponentHarness fixture_harness(const std::string& inputs) {
  testing::ComponentHarness h(psalm_component());
  h.inputs(inputs).weights(kDir + "weights.safetensors").config(kDir + "config.json");
  return h;
}

/// Every expected tensor of `expected_file` is an output, close to the reference; no others.
void require_matches(const nn::ComponentOutputs& out, const std::string& expected_file) {
  const auto want = io::SafetensorsCheckpoint::open(expected_file);
  CHECK(out.size() == want.names().size());
  for (const std::string& name : want.names()) {
    REQUIRE(out.contains(name));
    testing::require_close_to_max(out.at(name), want.load<float>(name), name,
                                  testing::tol::psalm_forward_rtol,
                                  testing::tol::psalm_forward_atol);
  }
}

/// The case's inputs with `drop` left out and `overrides` replacing or adding tensors.
void write_variant(const io::SafetensorsCheckpoint& inputs, const testing::TempSafetensors& file,
                   const std::vector<std::string>& drop, const nn::StateDict<float>& overrides = {},
                   const nn::StateDict<double>& int_overrides = {}) {
  io::SafetensorsWriter writer;
  for (const std::string& n : inputs.names()) {
    if (std::find(drop.begin(), drop.end(), n) != drop.end() || overrides.contains(n) ||
        int_overrides.contains(n))
      continue;
    if (inputs.dtype(n) == io::SafetensorsDType::I64)
      writer.add(n, inputs.load<std::int64_t>(n));
    else
      writer.add(n, inputs.load<float>(n));
  }
  for (const auto& [n, t] : overrides) writer.add(n, t);
  for (const auto& [n, t] : int_overrides)
    writer.add(n, Tensor<std::int64_t>(cast<std::int64_t>(t)));
  file.write(writer);
}

}  // namespace

TEST_CASE("psalm component: every output of every task matches PyTorch", "[psalm][component]") {
  for (const std::string& name : kCases) {
    INFO("case " << name);
    const testing::ComponentHarness h = fixture_harness(kDir + name + ".inputs.safetensors");
    const nn::ComponentOutputs out = h.run();
    require_matches(out, kDir + name + ".expected.safetensors");
    // the final set and dec_layers aux sets, each with the masks and the task's logits
    CHECK(out.contains("pred_masks"));
    CHECK(out.contains("aux_0_pred_masks"));
    CHECK(out.contains("aux_1_pred_masks"));
    CHECK_FALSE(out.contains("aux_2_pred_masks"));
    const char* logits = name == "panoptic"    ? "pred_class_logits"
                         : name == "referring" ? "pred_seg_logits"
                                               : "pred_region_logits";
    CHECK(out.contains(logits));
  }
}

TEST_CASE("psalm component: weights under a prefix, incomplete requests", "[psalm][component]") {
  const std::string inputs = kDir + "referring.inputs.safetensors";
  testing::ComponentHarness plain = fixture_harness(inputs);
  plain.check_config_required();
  plain.check_weights_required();

  // The same weights under "module." load with --prefix module. and not without it.
  const auto weights = io::SafetensorsCheckpoint::open(kDir + "weights.safetensors");
  io::SafetensorsWriter writer;
  for (const std::string& n : weights.names()) {
    if (weights.dtype(n) == io::SafetensorsDType::I64)
      writer.add("module." + n, weights.load<std::int64_t>(n));
    else
      writer.add("module." + n, weights.load<float>(n));
  }
  const testing::TempSafetensors prefixed("psalm_component_prefixed.safetensors");
  prefixed.write(writer);
  testing::ComponentHarness h(psalm_component());
  h.inputs(inputs).weights(prefixed.string()).config(kDir + "config.json").prefix("module.");
  require_matches(h.run(), kDir + "referring.expected.safetensors");
  h.check_prefix_required();
}

TEST_CASE("psalm component: missing or mis-shaped inputs are named", "[psalm][component]") {
  const auto panoptic = io::SafetensorsCheckpoint::open(kDir + "panoptic.inputs.safetensors");
  const auto interactive =
      io::SafetensorsCheckpoint::open(kDir + "interactive_padding.inputs.safetensors");
  const testing::TempSafetensors file("psalm_component_bad.safetensors");
  auto error_of = [&](const io::SafetensorsCheckpoint& base, const std::vector<std::string>& drop,
                      const nn::StateDict<float>& overrides = {},
                      const nn::StateDict<double>& ints = {}) {
    write_variant(base, file, drop, overrides, ints);
    try {
      fixture_harness(file.string()).run();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  using Catch::Contains;
  CHECK_THAT(error_of(panoptic, {"pixel_values"}), Contains("no tensor named \"pixel_values\""));
  nn::StateDict<float> small;
  small.insert("pixel_values", Tensor<float>::zeros(Shape{1, 3, 32, 32}));
  CHECK_THAT(error_of(panoptic, {}, small),
             Contains("pixel_values must be (B, 3, 64, 64)") && Contains("(1, 3, 32, 32)"));
  CHECK_THAT(error_of(panoptic, {"cls_indices"}), Contains("no tensor named \"cls_indices\""));
  nn::StateDict<double> short_order;
  short_order.insert("random_idx", Tensor<double>::from_data({0, 1, 2}, {1, 3}));
  CHECK_THAT(error_of(panoptic, {}, {}, short_order),
             Contains("random_idx must be (B, C) = (1, 5)"));
  nn::StateDict<double> not_perm;
  not_perm.insert("random_idx", Tensor<double>::from_data({0, 1, 1, 3, 4}, {1, 5}));
  CHECK_THAT(error_of(panoptic, {}, {}, not_perm),
             Contains("random_idx row 0 is not a permutation"));
  nn::StateDict<double> two_rows;  // input_ids for 2 samples, pixels for 1
  two_rows.insert("input_ids", Tensor<double>::zeros(Shape{2, 4}));
  CHECK_THAT(error_of(panoptic, {}, {}, two_rows), Contains("input_ids must be (B, N) = (1, N)"));
  nn::StateDict<double> no_seg;
  no_seg.insert("input_ids", Tensor<double>::from_data({11, -200, -202, 12}, {1, 4}));
  CHECK_THAT(error_of(panoptic, {}, {}, no_seg), Contains("one <image> (-200) and one <seg>"));

  CHECK_THAT(error_of(interactive, {"region_counts"}), Contains("region_counts (B)"));
  CHECK_THAT(error_of(interactive, {"region_points"}),
             Contains("exactly one of region_masks (K_total, T, T) and region_points"));
  nn::StateDict<double> counts;
  counts.insert("region_counts", Tensor<double>::from_data({2, 2}, {2}));
  CHECK_THAT(error_of(interactive, {}, {}, counts),
             Contains("region_counts[0] = 2 but input_ids row 0 holds 1 <region>"));
  nn::StateDict<double> gap;  // a token after the padding began
  const Tensor<std::int64_t> mask = interactive.load<std::int64_t>("attention_mask");
  Tensor<double> holes(cast<double>(mask));
  holes.data()[holes.size(1) - 1] = 1;  // row 0 is the shorter one
  gap.insert("attention_mask", holes);
  CHECK_THAT(error_of(interactive, {}, {}, gap), Contains("attention_mask row 0 has a token at"));
}
