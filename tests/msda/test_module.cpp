// Tests for psalm/models/deformable/ms_deform_attn.hpp: MSDeformAttn against the PyTorch module
// of tools/reference/msda_reference.py with the same weights (forward, gradients of every
// parameter and of both inputs; tests/fixtures/msda/module.safetensors), Deformable DETR's
// initialisation, pixel-centre reference points, finite differences in double, and errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/models/deformable/ms_deform_attn.hpp"
#include "psalm/nn/state_dict.hpp"
#include "support/fixtures.hpp"
#include "support/module_gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::models::deformable;
using autograd::Var;

namespace {

const io::SafetensorsFile& module_file() {
  static const io::SafetensorsFile f =
      io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) + "/msda/module.safetensors");
  return f;
}

const MSDeformAttnConfig kSmall{.d_model = 32, .n_levels = 2, .n_heads = 4, .n_points = 3};
const LevelShapes kShapes{{{4, 5}, {2, 3}}};

template <Real T>
void check_against_torch(double rtol, double atol) {
  const auto& f = module_file();
  nn::InitRng rng{1};
  MSDeformAttn<T> attn(kSmall, rng);
  const auto report =
      nn::load_state_dict(attn, f, {.prefix = "param.", .ignore = {}, .strict = false});
  REQUIRE(report.loaded.size() == 8);
  REQUIRE(report.missing.empty());
  auto query = Var<T>::parameter(f.load<T>("query").contiguous());              // (B, S, C)
  auto value_input = Var<T>::parameter(f.load<T>("value_input").contiguous());  // (B, S, C)
  const Tensor<T> ref = f.load<T>("reference_points").contiguous();             // (B, S, L, 2)
  const Var<T> y = attn(query, ref, value_input, kShapes);                      // (B, S, C)
  testing::require_close(y.value(), f.load<double>("output"), rtol, atol);
  autograd::backward(y, f.load<T>("d_out").contiguous());
  for (const auto& [name, p] : attn.named_parameters()) {
    INFO("gradient of " << name);
    REQUIRE(p.grad().defined());
    testing::require_close(p.grad(), f.load<double>("grad." + name), rtol, atol);
  }
  {
    INFO("d_query");
    testing::require_close(query.grad(), f.load<double>("d_query"), rtol, atol);
  }
  {
    INFO("d_value_input");
    testing::require_close(value_input.grad(), f.load<double>("d_value_input"), rtol, atol);
  }
}

}  // namespace

TEST_CASE("MSDeformAttn: forward and all gradients match the PyTorch module in float",
          "[msda][module]") {
  check_against_torch<float>(tol::f32_grad_rtol, tol::f32_grad_atol);
}

TEST_CASE("MSDeformAttn: forward and all gradients match the PyTorch module in double",
          "[msda][module]") {
  check_against_torch<double>(tol::f64_msda_module, tol::f64_msda_module);
}

TEST_CASE("MSDeformAttn: parameters carry the upstream state_dict names and shapes",
          "[msda][module]") {
  nn::InitRng rng{2};
  MSDeformAttn<float> attn(kSmall, rng);
  std::vector<std::string> names;
  for (const auto& [name, p] : attn.named_parameters()) names.push_back(name);
  REQUIRE(names == std::vector<std::string>{"sampling_offsets.weight", "sampling_offsets.bias",
                                            "attention_weights.weight", "attention_weights.bias",
                                            "value_proj.weight", "value_proj.bias",
                                            "output_proj.weight", "output_proj.bias"});
  CHECK(attn.sampling_offsets.weight.shape() == Shape{4 * 2 * 3 * 2, 32});
  CHECK(attn.attention_weights.weight.shape() == Shape{4 * 2 * 3, 32});
  // strict loading of the PyTorch module's weights succeeds with no leftovers
  nn::StateDict<float> sd;
  for (const auto& name : names) sd.insert(name, module_file().load<float>("param." + name));
  REQUIRE_NOTHROW(nn::load_state_dict(attn, sd));
}

