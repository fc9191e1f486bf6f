// Tests for psalm/models/projector/{config,projector,linear,mlp_gelu,tokens}.hpp: config.json
// parsing with upstream's defaults, the factory, LLaVA's linear and mlp2x_gelu projectors
// against PyTorch (tests/fixtures/projector/{linear,mlp2x_gelu}.safetensors) including gradients,
// finite differences in double, and freezing with BatchNorm still in train mode.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "psalm/models/projector.hpp"
#include "psalm/nn/state_dict.hpp"
#include "support/fixtures.hpp"
#include "support/module_gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using models::projector::ProjectorConfig;
using models::projector::ProjectorType;
using nn::Var;

namespace {

const std::string kPrefix = "model.mm_projector.";

ProjectorConfig parse(const std::string& json) {
  return ProjectorConfig::from_json(io::ConfigReader::from_text(json, "config.json"));
}

/// Forward and gradients of sum(tokens * R) against the PyTorch fixture `name`.
void check_against_torch(const std::string& name, const ProjectorConfig& config,
                         std::size_t n_tensors) {
  const io::SafetensorsFile f = io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) +
                                                          "/projector/" + name + ".safetensors");
  nn::InitRng rng{2};
  auto projector = models::projector::make_projector<float>(config, rng);
  CHECK(nn::load_state_dict(*projector, f, {.prefix = kPrefix}).loaded.size() == n_tensors);
  const Var<float> x = Var<float>::parameter(f.load<float>("features"));
  const Var<float> tokens = (*projector)(x);  // (B, L, D)
  testing::require_close(tokens.value(), f.load<double>("tokens"), tol::f32_sum_rtol,
                         tol::f32_sum_atol);
  autograd::backward(tokens, f.load<float>("loss_weight"));
  testing::require_close(x.grad(), f.load<double>("grad.features"), tol::f32_grad_rtol,
                         tol::f32_grad_atol);
  projector->for_each_parameter(
      [&](const std::string& n, Var<float>& p) {
        INFO("gradient of " << n);
        testing::require_close(p.grad(), f.load<double>("grad." + n), tol::f32_grad_rtol,
                               tol::f32_grad_atol);
      },
      kPrefix);
}

}  // namespace

TEST_CASE("projector config: PSALM's config.json keys, upstream defaults, strict types",
          "[projector][config]") {
  const ProjectorConfig psalm = parse(
      R"({"mm_projector_type": "swin_conv", "mm_input_embeds": 1024, "projector_outdim": 2048,
          "mm_hidden_size": 256, "hidden_size": 2048, "swin_type": "base"})");
  CHECK(psalm.type() == ProjectorType::swin_conv);
  CHECK(psalm.mm_input_embeds == 1024);
  CHECK(psalm.output_width() == 2048);
  CHECK(psalm.swin_conv_planes == 2048);
  CHECK(psalm.conv2_applied_twice);
  // builder.py's getattr defaults: type linear; swin_conv outdim 4096, input 1024.
  const ProjectorConfig bare = parse(R"({"mm_projector_type": "swin_conv"})");
  CHECK(bare.projector_outdim == 4096);
  CHECK(bare.mm_input_embeds == 1024);
  const ProjectorConfig lin = parse(R"({"mm_hidden_size": 1024, "hidden_size": 2048})");
  CHECK(lin.type() == ProjectorType::linear);
  CHECK(lin.output_width() == 2048);
  const ProjectorConfig mlp =
      parse(R"({"mm_projector_type": "mlp3x_gelu", "mm_hidden_size": 8, "hidden_size": 6})");
  CHECK(mlp.type() == ProjectorType::mlp_gelu);
  CHECK(mlp.mlp_depth() == 3);
  CHECK_FALSE(parse(R"({"mm_projector_type": "swin_conv", "conv2_applied_twice": false})")
                  .conv2_applied_twice);
  CHECK_THROWS_WITH(parse(R"({"mm_projector_type": "linear", "hidden_size": 8})"),
                    Catch::Contains("mm_hidden_size"));
  CHECK_THROWS_WITH(parse(R"({"mm_projector_type": "mlp0x_gelu"})"),
                    Catch::Contains("unknown mm_projector_type"));
  CHECK_THROWS_WITH(parse(R"({"mm_projector_type": "resampler"})"), Catch::Contains("resampler"));
  CHECK_THROWS_WITH(parse(R"({"mm_projector_type": "swin_conv", "projector_outdim": 0})"),
                    Catch::Contains("projector_outdim"));
  CHECK_THROWS_WITH(parse(R"({"mm_projector_type": "swin_conv", "projector_outdim": "2048"})"),
                    Catch::Contains("projector_outdim"));
}

