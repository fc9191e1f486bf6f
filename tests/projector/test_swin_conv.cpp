// Tests for psalm/models/projector/swin_conv.hpp: PSALM's swin_conv projector against a PyTorch
// composition of nn.Conv2d / nn.BatchNorm2d / nn.Linear (tools/reference/projector_fixtures.py,
// tests/fixtures/projector/) in train mode (batch statistics, running statistics after the step)
// and eval mode, forward and the gradients of every parameter and the input; the conv2-once
// variant; finite differences in double; upstream names and shapes at the released size;
// strict loading and input checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "psalm/models/projector/swin_conv.hpp"
#include "psalm/nn/state_dict.hpp"
#include "support/fixtures.hpp"
#include "support/module_gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using models::projector::ProjectorConfig;
using models::projector::SwinConvProjector;
using nn::Var;

namespace {

const std::string kPrefix = "model.mm_projector.";
// float32 forward against a float64 reference; gradients sum over more products.
constexpr double kFwdTol = 1e-5, kGradTol = 1e-4;

io::SafetensorsFile open_fixture(const std::string& name) {
  return io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) + "/projector/" + name +
                                   ".safetensors");
}

/// Loads the case's weights, runs forward and backward of sum(tokens * R) and compares with
/// PyTorch: tokens, d_res5, every parameter's gradient and every buffer after the forward.
void check_case(const std::string& name, bool train, bool conv2_twice) {
  const io::SafetensorsFile f = open_fixture(name);
  ProjectorConfig config = ProjectorConfig::tiny();
  config.conv2_applied_twice = conv2_twice;
  nn::InitRng rng{1};
  SwinConvProjector<float> projector(config, rng);
  const nn::LoadReport report = nn::load_state_dict(projector, f, {.prefix = kPrefix});
  CHECK(report.loaded.size() == 20);  // 4 convs / fc weights, fc bias, 3 BNs x 5 entries
  projector.train(train);

  const Var<float> res5 = Var<float>::parameter(f.load<float>("res5"));  // (B, C, H, W)
  const Var<float> tokens = projector(res5);                             // (B, L, D)
  testing::require_close(tokens.value(), f.load<double>("tokens"), kFwdTol, kFwdTol);
  autograd::backward(tokens, f.load<float>("loss_weight"));

  testing::require_close(res5.grad(), f.load<double>("grad.res5"), kGradTol, kGradTol);
  projector.for_each_parameter(
      [&](const std::string& n, Var<float>& p) {
        INFO("gradient of " << n);
        REQUIRE(p.grad().defined());
        testing::require_close(p.grad(), f.load<double>("grad." + n), kGradTol, kGradTol);
      },
      kPrefix);
  projector.for_each_buffer(
      [&](const std::string& n, Tensor<float>& b, nn::BufferKind) {
        INFO("buffer " << n << " after the forward");
        testing::require_close(b, f.load<double>("after." + n), kFwdTol, kFwdTol);
      },
      kPrefix);
}

}  // namespace

TEST_CASE("swin_conv: train mode matches PyTorch: batch statistics, gradients, running stats",
          "[projector][swin_conv]") {
  check_case("swin_conv_train", true, true);
}

TEST_CASE("swin_conv: eval mode matches PyTorch with running statistics on an odd 7x5 map",
          "[projector][swin_conv]") {
  check_case("swin_conv_eval", false, true);
}

TEST_CASE("swin_conv: conv2_applied_twice = false matches the textbook BasicBlock",
          "[projector][swin_conv]") {
  check_case("swin_conv_once", false, false);
}

TEST_CASE("swin_conv: the second conv2 application changes the output (the flag matters)",
          "[projector][swin_conv]") {
  const io::SafetensorsFile f = open_fixture("swin_conv_eval");
  nn::InitRng rng{1};
  ProjectorConfig once = ProjectorConfig::tiny();
  once.conv2_applied_twice = false;
  SwinConvProjector<float> projector(once, rng);
  nn::load_state_dict(projector, f, {.prefix = kPrefix});
  projector.eval();
  const Tensor<float> got = projector(Var<float>(f.load<float>("res5"))).value();  // (B, L, D)
  const auto a = got.to_vector(), b = f.load<float>("tokens").to_vector();
  double max_diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    max_diff = std::max(max_diff, double(std::abs(a[i] - b[i])));
  CHECK(max_diff > 1e-2);
}