TEST_CASE(
    "MSDeformAttn: Deformable DETR initialisation (head-direction offsets, uniform "
    "attention, xavier projections)",
    "[msda][module]") {
  for (const auto& [key, cfg] :
       {std::pair<std::string, MSDeformAttnConfig>{"small", kSmall},
        {"psalm",
         MSDeformAttnConfig{.d_model = 256, .n_levels = 3, .n_heads = 8, .n_points = 4}}}) {
    INFO("config " << key);
    nn::InitRng rng{5};
    MSDeformAttn<float> attn(cfg, rng);
    testing::require_close(attn.sampling_offsets.bias.value(),
                           module_file().load<float>("init." + key + ".sampling_offsets.bias"),
                           1e-6, 1e-6);
    for (const Var<float>* zero :
         {&attn.sampling_offsets.weight, &attn.attention_weights.weight,
          &attn.attention_weights.bias, &attn.value_proj.bias, &attn.output_proj.bias}) {
      const auto v = zero->value().to_vector();
      REQUIRE(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; }));
    }
    const double bound = std::sqrt(6.0 / (2.0 * static_cast<double>(cfg.d_model)));
    for (const Var<float>* w : {&attn.value_proj.weight, &attn.output_proj.weight}) {
      const auto v = w->value().to_vector();
      CHECK(*std::max_element(v.begin(), v.end()) <= bound);
      CHECK(*std::min_element(v.begin(), v.end()) >= -bound);
      CHECK(*std::max_element(v.begin(), v.end()) > 0.9 * bound);  // spread over the range
    }
  }
}

TEST_CASE("reference_points_for: pixel centres of every level, repeated over levels",
          "[msda][module]") {
  const Tensor<float> ref = reference_points_for<float>(kShapes, 2);  // (B, S, L, 2)
  testing::require_close(ref, module_file().load<float>("reference_points"), tol::f32_one_ulp, 0.0);
  // token 20 is (0, 0) of level 1 (2 x 3): ((0 + 0.5) / 3, (0 + 0.5) / 2) on both levels
  const auto r = ref.to_vector();
  CHECK(r[((1 * 26 + 20) * 2 + 0) * 2 + 0] == Approx(0.5 / 3));  // [1, 20, 0, x]
  CHECK(r[((1 * 26 + 20) * 2 + 1) * 2 + 1] == Approx(0.25));     // [1, 20, 1, y]
  CHECK(kShapes.total() == 26);
  CHECK(kShapes.start_index() == std::vector<std::int64_t>{0, 20});
}

TEST_CASE("MSDeformAttn: backward matches finite differences in double", "[msda][module]") {
  // tiny config; random weights so that sampling positions avoid integer pixels (kinks)
  const MSDeformAttnConfig cfg{.d_model = 4, .n_levels = 2, .n_heads = 2, .n_points = 2};
  const LevelShapes shapes{{{3, 2}, {1, 2}}};  // S = 8
  nn::InitRng rng{9};
  MSDeformAttn<double> attn(cfg, rng);
  std::uint64_t seed = 30;
  for (auto& [name, p] : attn.named_parameters())
    p.value().assign(p.value() + Tensor<double>::randn(p.shape(), seed++) * 0.3);
  const Tensor<double> query = Tensor<double>::randn({1, 3, 4}, 40);             // (B, Q, C)
  const Tensor<double> value_input = Tensor<double>::randn({1, 8, 4}, 41);       // (B, S, C)
  const Tensor<double> ref(Tensor<double>::rand({1, 3, 2, 2}, 42) * 0.8 + 0.1);  // (B, Q, L, 2)
  const Tensor<double> w = Tensor<double>::randn({1, 3, 4}, 43);
  const Var<double> q = Var<double>::parameter(query), v = Var<double>::parameter(value_input);
  testing::check_module_gradients(
      attn, {{"query", q}, {"value_input", v}},
      [&] { return autograd::sum(attn(q, ref, v, shapes) * Var<double>(w)); },
      {.rtol = tol::fd_rtol, .atol = tol::fd_atol});
}

TEST_CASE("MSDeformAttn: rejects mismatched inputs and configs", "[msda][module]") {
  nn::InitRng rng{3};
  REQUIRE_THROWS_AS(MSDeformAttn<float>(MSDeformAttnConfig{.d_model = 30, .n_heads = 8}, rng),
                    Error);
  MSDeformAttn<float> attn(kSmall, rng);
  const Var<float> q(Tensor<float>::zeros({1, 5, 32}));
  const Var<float> v(Tensor<float>::zeros({1, 26, 32}));
  const Tensor<float> ref = Tensor<float>::zeros({1, 5, 2, 2});
  REQUIRE_NOTHROW(attn(q, ref, v, kShapes));
  REQUIRE_THROWS_AS(attn(q, ref, v, LevelShapes{{{4, 5}, {2, 2}}}), Error);           // S mismatch
  REQUIRE_THROWS_AS(attn(q, ref, v, LevelShapes{{{4, 5}, {2, 3}, {1, 1}}}), Error);   // levels
  REQUIRE_THROWS_AS(attn(q, Tensor<float>::zeros({1, 5, 2, 4}), v, kShapes), Error);  // boxes
  REQUIRE_THROWS_AS(attn(Var<float>(Tensor<float>::zeros({1, 5, 16})), ref, v, kShapes), Error);
}
