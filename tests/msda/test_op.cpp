// Tests for psalm/autograd/ops/ms_deform_attn.hpp: forward and the gradients of value, sampling
// locations and attention weights against ms_deform_attn_core_pytorch
// (tools/reference/msda_reference.py, fixtures tests/fixtures/msda/op.safetensors: head dims 30,
// 32, 64, 71, one to four levels, locations outside [0, 1], on the borders, pixel edges and
// centres), both CPU backward partitions, finite differences in double, input validation.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/op_check.hpp"
#include "psalm/autograd.hpp"
#include "psalm/autograd/ops/ms_deform_attn.hpp"
#include "psalm/io/safetensors.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::autograd;

namespace {

using Shapes = std::vector<std::array<std::int64_t, 2>>;

const io::SafetensorsFile& op_file() {
  static const io::SafetensorsFile f =
      io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) + "/msda/op.safetensors");
  return f;
}

Shapes shapes_of(const Tensor<std::int64_t>& t) {
  Shapes out;
  for (std::int64_t l = 0; l < t.size(0); ++l) {
    const auto v = t.select(0, l).to_vector();
    out.push_back({v[0], v[1]});
  }
  return out;
}

/// Runs case `name` of op.safetensors in precision T with the given backward mode and checks
/// the output and all three gradients against the float64 reference.
template <Real T>
void check_case(const std::string& name, MSDeformBackwardMode mode, double rtol, double atol) {
  INFO("case " << name);
  const auto& f = op_file();
  auto load = [&](const std::string& key) { return f.load<T>(name + "." + key); };
  const Shapes shapes = shapes_of(f.load<std::int64_t>(name + ".spatial_shapes"));
  const std::vector<std::int64_t> start =
      f.load<std::int64_t>(name + ".level_start_index").to_vector();
  auto value = Var<T>::parameter(load("value").contiguous());             // (B, S, M, D)
  auto loc = Var<T>::parameter(load("sampling_locations").contiguous());  // (B, Q, M, L, P, 2)
  auto attn = Var<T>::parameter(load("attention_weights").contiguous());  // (B, Q, M, L, P)
  const Var<T> y =
      ms_deform_attn(value, shapes, start, loc, attn, {.backward = mode});  // (B, Q, M*D)
  testing::require_close(y.value(), f.load<double>(name + ".output"), rtol, atol);
  backward(y, load("d_out").contiguous());
  {
    INFO("d_value");
    testing::require_close(value.grad(), f.load<double>(name + ".d_value"), rtol, atol);
  }
  {
    INFO("d_sampling_locations");
    // location gradients are scaled by W or H (up to 8 here) and sum over head_dim channels
    testing::require_close(loc.grad(), f.load<double>(name + ".d_sampling_locations"), rtol,
                           atol * 16);
  }
  {
    INFO("d_attention_weights");
    testing::require_close(attn.grad(), f.load<double>(name + ".d_attention_weights"), rtol, atol);
  }
}

const std::vector<std::string> kCases = {"d30", "d32", "d64", "d71", "outside"};

}  // namespace

TEST_CASE("ms_deform_attn: forward and gradients match the PyTorch reference in float",
          "[msda][op]") {
  for (const auto& name : kCases)
    check_case<float>(name, MSDeformBackwardMode::automatic, testing::tol::f32_sum_rtol,
                      testing::tol::f32_sum_atol);
}

TEST_CASE("ms_deform_attn: forward and gradients match the PyTorch reference in double",
          "[msda][op]") {
  for (const auto& name : kCases)
    check_case<double>(name, MSDeformBackwardMode::automatic, tol::f64_module, tol::f64_module);
}

TEST_CASE("ms_deform_attn: atomic and per-head backward partitions agree with the reference",
          "[msda][op]") {
  for (const auto& name : kCases) {
    check_case<float>(name, MSDeformBackwardMode::atomic, testing::tol::f32_sum_rtol,
                      testing::tol::f32_sum_atol);
    check_case<float>(name, MSDeformBackwardMode::by_head, testing::tol::f32_sum_rtol,
                      testing::tol::f32_sum_atol);
  }
}

TEST_CASE("ms_deform_attn: outside samples read zeros and get zero gradients", "[msda][op]") {
  const auto& f = op_file();
  REQUIRE(
      f.load<double>("outside.output").to_vector() ==
      std::vector<double>(static_cast<std::size_t>(f.load<double>("outside.output").numel()), 0.0));
  check_case<float>("outside", MSDeformBackwardMode::automatic, 0.0, 0.0);
}

