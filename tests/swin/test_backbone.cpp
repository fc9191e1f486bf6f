// Tests of SwinBackbone (include/psalm/models/swin/{backbone, stage, block, patch_embed}.hpp)
// against Hugging Face transformers' SwinBackbone (tools/reference/swin_fixtures.py): res2..res5
// and the gradients of every parameter and of the pixels for a fixed loss, at a config whose
// token grids need padding to the window and whose shifted blocks use the region mask; the
// gradients of the whole backbone against finite differences in double; strict loading by
// Mask2Former key names with a prefix; frozen-but-training drop path; Swin-B's key shapes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "psalm/models/swin.hpp"
#include "support/fixtures.hpp"
#include "support/module_gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::models::swin;
using autograd::Var;

namespace {

const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/swin/";
// float32 against float64 references through ~12 layers (LayerNorm, GELU, softmax).
constexpr double kForwardRtol = tol::f32_sum_rtol, kForwardAtol = tol::f32_sum_atol;
// Gradients: weight gradients sum over every token (1740 in stage 1) with cancellation, so the
// float32 error scales with the tensor's largest entry: |got - want| <= 1e-4 * max|want|.
constexpr double kGradRtol = tol::f32_grad_rtol;

/// Requires |got - want| <= rtol * max|want| elementwise (a norm-wise relative error).
void require_close_scaled(const Tensor<float>& got, const Tensor<float>& want, double rtol) {
  double scale = 0.0;
  for (float v : want.to_vector()) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  testing::require_close(got, want, 0.0, rtol * scale);
}

SwinConfig fixture_config() {
  return SwinConfig::from_json(io::ConfigReader::from_file(kDir + "tiny_config.json"));
}

/// L = sum_k sum(res_k * w_k).
template <class T>
Var<T> fixture_loss(const nn::FeatureMaps<T>& f, const io::SafetensorsFile& ref) {
  Var<T> loss;
  for (int k = 2; k <= 5; ++k) {
    const Var<T> w(ref.load<T>("loss_weight.res" + std::to_string(k)));
    const Var<T> term = autograd::sum(f.res(k) * w);
    loss = loss.defined() ? loss + term : term;
  }
  return loss;
}

/// sum |a - b| (or sum |a| without b).
float abs_diff(const Tensor<float>& a, const Tensor<float>& b = {}) {
  const Tensor<float> d = b.defined() ? Tensor<float>(abs(a - b)) : Tensor<float>(abs(a));
  return sum(d).item();
}

}  // namespace

TEST_CASE("SwinBackbone: res2..res5 and all gradients match transformers' SwinBackbone", "[swin]") {
  const auto weights = io::SafetensorsFile::open(kDir + "tiny_weights.safetensors");
  const auto ref = io::SafetensorsFile::open(kDir + "tiny_reference.safetensors");
  nn::InitRng rng{3};
  SwinBackbone<float> swin(fixture_config(), rng);
  const nn::LoadReport report = nn::load_state_dict(swin, weights, {.prefix = "backbone."});
  CHECK(report.loaded.size() == weights.names().size());
  swin.eval();
  Var<float> pixels = Var<float>::parameter(ref.load<float>("pixel_values"));  // (2, 3, 57, 59)
  const nn::FeatureMaps<float> f = swin(pixels);
  for (int k = 2; k <= 5; ++k) {
    INFO("res" << k);
    testing::require_close(f.res(k).value(), ref.load<float>("res" + std::to_string(k)),
                           kForwardRtol, kForwardAtol);
  }
  CHECK(f.res(2).shape() == Shape{2, 6, 29, 30});
  CHECK(f.res(5).shape() == Shape{2, 48, 4, 4});
  autograd::backward(fixture_loss(f, ref));
  require_close_scaled(pixels.grad(), ref.load<float>("grad.pixel_values"), kGradRtol);
  int checked = 0;
  for (auto& [name, p] : swin.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    require_close_scaled(p.grad(), ref.load<float>("grad." + name), kGradRtol);
    ++checked;
  }
  int reference_grads = 0;  // every parameter of the reference has a gradient here
  for (const std::string& n : ref.names())
    reference_grads += n.starts_with("grad.layers") || n.starts_with("grad.patch_embed") ||
                       n.starts_with("grad.norm");
  CHECK(checked == reference_grads);
}

