// Tests of models/mask2former/: the whole decoder against a PyTorch composition of the official
// module structure (tests/fixtures/mask2former/decoder_tiny.safetensors, written by
// tools/reference/mask_decoder_fixtures.py): strict loading of PSALM's predictor.* names, every
// prediction set, the attention masks each layer used, and the gradients of every parameter and
// input; finite differences in double of the whole decoder; the attention-mask rule; the
// prediction head with absent or empty conditions; the PSALM-size parameter names and shapes.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/models/mask2former.hpp"
#include "psalm/nn/state_dict.hpp"
#include "support/fixtures.hpp"
#include "support/module_gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::models::mask2former;
using nn::Var;

namespace {

const std::string kFixture =
    std::string(PSALM_TEST_FIXTURES_DIR) + "/mask2former/decoder_tiny.safetensors";
// float32 against float64 PyTorch rounded to float32, through 4 layers.
constexpr double kRtol = 1e-5, kAtol = 1e-5, kGradRtol = 1e-4, kGradAtol = 1e-6;

/// loss = sum over prediction sets and outputs of mean(output^2), as the reference script.
template <class T>
Var<T> squared_loss(const DecoderOutput<T>& out) {
  Var<T> loss;
  auto add = [&](const Var<T>& o) {
    const Var<T> term = autograd::mean(o * o);
    loss = loss.defined() ? loss + term : term;
  };
  for (const Prediction<T>& p : out.predictions) {
    add(p.masks);
    if (p.class_logits.defined()) add(p.class_logits);
    if (p.seg_logits.defined()) add(p.seg_logits);
    for (const Var<T>& r : p.region_logits) add(r);
  }
  return loss;
}

/// The fixture's inputs as leaves that collect gradients.
struct FixtureInputs {
  std::map<std::string, Var<float>> leaves;
  std::vector<std::int64_t> counts;

  explicit FixtureInputs(const io::SafetensorsFile& f) {
    for (const char* name :
         {"queries", "mask_features", "multi_scale_0", "multi_scale_1", "multi_scale_2",
          "class_conditions", "referring_conditions", "region_conditions"})
      leaves[name] = Var<float>::parameter(f.load<float>(name));
    for (float c : f.load<float>("region_counts").to_vector())
      counts.push_back(static_cast<std::int64_t>(c));
  }
  DecoderOutput<float> run(const MaskedAttentionDecoder<float>& decoder) {
    Conditions<float> cond{leaves["class_conditions"], leaves["referring_conditions"], {}};
    std::int64_t start = 0;
    for (std::int64_t k : counts) {
      cond.region_conditions.push_back(
          autograd::slice(leaves["region_conditions"], 0, start, start + k));  // (K_b, D)
      start += k;
    }
    const nn::FeatureMaps<float> multi_scale{
        {5, leaves["multi_scale_0"]}, {4, leaves["multi_scale_1"]}, {3, leaves["multi_scale_2"]}};
    return decoder(leaves["queries"], multi_scale, leaves["mask_features"], cond);
  }
};

}  // namespace

TEST_CASE(
    "mask decoder: predictor.* loads strictly; every prediction set and attention mask "
    "matches PyTorch",
    "[mask2former]") {
  const io::SafetensorsFile f = io::SafetensorsFile::open(kFixture);
  nn::InitRng rng{7};
  MaskedAttentionDecoder<float> decoder(MaskDecoderConfig::tiny(), rng);
  const nn::LoadReport report = nn::load_state_dict(decoder, f, {.prefix = "predictor."});
  CHECK(report.loaded.size() == decoder.named_parameters().size());
  FixtureInputs in(f);
  const DecoderOutput<float> out = in.run(decoder);
  REQUIRE(out.predictions.size() == 5);
  for (std::size_t s = 0; s < out.predictions.size(); ++s) {
    INFO("prediction set " << s);
    const Prediction<float>& p = out.predictions[s];
    const std::string key = "out." + std::to_string(s) + ".";
    testing::require_close(p.masks.value(), f.load<float>(key + "pred_masks"), kRtol, kAtol);
    testing::require_close(p.class_logits.value(), f.load<float>(key + "pred_class_logits"), kRtol,
                           kAtol);
    testing::require_close(p.seg_logits.value(), f.load<float>(key + "pred_seg_logits"), kRtol,
                           kAtol);
    REQUIRE(p.region_logits.size() == 2);
    for (std::size_t b = 0; b < 2; ++b)
      testing::require_close(p.region_logits[b].value(),
                             f.load<float>(key + "pred_region_logits." + std::to_string(b)), kRtol,
                             kAtol);
  }
  REQUIRE(out.attention_masks.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("attention mask of layer " << i);
    const Tensor<float> want = f.load<float>("attn_mask." + std::to_string(i));  // (B*H, Q, S)
    const Tensor<std::uint8_t>& got = out.attention_masks[i];                    // (B, 1, Q, S)
    const Tensor<float> got_per_head(
        cast<float>(Tensor<std::uint8_t>(got.expand({2, 4, got.size(2), got.size(3)}))));
    testing::require_close(got_per_head.reshape({8, got.size(2), got.size(3)}), want, 0.0, 0.0);
  }
}

