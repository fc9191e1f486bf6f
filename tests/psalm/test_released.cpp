// Tests of loading the released PSALM folder as published (docs/checkpoints.md): the tiny folder
// of tools/reference/released_fixtures.py (tests/fixtures/released/model: config.json with
// model_type llava_phi, two float32 shards + index, Phi's fused query_key_value, tokenizer files
// with added tokens). PsalmConfig::from_json's llava_phi rule, the strict load (a missing, extra
// or mis-shaped key named in the error; the documented quirks accepted), both Phi layouts, the
// whole model against the PyTorch composition's outputs on the folder's weights, the folder's
// own tokenizer against transformers', and a Segmenter answer on the loaded folder.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "psalm/io/image.hpp"
#include "psalm/io/read_file.hpp"
#include "psalm/psalm/component.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "support/component_harness.hpp"
#include "support/error_of.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
namespace fs = std::filesystem;

namespace {

const fs::path kRoot = fs::path(PSALM_TEST_FIXTURES_DIR) / "released";
const fs::path kModel = kRoot / "model";

PsalmConfig released_config() {
  return PsalmConfig::from_json(io::ConfigReader::from_file(kModel / "config.json"));
}

/// The folder's checkpoint with one name hidden, one extra tensor added, or one tensor's first
/// dimension grown by one (a WeightSource, for the strictness checks).
struct EditedSource {
  const io::SafetensorsCheckpoint* base;
  std::string hide, extra, grow;

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const std::string& n : base->names())
      if (n != hide) out.push_back(n);
    if (!extra.empty()) out.push_back(extra);
    return out;
  }
  bool contains(std::string_view n) const {
    if (n == hide) return false;
    return n == extra || base->contains(n);
  }
  std::vector<std::int64_t> shape(std::string_view n) const {
    if (n == extra) return {1};
    const auto& s = base->shape(n);
    std::vector<std::int64_t> out(s.begin(), s.end());
    if (n == grow) ++out[0];
    return out;
  }
  template <Scalar U>
  Tensor<U> load(std::string_view n) const {
    if (n == extra) return Tensor<U>::zeros({1});  // (1)
    return base->load<U>(n);
  }
};

std::string load_error(const EditedSource& source) {
  nn::InitRng rng = nn::InitRng::for_loading();
  PsalmModel<float> model(released_config(), rng);
  return testing::error_of([&] { load_psalm_weights(model, source); });
}

}  // namespace

TEST_CASE("released: the llava_phi config.json maps to PsalmConfig", "[released][config]") {
  const PsalmConfig c = released_config();
  // Phi and the projector from the Hugging Face / LLaVA top level
  CHECK(c.phi.vocab_size == 271);
  CHECK(c.phi.hidden_size == 32);
  CHECK(c.phi.num_hidden_layers == 2);
  CHECK(c.phi.num_attention_heads == 4);
  CHECK_FALSE(c.phi.lm_head_bias);
  CHECK(c.projector.mm_projector_type == "swin_conv");
  CHECK(c.projector.mm_input_embeds == 32);
  CHECK(c.projector.projector_outdim == 32);
  CHECK(c.projector.swin_conv_planes == 8);
  // the rest from the "psalm" object
  CHECK(c.image_size == 64);
  CHECK(c.num_mask_tokens == 4);
  CHECK(c.seg_token_id == 270);
  CHECK(c.pad_token_id == 269);
  CHECK(c.swin.embed_dim == 4);
  CHECK(c.mask_decoder.dec_layers == 2);
}

TEST_CASE("released: a llava_phi config without a psalm object has the released shapes",
          "[released][config]") {
  nlohmann::json j = {{"model_type", "llava_phi"},
                      {"vocab_size", 50297},
                      {"hidden_size", 2048},
                      {"intermediate_size", 8192},
                      {"num_hidden_layers", 24},
                      {"num_attention_heads", 32},
                      {"partial_rotary_factor", 0.5},
                      {"hidden_act", "gelu_new"},
                      {"mm_projector_type", "swin_conv"},
                      {"mm_input_embeds", 1024},
                      {"projector_outdim", 2048},
                      {"swin_type", "base"},
                      {"mask_decode_train", true},
                      {"mm_vision_tower", "model_final_54b88a.pkl"}};
  const PsalmConfig c = PsalmConfig::from_json(io::ConfigReader(j, "config.json"));
  CHECK(c.to_json() == PsalmConfig::psalm_swin_b_phi_1_5().to_json());

  auto error = [&](const nlohmann::json& changed) {
    return testing::error_of(
        [&] { PsalmConfig::from_json(io::ConfigReader(changed, "config.json")); });
  };
  nlohmann::json bad = j;
  bad["mask_decode_train"] = false;
  CHECK_THAT(error(bad), Catch::Contains("mask_decode_train is false"));
  bad = j;
  bad["swin_type"] = "large";
  CHECK_THAT(error(bad), Catch::Contains("swin_type \"large\" is not known"));
  bad = j;
  bad["psalm"] = {{"phi", {{"vocab_size", 10}}}};
  CHECK_THAT(error(bad), Catch::Contains("psalm.phi is not read"));
  bad = j;
  bad["projector_outdim"] = 1024;
  CHECK_THAT(error(bad), Catch::Contains("config.json: PsalmConfig: projector_outdim 1024"));
  bad = j;
  bad["model_type"] = "llava";
  CHECK_THAT(error(bad), Catch::Contains("model_type \"llava\" is not a PSALM config"));
}

