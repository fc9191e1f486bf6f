// Tests of the pixel decoder (include/psalm/models/deformable/pixel_decoder.hpp, encoder.hpp,
// encoder_layer.hpp): outputs and the gradients of every parameter and input against a PyTorch
// composition of PSALM's module structure (tools/reference/pixel_decoder_fixtures.py, computed in
// float64), in float and in double; finite differences in double on a very small config;
// upstream state-dict names, initialisation, strict loading and Mask2Former's names.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/models/deformable/pixel_decoder.hpp"
#include "support/fixtures.hpp"
#include "support/module_gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::models::deformable;
using nn::Var;

namespace {

const std::string kPrefix = "pixel_decoder.";
const char* const kOutputs[4] = {"mask_features", "multi_scale_0", "multi_scale_1",
                                 "multi_scale_2"};

io::SafetensorsFile fixture() {
  return io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) +
                                   "/pixel_decoder/pixel_decoder.safetensors");
}

template <Real T>
std::vector<Var<T>> outputs_of(const PixelDecoderOutput<T>& out) {
  return {out.mask_features, out.multi_scale.res(5), out.multi_scale.res(4),
          out.multi_scale.res(3)};  // upstream's order: 1/32, 1/16, 1/8
}

/// The fixture's SMALL config (tools/reference/pixel_decoder_fixtures.py) with its weights.
template <Real T>
PixelDecoder<T> fixture_decoder(const io::SafetensorsFile& file) {
  nn::InitRng rng{1};
  PixelDecoder<T> decoder(PixelDecoderConfig::tiny(), rng);
  nn::load_state_dict(decoder, file, {.prefix = kPrefix});
  return decoder;
}

template <Real T>
nn::FeatureMaps<T> fixture_input(const io::SafetensorsFile& file, bool requires_grad) {
  nn::FeatureMaps<T> in;
  for (int k = 2; k <= 5; ++k)
    in.set(k, Var<T>(file.load<T>("res" + std::to_string(k)).clone(), requires_grad));
  return in;
}

/// Checks |got - want| <= atol + rtol * max|want| elementwise (a tolerance scaled to the tensor).
template <Real T>
void require_close_scaled(const Tensor<T>& got, const Tensor<double>& want, double rtol,
                          double atol, const std::string& what) {
  INFO(what << ": shapes " << got.shape() << " vs " << want.shape());
  REQUIRE(got.shape() == want.shape());
  const std::vector<T> g = got.to_vector();
  const std::vector<double> w = want.to_vector();
  double scale = 0;
  for (double v : w) scale = std::max(scale, std::fabs(v));
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double err = std::fabs(static_cast<double>(g[i]) - w[i]);
    if (err > worst) worst = err, at = i;
  }
  INFO(what << ": worst element " << at << " off by " << worst << " (max |want| " << scale << ")");
  CHECK(worst <= atol + rtol * scale);
}

/// Forward + backward of loss = sum_k <output_k, d_output_k> against the fixture.
template <Real T>
void check_against_reference(double fwd_rtol, double grad_rtol) {
  const auto file = fixture();
  PixelDecoder<T> decoder = fixture_decoder<T>(file);
  const nn::FeatureMaps<T> in = fixture_input<T>(file, true);
  const std::vector<Var<T>> outs = outputs_of(decoder(in));
  Var<T> loss;
  for (int k = 0; k < 4; ++k) {
    require_close_scaled(outs[k].value(), file.load<double>(std::string("out.") + kOutputs[k]),
                         fwd_rtol, 0.0, kOutputs[k]);
    const Var<T> d(file.load<T>(std::string("d_") + kOutputs[k]));
    const Var<T> term = autograd::sum(outs[k] * d);  // ()
    loss = k == 0 ? term : loss + term;
  }
  autograd::backward(loss);
  int checked = 0;
  for (auto& [name, p] : decoder.named_parameters()) {
    REQUIRE(p.grad().defined());
    require_close_scaled(p.grad(), file.load<double>("grad." + kPrefix + name), grad_rtol, 0.0,
                         name);
    ++checked;
  }
  CHECK(checked == 2 * 3 * 2 + 1 + 2 * 16 + 2 + 2 * 4);  // every parameter of the SMALL config
  for (int k = 2; k <= 5; ++k) {
    const std::string name = "res" + std::to_string(k);
    require_close_scaled(in.res(k).grad(), file.load<double>("grad." + name), grad_rtol, 0.0, name);
  }
}

}  // namespace