TEST_CASE("swin_conv: backward matches finite differences in double, train and eval mode",
          "[projector][swin_conv]") {
  ProjectorConfig config = ProjectorConfig::tiny();
  config.mm_input_embeds = 3;
  config.swin_conv_planes = 4;
  config.projector_outdim = 5;
  for (const bool train : {true, false}) {
    INFO((train ? "train" : "eval") << " mode");
    nn::InitRng rng{7};
    SwinConvProjector<double> projector(config, rng);
    projector.train(train);
    // Non-trivial BN affine parameters and running statistics.
    for (nn::BatchNorm2d<double>* bn :
         {&projector.layer1[0].bn1, &projector.layer1[0].bn2, &projector.layer1[0].downsample_bn}) {
      bn->weight.value().assign(Tensor<double>::randn({4}, 11, 1.0, 0.2));
      bn->bias.value().assign(Tensor<double>::randn({4}, 12, 0.0, 0.1));
      bn->running_mean.assign(Tensor<double>::randn({4}, 13, 0.0, 0.3));
      bn->running_var.assign(Tensor<double>::rand({4}, 14) + 0.5);
    }
    const Var<double> x = Var<double>::parameter(Tensor<double>::randn({2, 3, 5, 4}, 3));
    const Tensor<double> r = Tensor<double>::randn({2, 6, 5}, 4);  // (B, L, D): 3 x 2 grid
    testing::check_module_gradients(projector, {{"res5", x}},
                                    [&] { return autograd::sum(projector(x) * Var<double>(r)); },
                                    {.rtol = tol::fd_module_rtol, .atol = tol::fd_module_atol});
  }
}

TEST_CASE("swin_conv: names and shapes match the released PSALM projector's",
          "[projector][swin_conv]") {
  // Building the 58 M-parameter projector takes ~15 s here, so the tiny one (16 -> 20 -> 24,
  // three distinct widths) is compared with PyTorch's released-size module (1024 -> 2048 ->
  // 2048) through the width map 16 -> 1024, 20 -> 2048, 24 -> 2048.
  const nlohmann::json want = testing::load_json("projector/psalm_state_dict.json");
  nn::InitRng rng{0};
  SwinConvProjector<float> projector(ProjectorConfig::tiny(), rng);
  const nn::StateDict<float> sd = nn::state_dict(projector, kPrefix);
  REQUIRE(sd.size() == want.size());
  for (const auto& entry : want) {  // psalm lists parameters before buffers: compare by name
    const std::string name = entry[0].get<std::string>();
    INFO(name);
    REQUIRE(sd.contains(name));
    std::vector<std::int64_t> shape = sd.shape(name);
    for (std::int64_t& d : shape) d = d == 16 ? 1024 : (d == 20 || d == 24) ? 2048 : d;
    CHECK(shape == entry[1].get<std::vector<std::int64_t>>());
  }
  // Upstream's init: conv ~ N(0, sqrt(2 / (k k out))), BN weight 1, bias 0.
  const auto w = projector.layer1[0].conv2.weight.value().to_vector();
  double s2 = 0;
  for (float v : w) s2 += double(v) * v;
  CHECK(std::sqrt(s2 / double(w.size())) == Approx(std::sqrt(2.0 / (9 * 20))).epsilon(0.05));
  CHECK(projector.layer1[0].bn2.weight.value().item({5}) == 1.0f);
  CHECK(projector.layer1[0].bn2.bias.value().item({5}) == 0.0f);
  CHECK(projector.parameter_count() ==
        20 * 16 * 9 + 20 * 20 * 9 + 20 * 16 + 3 * 2 * 20 + 24 * 20 + 24);
}

TEST_CASE("swin_conv: strict loading names missing and mis-shaped tensors; bad inputs throw",
          "[projector][swin_conv]") {
  const io::SafetensorsFile f = open_fixture("swin_conv_eval");
  nn::InitRng rng{1};
  SwinConvProjector<float> projector(ProjectorConfig::tiny(), rng);
  // Without the prefix nothing matches: every tensor is reported missing.
  CHECK_THROWS_WITH(nn::load_state_dict(projector, f),
                    Catch::Contains("missing") && Catch::Contains("layer1.0.conv1.weight"));
  ProjectorConfig wider = ProjectorConfig::tiny();
  wider.swin_conv_planes = 21;
  SwinConvProjector<float> other(wider, rng);
  CHECK_THROWS_WITH(nn::load_state_dict(other, f, {.prefix = kPrefix}),
                    Catch::Contains("model.mm_projector.layer1.0.conv1.weight"));
  projector.eval();
  CHECK_THROWS_AS(projector(Var<float>(Tensor<float>::zeros({2, 15, 4, 4}))), Error);
  CHECK_THROWS_AS(projector(Var<float>(Tensor<float>::zeros({2, 16, 4}))), Error);
  ProjectorConfig linear = ProjectorConfig::tiny();
  linear.mm_projector_type = "linear";
  CHECK_THROWS_AS(SwinConvProjector<float>(linear, rng), Error);
}