TEST_CASE("make_projector: builds the type the config names, with upstream names",
          "[projector][config]") {
  nn::InitRng rng{3};
  ProjectorConfig c = ProjectorConfig::tiny();
  auto swin = models::projector::make_projector<float>(c, rng);
  CHECK(dynamic_cast<models::projector::SwinConvProjector<float>*>(swin.get()) != nullptr);
  c.mm_projector_type = "mlp2x_gelu";
  auto mlp = models::projector::make_projector<float>(c, rng);
  CHECK(nn::state_dict(*mlp).names() ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  c.mm_projector_type = "linear";
  auto lin = models::projector::make_projector<float>(c, rng);
  CHECK(nn::state_dict(*lin).names() == std::vector<std::string>{"weight", "bias"});
  c.mm_projector_type = "identity";
  auto id = models::projector::make_projector<float>(c, rng);
  CHECK(id->parameter_count() == 0);
  const Tensor<float> map = Tensor<float>::randn({2, 16, 3, 4}, 5);  // (B, C, H, W)
  const Tensor<float> tokens = (*id)(Var<float>(map)).value();       // (B, 12, C)
  REQUIRE(tokens.shape() == Shape{2, 12, 16});
  CHECK(tokens.item({1, 2 * 4 + 3, 7}) == map.item({1, 7, 2, 3}));  // token = row * W + col
}

TEST_CASE("mlp2x_gelu projector: a map flattened to tokens matches PyTorch, with gradients",
          "[projector][mlp]") {
  ProjectorConfig c = ProjectorConfig::tiny();
  c.mm_projector_type = "mlp2x_gelu";
  check_against_torch("mlp2x_gelu", c, 4);
}

TEST_CASE("linear projector: tokens match PyTorch, with gradients", "[projector][linear]") {
  ProjectorConfig c = ProjectorConfig::tiny();
  c.mm_projector_type = "linear";
  check_against_torch("linear", c, 2);
}

TEST_CASE("mlp3x_gelu projector: backward matches finite differences in double",
          "[projector][mlp]") {
  ProjectorConfig c = ProjectorConfig::tiny();
  c.mm_projector_type = "mlp3x_gelu";
  c.mm_hidden_size = 3;
  c.hidden_size = 4;
  nn::InitRng rng{4};
  auto projector = models::projector::make_projector<double>(c, rng);
  REQUIRE(projector->named_parameters().size() == 6);  // three Linears
  const Var<double> x = Var<double>::parameter(Tensor<double>::randn({2, 3, 2, 2}, 6));
  const Tensor<double> r = Tensor<double>::randn({2, 4, 4}, 7);
  testing::check_module_gradients(*projector, {{"map", x}},
                                  [&] { return autograd::sum((*projector)(x)*Var<double>(r)); });
}

TEST_CASE("projector: frozen parameters get no gradient while BatchNorm stays in train mode",
          "[projector][swin_conv]") {
  nn::InitRng rng{5};
  auto projector = models::projector::make_projector<float>(ProjectorConfig::tiny(), rng);
  projector->set_requires_grad(false);
  CHECK(projector->trainable_parameters().empty());
  CHECK(projector->is_training());
  auto& block = dynamic_cast<models::projector::SwinConvProjector<float>&>(*projector).layer1[0];
  const Var<float> x = Var<float>::parameter(Tensor<float>::randn({2, 16, 4, 4}, 8));
  const Var<float> y = (*projector)(x);
  autograd::backward(y, Tensor<float>::ones(y.shape()));
  CHECK(x.grad().defined());  // gradients still flow to the input
  CHECK(block.bn1.num_batches_tracked.item() == 1.0f);
  CHECK(block.bn1.running_mean.item({0}) != 0.0f);  // running statistics were updated
}