TEST_CASE("pixel_decoder: float outputs and every gradient match the PyTorch composition",
          "[pixel_decoder]") {
  check_against_reference<float>(tol::f32_sum_rtol, tol::f32_grad_atol);
}

TEST_CASE("pixel_decoder: double outputs and every gradient match the float64 reference",
          "[pixel_decoder]") {
  check_against_reference<double>(tol::f64_module, tol::f64_module);
}

TEST_CASE("pixel_decoder: parameter names and shapes are the upstream state_dict keys",
          "[pixel_decoder]") {
  const auto file = fixture();
  nn::InitRng rng{2};
  PixelDecoder<float> small(PixelDecoderConfig::tiny(), rng);
  std::set<std::string> ours, theirs;
  for (const auto& [name, t] : nn::state_dict(small, kPrefix)) {
    ours.insert(name);
    CHECK(file.shape(name) == std::vector<std::int64_t>(t.shape().dims().v.begin(),
                                                        t.shape().dims().v.begin() + t.rank()));
  }
  for (const std::string& name : file.names())
    if (name.starts_with(kPrefix)) theirs.insert(name);
  CHECK(ours == theirs);

  // PSALM's size (spec §7.1)
  PixelDecoder<float> full(PixelDecoderConfig::psalm_swin_b(), rng);
  std::map<std::string, Shape> shapes;
  for (auto& [name, p] : full.named_parameters()) shapes[name] = p.shape();
  CHECK(shapes.at("input_proj.0.0.weight") == Shape{256, 1024, 1, 1});
  CHECK(shapes.at("input_proj.2.0.weight") == Shape{256, 256, 1, 1});
  CHECK(shapes.at("input_proj.1.1.bias") == Shape{256});
  CHECK(shapes.at("transformer.level_embed") == Shape{3, 256});
  CHECK(shapes.at("transformer.encoder.layers.5.self_attn.sampling_offsets.weight") ==
        Shape{192, 256});
  CHECK(shapes.at("transformer.encoder.layers.5.self_attn.attention_weights.weight") ==
        Shape{96, 256});
  CHECK(shapes.at("transformer.encoder.layers.0.linear1.weight") == Shape{1024, 256});
  CHECK(shapes.at("transformer.encoder.layers.0.linear2.weight") == Shape{256, 1024});
  CHECK(shapes.at("transformer.encoder.layers.0.norm2.weight") == Shape{256});
  CHECK(shapes.at("adapter_1.0.weight") == Shape{256, 128, 1, 1});
  CHECK(shapes.at("adapter_1.0.bias") == Shape{256});
  CHECK(shapes.at("layer_1.0.weight") == Shape{256, 256, 3, 3});
  CHECK(shapes.at("layer_1.1.weight") == Shape{256});
  CHECK(shapes.at("mask_features.weight") == Shape{256, 256, 1, 1});
  CHECK(shapes.size() == 3 * 4 + 1 + 6 * 16 + 2 + 2 * 4);
}

TEST_CASE("pixel_decoder: PSALM's configuration maps a 1/4..1/32 pyramid to its outputs",
          "[pixel_decoder]") {
  nn::InitRng rng{3};
  PixelDecoder<float> decoder(PixelDecoderConfig::psalm_swin_b(), rng);
  autograd::NoGrad no_grad;
  const PixelDecoderOutput<float> out =
      decoder(nn::FeatureMaps<float>{{2, Var<float>(Tensor<float>::randn({1, 128, 16, 12}, 1))},
                                     {3, Var<float>(Tensor<float>::randn({1, 256, 8, 6}, 2))},
                                     {4, Var<float>(Tensor<float>::randn({1, 512, 4, 3}, 3))},
                                     {5, Var<float>(Tensor<float>::randn({1, 1024, 2, 2}, 4))}});
  CHECK(out.mask_features.shape() == Shape{1, 256, 16, 12});
  CHECK(out.multi_scale.res(5).shape() == Shape{1, 256, 2, 2});
  CHECK(out.multi_scale.res(4).shape() == Shape{1, 256, 4, 3});
  CHECK(out.multi_scale.res(3).shape() == Shape{1, 256, 8, 6});
  for (const auto& v : out.mask_features.value().to_vector()) REQUIRE(std::isfinite(v));
}