TEST_CASE("released: the sharded folder loads strictly", "[released][weights]") {
  const auto weights = io::SafetensorsCheckpoint::open(kModel);
  nn::InitRng rng = nn::InitRng::for_loading();
  PsalmModel<float> model(released_config(), rng);
  const nn::LoadReport report = load_psalm_weights(model, weights);
  CHECK(report.missing.empty());
  CHECK(report.unexpected.empty());
  CHECK(report.ignored.empty());
  // every name of the index is read (the fused q/k/v once per part)
  CHECK(report.loaded.size() == weights.names().size() + 2 * 2 * 2);  // 2 layers x w/b x 2 more
  CHECK(weights.contains("model.layers.0.self_attn.query_key_value.weight"));
  CHECK_FALSE(weights.contains("lm_head.bias"));
}

TEST_CASE("released: a missing, extra or mis-shaped key is an error naming it",
          "[released][weights]") {
  const auto weights = io::SafetensorsCheckpoint::open(kModel);
  const std::string qkv = "model.layers.1.self_attn.query_key_value.weight";
  CHECK_THAT(load_error({&weights, "pixel_decoder.mask_features.weight", "", ""}),
             Catch::Contains("missing") && Catch::Contains("pixel_decoder.mask_features.weight"));
  CHECK_THAT(load_error({&weights, "", "predictor.class_embed.weight", ""}),
             Catch::Contains("unexpected") && Catch::Contains("predictor.class_embed.weight"));
  CHECK_THAT(load_error({&weights, "", "", "model.vision_tower.norm3.weight"}),
             Catch::Contains("\"model.vision_tower.norm3.weight\" has shape"));
  CHECK_THAT(load_error({&weights, "", "", "seg_query"}), Catch::Contains("\"seg_query\""));
  CHECK_THAT(load_error({&weights, qkv, "", ""}), Catch::Contains("model.layers.1.self_attn"));
  // the documented quirks: recomputable buffers and never-read parameters may be absent,
  // Phi's lm_head.bias may be present (and is not read)
  for (const std::string& allowed :
       {std::string("model.vision_tower.layers.2.blocks.1.attn.relative_position_index"),
        std::string("model.mm_projector.layer1.0.bn1.num_batches_tracked"),
        std::string("predictor.query_feat.weight"),
        std::string("predictor.SEG_query_embed.weight")}) {
    INFO(allowed);
    CHECK(load_error({&weights, allowed, "", ""}).empty());
  }
  CHECK(load_error({&weights, "", "lm_head.bias", ""}).empty());
}

TEST_CASE("released: the split q/k/v layout loads to the same model", "[released][weights]") {
  const auto weights = io::SafetensorsCheckpoint::open(kModel);
  const PsalmConfig config = released_config();
  nn::StateDict<float> fused;
  for (const std::string& n : weights.names()) fused.insert(n, weights.load<float>(n));
  const nn::StateDict<float> split =
      models::phi::to_split_layout(fused, config.phi.num_attention_heads);
  CHECK(split.contains("model.layers.0.self_attn.q_proj.weight"));
  CHECK_FALSE(split.contains("model.layers.0.self_attn.query_key_value.weight"));
  nn::InitRng rng = nn::InitRng::for_loading();
  PsalmModel<float> a(config, rng), b(config, rng);
  load_psalm_weights(a, weights);
  load_psalm_weights(b, split);
  const nn::StateDict<float> sa = nn::state_dict(a), sb = nn::state_dict(b);
  REQUIRE(sa.size() == sb.size());
  for (const auto& [name, t] : sa) {
    INFO(name);
    CHECK(t.to_vector() == sb.at(name).to_vector());
  }
}

TEST_CASE("released: the loaded folder matches the PyTorch composition", "[released][forward]") {
  testing::ComponentHarness h(psalm_component());
  h.inputs((kRoot / "referring.inputs.safetensors").string())
      .weights(kModel.string())
      .config((kModel / "config.json").string());
  const nn::ComponentOutputs out = h.run();
  const auto want = io::SafetensorsCheckpoint::open(kRoot / "referring.expected.safetensors");
  CHECK(out.size() == want.names().size());
  for (const std::string& name : want.names()) {
    REQUIRE(out.contains(name));
    testing::require_close_to_max(out.at(name), want.load<float>(name), name,
                                  testing::tol::psalm_forward_rtol,
                                  testing::tol::psalm_forward_atol);
  }
}

TEST_CASE("released: the folder's tokenizer is transformers'", "[released][tokenizer]") {
  const nlohmann::json j =
      nlohmann::json::parse(io::read_file(kRoot / "tokenizer.json", 1 << 16, "fixture"));
  const io::Tokenizer tok = detail::folder_tokenizer(kModel, released_config());
  const std::vector<std::int32_t> ids = tok.encode(j.at("text").get<std::string>());
  CHECK(std::vector<std::int64_t>(ids.begin(), ids.end()) ==
        j.at("ids").get<std::vector<std::int64_t>>());
  CHECK(tok.find_id("[SEG]") == 270);
  CHECK(tok.find_id("[PAD]") == 269);
  CHECK(tok.is_special(269));
}

TEST_CASE("released: psalm::Segmenter answers on the loaded folder", "[released][segmenter]") {
  Segmenter seg = Segmenter::load(kModel);
  CHECK(seg.config().phi.vocab_size == 271);
  const Tensor<std::uint8_t> image =
      io::load_image(fs::path(PSALM_TEST_FIXTURES_DIR) / "image" / "davis_40x30.png");
  EncodedImage encoded = seg.encode(image);
  const Segmentation a = seg.segment(encoded, SegmentPrompt::referring("the cat on the mat"));
  REQUIRE(a.masks.size() == 1);
  CHECK(a.masks[0].mask.size(0) == image.size(0));
  CHECK(a.masks[0].mask.size(1) == image.size(1));
  const Segmentation p =
      seg.segment(encoded, SegmentPrompt::class_list({"cat", "mat", "sky"}, Task::panoptic));
  CHECK(p.height == image.size(0));
}
