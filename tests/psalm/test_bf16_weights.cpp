// Tests of bf16 weights for inference (SegmenterOptions::weights_in_bf16, nn/linear.hpp's
// keep_linear_weights_in_bf16) on the shipped model models/psalm-tiny: on held-out synthetic
// scenes of every segmentation task its masks agree with the float model's to IoU >= 0.99
// (issue 19's accuracy bar), with every Linear weight in bf16 and the gradient path refused.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <utility>

#include "psalm/psalm/segmenter.hpp"
#include "psalm/train/data_sources.hpp"

using namespace psalm;

namespace {

const std::filesystem::path& shipped_model() {
  static const std::filesystem::path dir =
      std::filesystem::path(PSALM_GPT2_DIR) / "../../models/psalm-tiny";
  return dir;
}

/// The evaluation path's answer to a held-out example (as `psalm eval` computes it).
TaskPrediction answer(Segmenter& seg, const Example& ex) {
  const autograd::NoGrad no_grad;
  const EncodedExample encoded = seg.encoder().encode(ex);
  const EncodedBatch batch = collate(std::span<const EncodedExample>(&encoded, 1));
  const PsalmOutput<float> out = seg.model()(batch.inputs);
  return task_inference(ex.task, sample_outputs(out.last(), 0), batch.geometries[0],
                        example_categories(ex), seg.options().inference);
}

/// An answer as pixel sets by key: the class for panoptic (its segments merged), the region for
/// interactive, one mask for referring and gRES. Values are 0 / 1 per pixel.
std::map<std::int64_t, std::vector<std::uint8_t>> masks_by_key(const TaskPrediction& p) {
  std::map<std::int64_t, std::vector<std::uint8_t>> out;
  switch (p.task) {
    case Task::panoptic: {
      const auto ids = p.panoptic.segment_ids.to_vector();
      std::map<std::int32_t, std::int64_t> label_of;  // segment id -> class
      for (std::size_t s = 0; s < p.panoptic.segments.size(); ++s)
        label_of[static_cast<std::int32_t>(p.panoptic.segments[s].id)] = p.panoptic.labels[s];
      for (std::size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] == 0) continue;
        auto& m = out[label_of.at(ids[i])];
        m.resize(ids.size(), 0);
        m[i] = 1;
      }
      break;
    }
    case Task::referring:
      out[0] = p.referring.mask.to_vector();
      break;
    case Task::gres:
      out[0] = p.gres.mask.to_vector();
      break;
    case Task::interactive:
      for (std::size_t k = 0; k < p.regions.size(); ++k)
        out[static_cast<std::int64_t>(k)] = p.regions[k].mask.to_vector();
      break;
    default:
      FAIL("masks_by_key: task not compared here");
  }
  return out;
}

/// Adds |A n B| and |A u B| over every key of either answer (a key on one side only adds its
/// area to the union).
void accumulate_iou(const TaskPrediction& a, const TaskPrediction& b, std::int64_t& inter,
                    std::int64_t& uni) {
  auto ma = masks_by_key(a), mb = masks_by_key(b);
  for (auto& [key, mask] : mb) ma.try_emplace(key, mask.size(), 0);
  for (auto& [key, mask] : ma) {
    const auto it = mb.find(key);
    for (std::size_t i = 0; i < mask.size(); ++i) {
      const bool x = mask[i] != 0, y = it != mb.end() && it->second[i] != 0;
      inter += x && y;
      uni += x || y;
    }
  }
}

}  // namespace

TEST_CASE("bf16 weights: the shipped model's masks agree with float to IoU >= 0.99",
          "[psalm][bf16][shipped]") {
  REQUIRE(std::filesystem::is_regular_file(shipped_model() / "model.safetensors"));
  Segmenter f32 = Segmenter::load(shipped_model());
  SegmenterOptions options;
  options.weights_in_bf16 = true;
  Segmenter bf16 = Segmenter::load(shipped_model(), options);

  // The Linear weights are gone from the float parameters; norms and embeddings stay (the tied
  // 50,297-row embedding is most of the tiny model, so the float share stays large).
  std::int64_t f32_params = 0, bf16_params = 0;
  f32.model().for_each_parameter(
      [&](const std::string&, autograd::Var<float>& p) { f32_params += p.numel(); });
  bf16.model().for_each_parameter(
      [&](const std::string&, autograd::Var<float>& p) { bf16_params += p.numel(); });
  CHECK(bf16_params > 0);
  CHECK(bf16_params < f32_params);

  train::SyntheticExampleOptions scenes;
  scenes.scene.height = scenes.scene.width = 128;
  scenes.scene.seed = 0;
  const std::vector<std::string> tasks{"referring", "gres", "panoptic", "interactive"};
  const train::DataSources sources =
      train::synthetic_sources(scenes, tasks, train::held_out_seed(0));
  std::int64_t all_inter = 0, all_union = 0;
  for (const std::string& task : tasks) {
    std::int64_t inter = 0, uni = 0;
    for (std::int64_t i = 0; i < 6; ++i) {
      const Example ex = sources.held_out.at(task)(i);
      accumulate_iou(answer(f32, ex), answer(bf16, ex), inter, uni);
    }
    const double iou = uni == 0 ? 1.0 : static_cast<double>(inter) / static_cast<double>(uni);
    INFO(task << ": IoU " << iou << " over " << uni << " pixels");
    CHECK(uni > 0);
    CHECK(iou >= 0.99);
    all_inter += inter;
    all_union += uni;
  }
  CHECK(static_cast<double>(all_inter) / static_cast<double>(all_union) >= 0.99);
}

TEST_CASE("bf16 weights: the Segmenter's model refuses training", "[psalm][bf16][shipped]") {
  SegmenterOptions options;
  options.weights_in_bf16 = true;
  Segmenter bf16 = Segmenter::load(shipped_model(), options);
  train::SyntheticExampleOptions scenes;
  scenes.scene.height = scenes.scene.width = 128;
  const train::DataSources sources = train::synthetic_sources(scenes, {"referring"}, 7);
  const Example ex = sources.held_out.at("referring")(0);
  const EncodedExample encoded = bf16.encoder().encode(ex);
  const EncodedBatch batch = collate(std::span<const EncodedExample>(&encoded, 1));
  // Grad mode on with trainable parameters left (norms): the bf16 layers say why they refuse.
  REQUIRE_THROWS_WITH(bf16.model()(batch.inputs), Catch::Contains("runs inference only"));
}