TEST_CASE("pixel_decoder: initialisation follows upstream", "[pixel_decoder]") {
  nn::InitRng rng{4};
  const PixelDecoderConfig config = PixelDecoderConfig::tiny();
  PixelDecoder<double> d(config, rng);
  auto max_abs = [](const Var<double>& v) {
    double m = 0;
    for (double x : v.value().to_vector()) m = std::max(m, std::fabs(x));
    return m;
  };
  // input_proj: xavier_uniform (fan_in Ci, fan_out C), zero bias; GroupNorm 1 / 0
  CHECK(max_abs(d.input_proj[0].conv.weight) <= std::sqrt(6.0 / (20 + 32)));
  CHECK(max_abs(d.input_proj[0].conv.weight) > 0.5 * std::sqrt(6.0 / (20 + 32)));
  CHECK(max_abs(d.input_proj[2].conv.bias) == 0.0);
  CHECK(max_abs(d.input_proj[1].norm.bias) == 0.0);
  // c2_xavier_fill: U(-sqrt(3 / fan_in), sqrt(3 / fan_in)), zero bias
  CHECK(max_abs(d.layer_1.conv.weight) <= std::sqrt(3.0 / (32 * 9)));
  CHECK(max_abs(d.layer_1.conv.weight) > 0.9 * std::sqrt(3.0 / (32 * 9)));
  CHECK(max_abs(d.adapter_1.conv.bias) == 0.0);
  CHECK(max_abs(d.mask_features.bias) == 0.0);
  // encoder FFN weights: xavier_uniform
  CHECK(max_abs(d.transformer.encoder.layers[1].linear1.weight) <= std::sqrt(6.0 / (32 + 64)));
  // level_embed ~ N(0, 1); the sampling offsets start on the head-direction grid
  CHECK(max_abs(d.transformer.level_embed) > 1.0);
  CHECK(max_abs(d.transformer.encoder.layers[0].self_attn.sampling_offsets.weight) == 0.0);
}

TEST_CASE("pixel_decoder: strict loading names the missing, unexpected or mis-shaped tensor",
          "[pixel_decoder]") {
  const auto file = fixture();
  nn::StateDict<float> weights;
  for (const std::string& name : file.names())
    if (name.starts_with(kPrefix)) weights.insert(name, file.load<float>(name));
  nn::InitRng rng{5};
  PixelDecoder<float> decoder(PixelDecoderConfig::tiny(), rng);

  nn::StateDict<float> missing;
  for (const auto& [name, t] : weights)
    if (name != kPrefix + "layer_1.0.bias") missing.insert(name, t);
  CHECK_THROWS_WITH(nn::load_state_dict(decoder, missing, {.prefix = kPrefix}),
                    Catch::Contains("pixel_decoder.layer_1.0.bias"));

  nn::StateDict<float> extra = missing;
  extra.insert(kPrefix + "layer_1.0.bias", weights.at(kPrefix + "layer_1.0.bias"));
  extra.insert(kPrefix + "transformer.encoder.layers.2.norm1.weight", Tensor<float>::ones({32}));
  CHECK_THROWS_WITH(nn::load_state_dict(decoder, extra, {.prefix = kPrefix}),
                    Catch::Contains("transformer.encoder.layers.2.norm1.weight"));

  nn::StateDict<float> misshaped = missing;
  misshaped.insert(kPrefix + "layer_1.0.bias", Tensor<float>::zeros({31}));
  CHECK_THROWS_WITH(nn::load_state_dict(decoder, misshaped, {.prefix = kPrefix}),
                    Catch::Contains("layer_1.0.bias"));

  const nn::LoadReport report = nn::load_state_dict(decoder, weights, {.prefix = kPrefix});
  CHECK(report.loaded.size() == weights.size());
}

