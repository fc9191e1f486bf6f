// Tests of the shipped model models/psalm-tiny (docs/results.md): it loads through
// psalm::Segmenter (bf16 storage, its own tokenizer files) and segments held-out synthetic
// scenes better than chance: background ("stuff") classes are found with a panoptic quality a
// random model never reaches.
#include <catch2/catch.hpp>

#include <filesystem>

#include "psalm/psalm/segmenter.hpp"
#include "psalm/train/data_sources.hpp"
#include "psalm/train/evaluate.hpp"

using namespace psalm;

TEST_CASE("shipped model: loads and segments held-out scenes", "[psalm][shipped]") {
  const std::filesystem::path dir =
      std::filesystem::path(PSALM_GPT2_DIR) / "../../models/psalm-tiny";
  REQUIRE(std::filesystem::is_regular_file(dir / "model.safetensors"));
  Segmenter segmenter = Segmenter::load(dir);
  CHECK(segmenter.config().image_size == 128);

  train::SyntheticExampleOptions options;
  options.scene.height = options.scene.width = 128;
  options.scene.seed = 0;
  // The held-out scenes `psalm train` evaluated the shipped run on (its training seed was 0).
  const train::DataSources sources =
      train::synthetic_sources(options, {"panoptic"}, train::held_out_seed(0));
  const train::EvaluationResult r = train::evaluate<cpu>(
      segmenter.model(), segmenter.encoder(), Task::panoptic, sources.held_out.at("panoptic"), 16);
  INFO(r.report);
  // The 30-minute model reaches PQ(stuff) 37.6 on 32 examples (docs/results.md); a random
  // model scores 0.
  CHECK(r.metrics.at("pq_stuff").get<double>() > 0.15);
}