TEST_CASE("mask decoder: gradients of every parameter and input match PyTorch", "[mask2former]") {
  const io::SafetensorsFile f = io::SafetensorsFile::open(kFixture);
  nn::InitRng rng{7};
  MaskedAttentionDecoder<float> decoder(MaskDecoderConfig::tiny(), rng);
  nn::load_state_dict(decoder, f, {.prefix = "predictor."});
  FixtureInputs in(f);
  const Var<float> loss = squared_loss(in.run(decoder));
  CHECK(loss.value().item() == Approx(f.load<float>("loss").item({0})).epsilon(tol::f32_sum_rtol));
  autograd::backward(loss);
  for (const auto& [name, p] : decoder.named_parameters()) {
    INFO("gradient of predictor." << name);
    const Tensor<float> want = f.load<float>("grad.predictor." + name);
    if (!p.grad().defined()) {  // query_feat, SEG_query_embed: unused on this path
      for (float g : want.to_vector()) REQUIRE(g == 0.0f);
      continue;
    }
    testing::require_close(p.grad(), want, kGradRtol, kGradAtol);
  }
  for (const auto& [name, v] : in.leaves) {
    INFO("gradient of input " << name);
    testing::require_close(v.grad(), f.load<float>("grad." + name), kGradRtol, kGradAtol);
  }
}

TEST_CASE("mask decoder: the whole decoder's gradients match finite differences in double",
          "[mask2former]") {
  MaskDecoderConfig c = MaskDecoderConfig::tiny();
  c.in_channels = c.hidden_dim = c.mask_dim = 8;
  c.nheads = 2;
  c.dim_feedforward = 12;
  c.dec_layers = 3;
  c.num_queries = 3;
  nn::InitRng rng{11};
  MaskedAttentionDecoder<double> decoder(c, rng);
  for (auto& [name, p] : decoder.named_parameters())  // non-trivial norms and biases
    if (p.rank() == 1) p.value().assign(p.value() + Tensor<double>::randn(p.shape(), 3, 0.0, 0.2));
  std::vector<Var<double>> leaves{
      Var<double>::parameter(Tensor<double>::randn({2, 3, 8}, 21)),     // queries
      Var<double>::parameter(Tensor<double>::randn({2, 8, 1, 1}, 22)),  // 1/32
      Var<double>::parameter(Tensor<double>::randn({2, 8, 2, 2}, 23)),  // 1/16
      Var<double>::parameter(Tensor<double>::randn({2, 8, 2, 3}, 24)),  // 1/8
      Var<double>::parameter(Tensor<double>::randn({2, 8, 4, 5}, 25)),  // mask_features
      Var<double>::parameter(Tensor<double>::randn({2, 3, 8}, 26)),     // class
      Var<double>::parameter(Tensor<double>::randn({2, 1, 8}, 27)),     // referring
      Var<double>::parameter(Tensor<double>::randn({2, 8}, 28)),        // regions of sample 0
      Var<double>::parameter(Tensor<double>::randn({1, 8}, 29))};       // regions of sample 1
  const char* const names[] = {"queries", "1/32",      "1/16",      "1/8",      "mask_features",
                               "class",   "referring", "regions 0", "regions 1"};
  std::vector<std::pair<std::string, Var<double>>> inputs;
  for (std::size_t i = 0; i < leaves.size(); ++i) inputs.emplace_back(names[i], leaves[i]);
  const nn::FeatureMaps<double> multi_scale{{5, leaves[1]}, {4, leaves[2]}, {3, leaves[3]}};
  // The attention masks are a step function of the inputs: compare only where the
  // perturbation leaves every mask unchanged (it should, nearly everywhere).
  std::optional<DecoderOutput<double>> base;
  DecoderOutput<double> last;
  auto masks_equal = [&] {
    for (std::size_t i = 0; i < last.attention_masks.size(); ++i)
      if (last.attention_masks[i].to_vector() != base->attention_masks[i].to_vector()) return false;
    return true;
  };
  // every element of the inputs, every 3rd of each parameter (time on a loaded machine)
  const testing::ModuleGradReport report = testing::check_module_gradients(
      decoder, inputs,
      [&] {
        last = decoder(leaves[0], multi_scale, leaves[4],
                       {leaves[5], leaves[6], {leaves[7], leaves[8]}});
        if (!base) base = last;
        return squared_loss(last);
      },
      {.rtol = tol::fd_module_rtol,
       .atol = tol::fd_atol,
       .parameter_step = 3,
       .skip = {"query_feat.weight", "SEG_query_embed.weight"},  // unused on this path
       .smooth = masks_equal});
  INFO("checked " << report.checked << " elements, skipped " << report.skipped
                  << " (a mask changed)");
  CHECK(report.checked > 1000);
  CHECK(report.skipped * 20 < report.checked);
}