TEST_CASE("ms_deform_attn: backward matches finite differences in double", "[msda][op]") {
  // B 2, S 4*5 + 2*3, M 2, D 3, Q 3, L 2, P 2; non-contiguous value (a permuted view).
  const Shapes shapes = {{4, 5}, {2, 3}};
  const std::vector<std::int64_t> start = {0, 20};
  const Tensor<double> value =
      Tensor<double>::randn({2, 2, 26, 3}, 11).permute({0, 2, 1, 3});  // (B, S, M, D) view
  REQUIRE_FALSE(value.is_contiguous());
  // locations in (-0.1, 1.1), kept at least 0.05 pixel away from integer pixel coordinates,
  // where bilinear sampling has kinks and central differences are meaningless
  Tensor<double> loc = Tensor<double>::rand({2, 3, 2, 2, 2, 2}, 12);  // (B, Q, M, L, P, 2)
  double* l = loc.data();
  for (std::int64_t i = 0; i < loc.numel(); ++i) {
    const std::int64_t axis = i % 2, level = (i / 4) % 2;
    const double size = static_cast<double>(shapes[static_cast<std::size_t>(level)][1 - axis]);
    double pix = (l[i] * 1.2 - 0.1) * size - 0.5;
    const double frac = pix - std::floor(pix);
    if (frac < 0.05) pix += 0.05;
    if (frac > 0.95) pix -= 0.05;
    l[i] = (pix + 0.5) / size;
  }
  const Tensor<double> attn = Tensor<double>::rand({2, 3, 2, 2, 2}, 13);  // (B, Q, M, L, P)
  for (auto mode : {MSDeformBackwardMode::atomic, MSDeformBackwardMode::by_head}) {
    testing::check_gradients(
        [&](const std::vector<Var<double>>& v) {
          return ms_deform_attn(v[0], shapes, start, v[1], v[2], {.backward = mode});
        },
        {value, loc, attn});
  }
}

TEST_CASE("ms_deform_attn: only the inputs that need gradients receive them", "[msda][op]") {
  const Shapes shapes = {{3, 3}};
  const auto value = Var<float>(Tensor<float>::randn({1, 9, 1, 4}, 1));
  const auto loc = Var<float>::parameter(Tensor<float>::rand({1, 2, 1, 1, 2, 2}, 2));
  const auto attn = Var<float>(Tensor<float>::rand({1, 2, 1, 1, 2}, 3));
  backward(ms_deform_attn(value, shapes, {0}, loc, attn), Tensor<float>::ones({1, 2, 4}));
  REQUIRE(loc.grad().defined());
  REQUIRE_FALSE(value.grad().defined());
  REQUIRE_FALSE(attn.grad().defined());
}

TEST_CASE("ms_deform_attn: rejects inconsistent shapes and level tables", "[msda][op]") {
  const Shapes shapes = {{2, 3}, {1, 2}};  // S = 8
  const Var<float> value(Tensor<float>::zeros({1, 8, 2, 4}));
  const Var<float> loc(Tensor<float>::zeros({1, 5, 2, 2, 3, 2}));
  const Var<float> attn(Tensor<float>::zeros({1, 5, 2, 2, 3}));
  REQUIRE_NOTHROW(ms_deform_attn(value, shapes, {0, 6}, loc, attn));
  REQUIRE_THROWS_AS(ms_deform_attn(value, shapes, {0, 5}, loc, attn), Error);  // bad start
  REQUIRE_THROWS_AS(ms_deform_attn(value, shapes, {0}, loc, attn), Error);     // too few
  REQUIRE_THROWS_AS(ms_deform_attn(value, {{2, 3}, {2, 2}}, {0, 6}, loc, attn), Error);  // S
  REQUIRE_THROWS_AS(ms_deform_attn(value, {{2, 3}, {0, 2}}, {0, 6}, loc, attn), Error);
  REQUIRE_THROWS_AS(
      ms_deform_attn(Var<float>(Tensor<float>::zeros({1, 8, 8})), shapes, {0, 6}, loc, attn),
      Error);
  REQUIRE_THROWS_AS(ms_deform_attn(value, shapes, {0, 6},
                                   Var<float>(Tensor<float>::zeros({1, 5, 2, 3, 3, 2})), attn),
                    Error);  // levels of the locations
  REQUIRE_THROWS_AS(
      ms_deform_attn(value, shapes, {0, 6}, loc, Var<float>(Tensor<float>::zeros({1, 5, 2, 2, 2}))),
      Error);  // points of the weights
  try {
    ms_deform_attn(value, shapes, {0, 5}, loc, attn);
  } catch (const Error& e) {
    REQUIRE_THAT(e.what(), Catch::Contains("level_start_index[1] is 5, expected 6"));
  }
}