TEST_CASE("SwinBackbone: gradients of the pixels and the weights match finite differences",
          "[swin]") {
  SwinConfig c;
  c.patch_size = 2;
  c.embed_dim = 4;
  c.depths = {2, 2};
  c.num_heads = {1, 2};
  c.window_size = 2;
  c.drop_path_rate = 0.0;
  c.out_indices = {1, 2};
  nn::InitRng rng{5};
  SwinBackbone<double> swin(c, rng);
  // Random LayerNorm affines and bias tables, so every parameter matters.
  for (auto& [name, p] : swin.named_parameters())
    p.value().assign(p.value() + Tensor<double>::randn(p.shape(), 77, 0.0, 0.3));
  const Tensor<double> x0 = Tensor<double>::randn({2, 3, 9, 7}, 6);  // grid 5 x 4: padded, shifted
  const Tensor<double> w2 = Tensor<double>::randn({2, 4, 5, 4}, 8);
  const Tensor<double> w3 = Tensor<double>::randn({2, 8, 3, 2}, 9);
  const Var<double> x = Var<double>::parameter(x0);
  // Every 7th pixel, and a spread of entries (about 5) of every parameter.
  testing::check_module_gradients(swin, {{"pixels", x}},
                                  [&] {
                                    const nn::FeatureMaps<double> f = swin(x);
                                    return autograd::sum(f.res(2) * Var<double>(w2)) +
                                           autograd::sum(f.res(3) * Var<double>(w3));
                                  },
                                  {.input_step = 7, .max_per_parameter = 5});
}

TEST_CASE("SwinBackbone: strict loading names a missing, mis-shaped or unexpected tensor",
          "[swin]") {
  const auto file = io::SafetensorsFile::open(kDir + "tiny_weights.safetensors");
  nn::StateDict<float> good;
  for (const std::string& name : file.names())
    if (name.find("relative_position_index") == std::string::npos)  // recomputable: may be absent
      good.insert(name, file.load<float>(name));
  nn::InitRng rng{4};
  SwinBackbone<float> swin(fixture_config(), rng);
  CHECK_NOTHROW(nn::load_state_dict(swin, good, {.prefix = "backbone."}));
  CHECK_THROWS_WITH(nn::load_state_dict(swin, good),
                    Catch::Contains("missing") && Catch::Contains("patch_embed.proj.weight"));

  nn::StateDict<float> missing;
  for (const std::string& name : good.names())
    if (name != "backbone.layers.1.blocks.1.attn.relative_position_bias_table")
      missing.insert(name, good.at(name));
  CHECK_THROWS_WITH(
      nn::load_state_dict(swin, missing, {.prefix = "backbone."}),
      Catch::Contains("backbone.layers.1.blocks.1.attn.relative_position_bias_table"));

  nn::StateDict<float> misshaped = missing;
  misshaped.insert("backbone.layers.1.blocks.1.attn.relative_position_bias_table",
                   Tensor<float>::zeros({25, 3}));
  CHECK_THROWS_WITH(nn::load_state_dict(swin, misshaped, {.prefix = "backbone."}),
                    Catch::Contains("layers.1.blocks.1.attn.relative_position_bias_table") &&
                        Catch::Contains("shape"));

  nn::StateDict<float> extra = good;
  extra.insert("backbone.norm4.weight", Tensor<float>::ones({96}));
  CHECK_THROWS_WITH(nn::load_state_dict(swin, extra, {.prefix = "backbone."}),
                    Catch::Contains("unexpected") && Catch::Contains("backbone.norm4.weight"));
}