TEST_CASE("attention mask: bilinear resize, sigmoid < 0.5 blocks, fully blocked rows open",
          "[mask2former]") {
  // (B 1, Q 3, 2, 2): q0 mixed, q1 all negative (blocked everywhere -> opened), q2 all positive.
  const auto logits = Tensor<float>::from_data(
      {1.f, -2.f, -0.5f, 3.f, -1.f, -2.f, -3.f, -0.1f, 0.5f, 1.f, 2.f, 0.1f}, {1, 3, 2, 2});
  const Tensor<std::uint8_t> same = attention_mask_from(logits, 2, 2);  // (1, 1, 3, 4)
  CHECK(same.shape() == Shape{1, 1, 3, 4});
  CHECK(same.to_vector() == std::vector<std::uint8_t>{0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  // Down to 1x1 (align_corners false: the mean of the 4 taps): q0 0.375 -> open, q2 open.
  const Tensor<std::uint8_t> one = attention_mask_from(logits, 1, 1);
  CHECK(one.to_vector() == std::vector<std::uint8_t>{0, 0, 0});
  // Up to 4x4: q0's corner logits keep their signs at the corners.
  const Tensor<std::uint8_t> up = attention_mask_from(logits, 4, 4);  // (1, 1, 3, 16)
  CHECK(up.item({0, 0, 0, 0}) == 0);
  CHECK(up.item({0, 0, 0, 3}) == 1);
  CHECK(up.item({0, 0, 0, 12}) == 1);
  CHECK(up.item({0, 0, 0, 15}) == 0);
}

TEST_CASE("prediction head: absent conditions give no logits; an empty region set gives (0, Q)",
          "[mask2former]") {
  nn::InitRng rng{5};
  MaskDecoderConfig c = MaskDecoderConfig::tiny();
  MaskedAttentionDecoder<float> decoder(c, rng);
  const Var<float> queries(Tensor<float>::randn({2, 6, 32}, 1));
  const nn::FeatureMaps<float> ms{{5, Var<float>(Tensor<float>::randn({2, 32, 2, 2}, 2))},
                                  {4, Var<float>(Tensor<float>::randn({2, 32, 3, 3}, 3))},
                                  {3, Var<float>(Tensor<float>::randn({2, 32, 5, 4}, 4))}};
  const Var<float> features(Tensor<float>::randn({2, 32, 8, 7}, 5));
  const DecoderOutput<float> plain = decoder(queries, ms, features);
  REQUIRE(plain.predictions.size() == 5);
  CHECK(plain.last().masks.shape() == Shape{2, 6, 8, 7});
  CHECK_FALSE(plain.last().class_logits.defined());
  CHECK_FALSE(plain.last().seg_logits.defined());
  CHECK(plain.last().region_logits.empty());
  CHECK(plain.attention_masks[1].shape() == Shape{2, 1, 6, 9});
  CHECK(plain.attention_masks[2].shape() == Shape{2, 1, 6, 20});
  Conditions<float> regions_only;
  regions_only.region_conditions = {Var<float>(Tensor<float>::zeros({0, 32})),
                                    Var<float>(Tensor<float>::randn({4, 32}, 6))};
  const DecoderOutput<float> r = decoder(queries, ms, features, regions_only);
  CHECK(r.last().region_logits[0].shape() == Shape{0, 6});
  CHECK(r.last().region_logits[1].shape() == Shape{4, 6});
  // Masks do not depend on the conditions.
  testing::require_close(r.last().masks.value(), plain.last().masks.value(), 0.0, 0.0);
}

TEST_CASE("mask decoder: bad input shapes are errors that name the expected shape",
          "[mask2former]") {
  nn::InitRng rng{6};
  MaskedAttentionDecoder<float> decoder(MaskDecoderConfig::tiny(), rng);
  const Var<float> map(Tensor<float>::zeros({1, 32, 2, 2}));
  const nn::FeatureMaps<float> ms{{5, map}, {4, map}, {3, map}};
  const Var<float> features(Tensor<float>::zeros({1, 32, 4, 4}));
  CHECK_THROWS_WITH(decoder(Var<float>(Tensor<float>::zeros({1, 5, 32})), ms, features),
                    Catch::Contains("queries must be (B, 6, 32)"));
  const Var<float> q(Tensor<float>::zeros({1, 6, 32}));
  CHECK_THROWS_WITH(decoder(q, nn::FeatureMaps<float>{{5, map}, {4, map}}, features),
                    Catch::Contains("3 multi-scale maps"));
  CHECK_THROWS_WITH(decoder(q, ms, Var<float>(Tensor<float>::zeros({1, 16, 4, 4}))),
                    Catch::Contains("mask_features must be (1, 32, H, W)"));
  Conditions<float> bad;
  bad.region_conditions = {Var<float>(Tensor<float>::zeros({2, 32})),
                           Var<float>(Tensor<float>::zeros({2, 32}))};
  CHECK_THROWS_WITH(decoder(q, ms, features, bad), Catch::Contains("one (K_b, 32) matrix per"));
  MaskDecoderConfig odd = MaskDecoderConfig::tiny();
  odd.pre_norm = true;
  CHECK_THROWS_WITH(odd.validate(), Catch::Contains("pre_norm"));
  odd = MaskDecoderConfig::tiny();
  odd.in_channels = 64;
  CHECK_THROWS_WITH(odd.validate(), Catch::Contains("identity input projection"));
}

TEST_CASE("mask decoder: PSALM's configuration has the §7.1 predictor names and shapes",
          "[mask2former]") {
  nn::InitRng rng{1};
  MaskedAttentionDecoder<float> decoder(MaskDecoderConfig::psalm(), rng);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, p] : decoder.named_parameters()) shapes[name] = p.shape();
  // The upstream tree: per layer self_attn 4 + norm 2, multihead_attn 4 + norm 2, linear1 /
  // linear2 4 + norm 2 = 18; decoder_norm 2, mask_embed 6, SEG / CLASS / REGION_proj 4 each,
  // query_feat, query_embed, SEG_query_embed, level_embed 1 each.
  CHECK(shapes.size() == 9 * 18 + 2 + 6 + 12 + 4);
  CHECK(shapes.at("transformer_self_attention_layers.8.self_attn.in_proj_weight") ==
        Shape{768, 256});
  CHECK(shapes.at("transformer_cross_attention_layers.0.multihead_attn.out_proj.weight") ==
        Shape{256, 256});
  CHECK(shapes.at("transformer_cross_attention_layers.4.norm.bias") == Shape{256});
  CHECK(shapes.at("transformer_ffn_layers.3.linear1.weight") == Shape{2048, 256});
  CHECK(shapes.at("transformer_ffn_layers.3.linear2.weight") == Shape{256, 2048});
  CHECK(shapes.at("decoder_norm.weight") == Shape{256});
  CHECK(shapes.at("query_feat.weight") == Shape{100, 256});
  CHECK(shapes.at("query_embed.weight") == Shape{100, 256});
  CHECK(shapes.at("SEG_query_embed.weight") == Shape{101, 256});
  CHECK(shapes.at("level_embed.weight") == Shape{3, 256});
  CHECK(shapes.at("mask_embed.layers.2.weight") == Shape{256, 256});
  CHECK(shapes.at("SEG_proj.layers.1.bias") == Shape{256});
  CHECK(shapes.at("CLASS_proj.layers.0.weight") == Shape{256, 256});
  CHECK(shapes.at("REGION_proj.layers.1.weight") == Shape{256, 256});
  // Upstream initialisation of an attention layer: xavier_uniform matrices, zero MHA biases.
  const auto w = decoder.ffn_layers[0].linear1.weight.value().to_vector();
  const double bound = std::sqrt(6.0 / (256 + 2048));
  for (float x : w) REQUIRE(std::fabs(x) <= bound);
  for (float x : decoder.self_attention_layers[0].self_attn.in_proj_bias.value().to_vector())
    REQUIRE(x == 0.0f);
}
