// Tests of `psalm init` (tools/commands/init.hpp, psalm/stage2_init.hpp) run as the built program
// on the inits of tools/reference/released_fixtures.py (tests/fixtures/released/init: a Mask2Former
// pickle, a torch.save mm_projector.bin, a transformers PhiForCausalLM folder in the split q/k/v
// layout with 8 more vocabulary rows and an lm_head bias), all cut from the tiny released model of
// tests/fixtures/released/model: every tensor the inits provide equals the released one exactly
// (Swin, pixel decoder with its zero new biases, decoder, projector, Phi's layers, the embedding
// and lm_head rows below [PAD]); [PAD]'s row is the mean of those rows; the rest is fresh; the
// folder loads in psalm segment and starts psalm train; bad input exits with 2 and writes nothing.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "psalm/io/safetensors.hpp"
#include "psalm/models/phi/weights.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "support/cli_program.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;
using testing::ProgramRun;
using testing::psalm_program;
namespace fs = std::filesystem;

namespace {

const fs::path kRoot = fs::path(PSALM_TEST_FIXTURES_DIR) / "released";
const fs::path kInit = kRoot / "init";

std::vector<std::string> init_args(const fs::path& out) {
  return {"init",
          "--from-m2f",
          (kInit / "m2f.pkl").string(),
          "--from-phi",
          (kInit / "phi").string(),
          "--projector",
          (kInit / "mm_projector.bin").string(),
          "--config",
          (kInit / "init_config.json").string(),
          "--out",
          out.string()};
}

}  // namespace

TEST_CASE("psalm init: the stage-2 folder holds the inits' tensors exactly", "[cli][init]") {
  testing::TempDir dir("init_cli");
  const fs::path out = dir.path / "stage2";
  const ProgramRun r = psalm_program(init_args(out));
  INFO(r.all());
  REQUIRE(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("init: wrote " + out.string()));
  CHECK_THAT(r.out, Catch::Contains("fresh: seg_query"));
  int entries = 0;  // no temporary folder left beside it
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++entries;
  CHECK(entries == 1);

  const auto got = io::SafetensorsCheckpoint::open(out / "model.safetensors");
  const auto config = PsalmConfig::from_json(io::ConfigReader::from_file(out / "config.json"));
  const auto fused = io::SafetensorsCheckpoint::open(kRoot / "model");
  // the released names with Phi's fused q/k/v shown split, as the model names them
  const models::phi::FusedQkvAsSplit released(fused, config.phi.num_attention_heads);
  const std::int64_t pad = config.pad_token_id, d = config.phi.hidden_size;
  auto fresh = [](const std::string& n) {
    return n == "seg_query" || n.starts_with("seg_query_projector.") ||
           n.starts_with("SEG_token_projector.") || n.starts_with("class_name_projector.") ||
           n.starts_with("region_projector.") || n.starts_with("predictor.SEG_proj.") ||
           n.starts_with("predictor.CLASS_proj.") || n.starts_with("predictor.REGION_proj.") ||
           n.starts_with("predictor.SEG_query_embed.");
  };
  int same = 0;
  for (const std::string& n : got.names()) {
    INFO(n);
    const std::vector<float> g = got.load<float>(n).contiguous().to_vector();
    if (n == "model.embed_tokens.weight" || n == "lm_head.weight") {
      const std::vector<float> w = released.load<float>(n).contiguous().to_vector();
      REQUIRE(g.size() == w.size());
      // rows below [PAD] are Phi's (= the released model's); [PAD] is their mean
      CHECK(std::vector<float>(g.begin(), g.begin() + pad * d) ==
            std::vector<float>(w.begin(), w.begin() + pad * d));
      double worst = 0;
      for (std::int64_t j = 0; j < d; ++j) {
        double mean = 0;
        for (std::int64_t i = 0; i < pad; ++i) mean += w[static_cast<std::size_t>(i * d + j)];
        mean /= static_cast<double>(pad);
        worst = std::max(worst, std::abs(g[static_cast<std::size_t>(pad * d + j)] - mean));
      }
      CHECK(worst < 1e-6);
      continue;
    }
    if (fresh(n)) continue;
    REQUIRE(released.contains(n));
    CHECK(g == released.load<float>(n).contiguous().to_vector());
    ++same;
  }
  CHECK(same > 100);
  // seg_query starts at zero; Phi's lm_head bias is dropped
  for (float v : got.load<float>("seg_query").contiguous().to_vector()) CHECK(v == 0.0f);
  CHECK_FALSE(got.contains("lm_head.bias"));

  // psalm segment loads the folder (its tokenizer included)
  const fs::path image = fs::path(PSALM_TEST_FIXTURES_DIR) / "image" / "davis_40x30.png";
  const ProgramRun s = psalm_program({"segment", image.string(), "--model", out.string(), "--out",
                                      (dir.path / "seg").string(), "--text", "the cat"});
  INFO(s.all());
  CHECK(s.rc == 0);
  // and psalm train starts from it (with the folder's own tokenizer)
  const ProgramRun t =
      psalm_program({"train", "--init", out.string(), "--out", (dir.path / "run").string(),
                     "--steps", "1", "--batch-size", "1", "--eval-examples", "1"});
  INFO(t.all());
  CHECK(t.rc == 0);
}

TEST_CASE("psalm init: bad input exits with 2 and writes nothing", "[cli][init]") {
  testing::TempDir dir("init_cli_bad");
  const fs::path out = dir.path / "stage2";
  auto run_with = [&](std::size_t at, const std::string& value) {
    std::vector<std::string> args = init_args(out);
    args[at] = value;
    return psalm_program(args);
  };
  ProgramRun r = run_with(2, "/nonexistent.pkl");
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("--from-m2f /nonexistent.pkl is not a file"));
  // the projector given as the Mask2Former checkpoint: the first missing Swin tensor is named
  r = run_with(2, (kInit / "mm_projector.bin").string());
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("mm_projector.bin") &&
                        Catch::Contains("backbone.patch_embed.proj.weight"));
  r = run_with(6, (kInit / "m2f.pkl").string());
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("no tensor name contains \"mm_projector.\""));
  // the released folder is no Phi folder: it holds the whole model and no lm_head.bias
  r = run_with(4, (kRoot / "model").string());
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("missing from the checkpoint: lm_head.bias"));
  CHECK_FALSE(fs::exists(out));
  fs::create_directories(out / "x");
  r = psalm_program(init_args(out));
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("exists and is not an empty folder"));
  r = psalm_program({"init", "--help"});
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("--from-m2f"));
}
