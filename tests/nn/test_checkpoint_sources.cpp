// Tests that the restricted checkpoint readers (psalm/io/pickle_checkpoint.hpp,
// torch_checkpoint.hpp, checkpoint.hpp) are weight sources of nn::load_state_dict: psalm's Swin
// loads strictly from the Mask2Former Swin-B .pkl layout (tests/fixtures/checkpoints/, written by
// pickle + numpy), and the swin_conv projector from the stage-1 mm_projector.bin layout (written
// by torch.save) — float32 weights give the PyTorch forward of
// tests/fixtures/projector/swin_conv_eval.safetensors, bf16 weights load exactly.
#include <catch2/catch.hpp>

#include <string>

#include "psalm/io/checkpoint.hpp"
#include "psalm/models/projector/swin_conv.hpp"
#include "psalm/models/swin/backbone.hpp"
#include "psalm/nn/state_dict.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
using models::projector::ProjectorConfig;
using models::projector::SwinConvProjector;
using nn::Var;

static_assert(nn::WeightSource<io::PickleCheckpoint>);
static_assert(nn::WeightSource<io::TorchCheckpoint>);
static_assert(nn::WeightSource<io::RecordCheckpoint>);

namespace {

const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/checkpoints/";

}  // namespace

TEST_CASE("checkpoint sources: psalm's Swin loads strictly from the Mask2Former .pkl layout") {
  models::swin::SwinConfig config;
  config.embed_dim = 2;
  config.depths = {2, 2, 18, 2};  // Swin-B's
  config.num_heads = {1, 1, 2, 2};
  config.window_size = 2;
  nn::InitRng rng{3};
  models::swin::SwinBackbone<float> swin(config, rng);
  const io::PickleCheckpoint m2f = io::PickleCheckpoint::open(kDir + "m2f_swin_b_tiny.pkl");
  const nn::LoadReport report = nn::load_state_dict(swin, m2f, {.prefix = "backbone."});
  CHECK(report.loaded.size() == 357);  // every backbone.* tensor, relative_position_index too
  CHECK(report.missing.empty());
  swin.for_each_parameter([&](const std::string& name, Var<float>& p) {
    INFO(name);
    CHECK(p.value().to_vector() == m2f.load<float>("backbone." + name).to_vector());
  });
  // The file's relative_position_index (int64) is the one psalm computes.
  nn::InitRng rng2{4};
  models::swin::SwinBackbone<float> fresh(config, rng2);
  fresh.for_each_buffer([&](const std::string& name, Tensor<float>& b, nn::BufferKind) {
    INFO(name);
    CHECK(b.to_vector() == m2f.load<float>("backbone." + name).to_vector());
  });
  // Without the prefix nothing matches: strict loading names what is missing (all but the
  // 24 recomputable relative_position_index buffers).
  CHECK_THROWS_WITH(
      nn::load_state_dict(swin, m2f),
      Catch::Contains("333 tensor(s) missing from the checkpoint: patch_embed.proj.weight"));
}

TEST_CASE("checkpoint sources: the projector from a torch.save mm_projector.bin matches PyTorch") {
  const io::SafetensorsFile ref = io::SafetensorsFile::open(
      std::string(PSALM_TEST_FIXTURES_DIR) + "/projector/swin_conv_eval.safetensors");
  nn::InitRng rng{1};
  SwinConvProjector<float> projector(ProjectorConfig::tiny(), rng);
  const io::TorchCheckpoint f32 = io::TorchCheckpoint::open(kDir + "mm_projector_f32.bin");
  const nn::LoadReport report =
      nn::load_state_dict(projector, f32, {.prefix = "model.mm_projector."});
  CHECK(report.loaded.size() == 20);
  projector.train(false);
  const Var<float> res5(ref.load<float>("res5"));  // (B, C, H, W)
  const Var<float> tokens = projector(res5);       // (B, L, D)
  testing::require_close(tokens.value(), ref.load<double>("tokens"), testing::tol::f32_sum_rtol,
                         testing::tol::f32_sum_atol);

  // The bf16 file (as LLaVA's stage 1 saves it) loads exactly: every value is the bf16 one.
  SwinConvProjector<float> from_bf16(ProjectorConfig::tiny(), rng);
  const io::RecordCheckpoint half = io::open_checkpoint(kDir + "mm_projector.bin");
  nn::load_state_dict(from_bf16, half, {.prefix = "model.mm_projector."});
  from_bf16.for_each_parameter(
      [&](const std::string& name, Var<float>& p) {
        INFO(name);
        const std::vector<bf16> want = half.load<bf16>(name).to_vector();
        const std::vector<float> got = p.value().to_vector();
        REQUIRE(got.size() == want.size());
        for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == bf16::to_float(want[i].bits));
      },
      "model.mm_projector.");
}