TEST_CASE(
    "SwinBackbone: frozen in train mode, drop path stays active and only pixels get "
    "gradients",
    "[swin]") {
  SwinConfig c = SwinConfig::tiny();
  c.drop_path_rate = 0.5;
  nn::InitRng rng{8};
  SwinBackbone<float> swin(c, rng, /*drop_path_seed=*/42);
  swin.set_requires_grad(false);
  swin.train();
  REQUIRE(swin.is_training());
  REQUIRE(swin.trainable_parameters().empty());
  const Tensor<float> image = Tensor<float>::randn({4, 3, 32, 36}, 9);

  Var<float> pixels = Var<float>::parameter(image.clone());
  const nn::FeatureMaps<float> first = swin(pixels);
  autograd::backward(autograd::sum(first.res(5)));
  REQUIRE(pixels.grad().defined());
  CHECK(abs_diff(pixels.grad()) > 0.0f);
  for (auto& [name, p] : swin.named_parameters()) {
    INFO(name);
    CHECK_FALSE(p.grad().defined());
  }

  // A second pass draws new masks (PSALM runs the frozen Swin twice per step).
  const nn::FeatureMaps<float> second = swin(Var<float>(image));
  const float diff = abs_diff(first.res(5).value(), second.res(5).value());
  CHECK(diff > 1e-3f);
  // eval() turns drop path off: equal to a same-seed model in eval mode, unlike training.
  swin.eval();
  nn::InitRng rng2{8};
  SwinBackbone<float> twin(c, rng2, 42);
  twin.eval();
  const nn::FeatureMaps<float> a = swin(Var<float>(image));
  const nn::FeatureMaps<float> b = twin(Var<float>(image));
  testing::require_close(a.res(5).value(), b.res(5).value(), 0.0, 0.0);
  CHECK(abs_diff(a.res(5).value(), first.res(5).value()) > 1e-3f);
  // The same seed reproduces the training masks.
  nn::InitRng rng3{8};
  SwinBackbone<float> again(c, rng3, 42);
  again.set_requires_grad(false);
  const nn::FeatureMaps<float> replay = again(Var<float>(image));
  testing::require_close(replay.res(5).value(), first.res(5).value(), 0.0, 0.0);
}

TEST_CASE("SwinBackbone: Swin-B's layout has Mask2Former's key names and shapes", "[swin]") {
  // Swin-B 384's depths and window at a quarter of its width (building the 87 M parameters of
  // the real preset takes seconds); transformers' SwinBackbone of this config, less its unused
  // final norm, has 5,499,934 parameters (86,880,376 at full width).
  SwinConfig c = SwinConfig::swin_b_384();
  c.embed_dim = 32;
  c.num_heads = {1, 2, 4, 8};
  nn::InitRng rng{0};
  SwinBackbone<float> swin(c, rng);
  const nn::StateDict<float> sd = nn::state_dict(swin);
  auto shape = [&](const std::string& n) {
    INFO(n);
    REQUIRE(sd.contains(n));
    return sd.at(n).shape();
  };
  CHECK(shape("patch_embed.proj.weight") == Shape{32, 3, 4, 4});
  CHECK(shape("layers.0.blocks.0.attn.relative_position_bias_table") == Shape{529, 1});
  CHECK(shape("layers.0.blocks.0.attn.relative_position_index") == Shape{144, 144});
  CHECK(shape("layers.2.blocks.17.attn.qkv.weight") == Shape{384, 128});
  CHECK(shape("layers.2.blocks.17.attn.relative_position_bias_table") == Shape{529, 4});
  CHECK(shape("layers.2.downsample.reduction.weight") == Shape{256, 512});
  CHECK(shape("layers.3.blocks.1.mlp.fc1.weight") == Shape{1024, 256});
  CHECK(shape("norm3.weight") == Shape{256});
  CHECK_FALSE(sd.contains("layers.3.downsample.norm.weight"));
  CHECK_FALSE(sd.contains("layers.2.blocks.18.norm1.weight"));
  CHECK(swin.parameter_count() == 5'499'934);
}