TEST_CASE("pixel_decoder: Mask2Former's FPN names load through PSALM's renames, biases 0",
          "[pixel_decoder]") {
  const auto file = fixture();
  const std::string m2f = "sem_seg_head.pixel_decoder.";
  std::map<std::string, std::string> renames = {
      {"adapter_1.0.weight", "adapter_1.weight"},  {"adapter_1.1.weight", "adapter_1.norm.weight"},
      {"adapter_1.1.bias", "adapter_1.norm.bias"}, {"layer_1.0.weight", "layer_1.weight"},
      {"layer_1.1.weight", "layer_1.norm.weight"}, {"layer_1.1.bias", "layer_1.norm.bias"}};
  nn::StateDict<float> upstream;  // Mask2Former's names: FPN convs without bias
  upstream.insert("sem_seg_head.predictor.query_feat.weight", Tensor<float>::zeros({2, 2}));
  for (const std::string& name : file.names()) {
    if (!name.starts_with(kPrefix)) continue;
    const std::string local = name.substr(kPrefix.size());
    if (local == "adapter_1.0.bias" || local == "layer_1.0.bias") continue;
    const auto it = renames.find(local);
    upstream.insert(m2f + (it == renames.end() ? local : it->second), file.load<float>(name));
  }
  nn::InitRng rng{6};
  PixelDecoder<float> decoder(PixelDecoderConfig::tiny(), rng);
  // PSALM's names alone do not fit such a checkpoint
  CHECK_THROWS_WITH(nn::load_state_dict(decoder, upstream, {.prefix = m2f}),
                    Catch::Contains("adapter_1.0.weight"));
  nn::load_state_dict(decoder, Mask2FormerPixelDecoderNames(upstream, m2f), {.prefix = m2f});
  for (auto& [name, p] : decoder.named_parameters()) {
    INFO(name);
    if (name == "adapter_1.0.bias" || name == "layer_1.0.bias") {
      CHECK(p.value().to_vector() == std::vector<float>(32, 0.0f));
    } else {
      CHECK(p.value().to_vector() == file.load<float>(kPrefix + name).to_vector());
    }
  }
  // biases present under Mask2Former's conv name (adapter_1.bias) load too
  upstream.insert(m2f + "adapter_1.bias", file.load<float>(kPrefix + "adapter_1.0.bias"));
  nn::load_state_dict(decoder, Mask2FormerPixelDecoderNames(upstream, m2f), {.prefix = m2f});
  CHECK(decoder.adapter_1.conv.bias.value().to_vector() ==
        file.load<float>(kPrefix + "adapter_1.0.bias").to_vector());
  CHECK(decoder.layer_1.conv.bias.value().to_vector() == std::vector<float>(32, 0.0f));
}

TEST_CASE("pixel_decoder: backward matches finite differences in double (tiny config)",
          "[pixel_decoder]") {
  const PixelDecoderConfig config{.in_channels = {3, 4, 5, 6},
                                  .conv_dim = 8,
                                  .mask_dim = 4,
                                  .transformer_enc_layers = 1,
                                  .transformer_nheads = 2,
                                  .transformer_dim_feedforward = 8,
                                  .enc_n_points = 2,
                                  .norm_groups = 2};
  nn::InitRng rng{7};
  PixelDecoder<double> decoder(config, rng);
  int seed = 100;
  for (auto& [name, p] : decoder.named_parameters())  // move every parameter off its init
    p.value().assign(p.value() + Tensor<double>::randn(p.shape(), ++seed, 0.0, 0.2));
  const nn::FeatureMaps<double> in{
      {2, Var<double>::parameter(Tensor<double>::randn({1, 3, 4, 6}, 1))},
      {3, Var<double>::parameter(Tensor<double>::randn({1, 4, 2, 3}, 2))},
      {4, Var<double>::parameter(Tensor<double>::randn({1, 5, 2, 2}, 3))},
      {5, Var<double>::parameter(Tensor<double>::randn({1, 6, 1, 1}, 4))}};
  std::vector<Tensor<double>> d_out;
  {
    autograd::NoGrad no_grad;
    for (const auto& o : outputs_of(decoder(in)))
      d_out.push_back(Tensor<double>::randn(o.shape(), ++seed));
  }
  // Every input and parameter tensor, up to 5 evenly spaced elements of each.
  testing::check_module_gradients(
      decoder, {{"res2", in.res(2)}, {"res3", in.res(3)}, {"res4", in.res(4)}, {"res5", in.res(5)}},
      [&] {
        const std::vector<Var<double>> outs = outputs_of(decoder(in));
        Var<double> loss = autograd::sum(outs[0] * Var<double>(d_out[0]));
        for (int k = 1; k < 4; ++k) loss = loss + autograd::sum(outs[k] * Var<double>(d_out[k]));
        return loss;  // ()
      },
      {.rtol = tol::fd_rtol,
       .atol = tol::fd_module_atol,
       .max_per_input = 5,
       .max_per_parameter = 5});
}
