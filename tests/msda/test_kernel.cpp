// Tests for psalm/kernels/ms_deform_attn.hpp on the host: the corner table follows
// grid_sample's align_corners=False convention, the forward body gives the same output with
// per-channel calls (the CUDA launch) as with whole-head calls (the CPU launch), and the
// backward bodies agree whether run per query with atomics under the host emulation of a CUDA
// grid (kernels::GridStride) or partitioned per (batch, head) without atomics.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "psalm/backend/cpu/emulate.hpp"
#include "psalm/kernels/launch.hpp"
#include "psalm/kernels/ms_deform_attn.hpp"
#include "psalm/tensor.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using kernels::MSDeformLevels;

namespace {

MSDeformLevels two_levels() {
  MSDeformLevels lv;
  lv.count = 2;
  lv.height[0] = 3, lv.width[0] = 4, lv.start[0] = 0;
  lv.height[1] = 2, lv.width[1] = 1, lv.start[1] = 12;
  return lv;
}

template <class Body>
void run_emulated(std::int64_t n, const Body& body) {
  cpu_backend::emulate_launch(3, 5, kernels::GridStride<Body>{n, body});
}

}  // namespace

TEST_CASE("ms_deform_attn kernel: corners follow grid_sample's align_corners=False pixels",
          "[msda][kernel]") {
  const MSDeformLevels lv = two_levels();
  kernels::MSDeformCorners<double> k;
  // loc (0.5, 0.5) on a 4 x 3 level: pixel (1.5, 1.0): corners (1,1), (2,1), (1,2), (2,2)
  REQUIRE(kernels::ms_deform_corners(lv, 0, 0.5, 0.5, k));
  CHECK(k.token[0] == 1 * 4 + 1);
  CHECK(k.token[1] == 1 * 4 + 2);
  CHECK(k.token[2] == 2 * 4 + 1);
  CHECK(k.token[3] == 2 * 4 + 2);
  CHECK(k.weight[0] == Approx(0.5));
  CHECK(k.weight[1] == Approx(0.5));
  CHECK(k.weight[2] == Approx(0.0));
  // loc (0, 0): pixel (-0.5, -0.5): only corner (0, 0) inside, weight 0.25
  REQUIRE(kernels::ms_deform_corners(lv, 0, 0.0, 0.0, k));
  CHECK(k.token[0] == -1);
  CHECK(k.token[3] == 0);
  CHECK(k.weight[3] == Approx(0.25));
  // second level starts at token 12; fully outside locations report no corners
  REQUIRE(kernels::ms_deform_corners(lv, 1, 0.5, 0.25, k));
  CHECK(k.token[0] == 12);
  CHECK_FALSE(kernels::ms_deform_corners(lv, 0, 1.2, 0.5, k));
  CHECK_FALSE(kernels::ms_deform_corners(lv, 0, 0.5, -0.4, k));
  CHECK_FALSE(kernels::ms_deform_corners(lv, 0, std::nan(""), 0.5, k));
}

TEST_CASE("ms_deform_attn kernel: per-channel and per-head forward calls agree", "[msda][kernel]") {
  const MSDeformLevels lv = two_levels();
  const std::int64_t b = 2, s = 14, m = 3, d = 5, q = 4, p = 2;
  const auto value = Tensor<float>::randn({b, s, m, d}, 1);  // (B, S, M, D)
  const Tensor<float> loc(Tensor<float>::rand({b, q, m, 2, p, 2}, 2) * 1.4f - 0.2f);
  const auto attn = Tensor<float>::rand({b, q, m, 2, p}, 3);       // (B, Q, M, L, P)
  Tensor<float> whole({b, q, m * d}), per_channel({b, q, m * d});  // (B, Q, M*D)
  kernels::MSDeformAttnForward<float> body{
      value.data(), loc.data(), attn.data(), whole.data(), lv, s, q, m, d, p, d};
  for (std::int64_t i = 0; i < b * q * m; ++i) body(i);
  body.out = per_channel.data();
  body.chunk = 1;
  run_emulated(b * q * m * d, body);
  body.chunk = 2;  // uneven chunks (5 = 2 + 2 + 1) cover every channel once
  Tensor<float> chunked({b, q, m * d});
  body.out = chunked.data();
  run_emulated(b * q * m * 3, body);
  const auto w = whole.to_vector(), c1 = per_channel.to_vector(), c2 = chunked.to_vector();
  for (std::size_t i = 0; i < w.size(); ++i) {
    REQUIRE(c1[i] == Approx(w[i]).margin(tol::f32_atol));
    REQUIRE(c2[i] == Approx(w[i]).margin(tol::f32_atol));
  }
  REQUIRE(std::any_of(w.begin(), w.end(), [](float v) { return v != 0.0f; }));
}

TEST_CASE("ms_deform_attn kernel: atomic per-query and per-head backward bodies agree",
          "[msda][kernel]") {
  const MSDeformLevels lv = two_levels();
  const std::int64_t b = 2, s = 14, m = 3, d = 5, q = 6, p = 2;
  const auto value = Tensor<float>::randn({b, s, m, d}, 4);
  const Tensor<float> loc(Tensor<float>::rand({b, q, m, 2, p, 2}, 5) * 1.4f - 0.2f);
  const auto attn = Tensor<float>::rand({b, q, m, 2, p}, 6);
  const auto d_out = Tensor<float>::randn({b, q, m * d}, 7);
  auto dv_a = Tensor<float>::zeros({b, s, m, d}), dv_h = Tensor<float>::zeros({b, s, m, d});
  Tensor<float> dl_a(loc.shape()), dl_h(loc.shape()), da_a(attn.shape()), da_h(attn.shape());
  run_emulated(b * q * m, kernels::MSDeformAttnBackward<float>{
                              value.data(), loc.data(), attn.data(), d_out.data(), dv_a.data(),
                              dl_a.data(), da_a.data(), lv, s, q, m, d, p});
  const kernels::MSDeformAttnBackwardByHead<float> by_head{value.data(),
                                                           loc.data(),
                                                           attn.data(),
                                                           d_out.data(),
                                                           dv_h.data(),
                                                           dl_h.data(),
                                                           da_h.data(),
                                                           lv,
                                                           s,
                                                           q,
                                                           m,
                                                           d,
                                                           p};
  for (std::int64_t i = 0; i < b * m; ++i) by_head(i);
  for (auto [x, y] : {std::pair{&dv_a, &dv_h}, {&dl_a, &dl_h}, {&da_a, &da_h}}) {
    const auto u = x->to_vector(), v = y->to_vector();
    for (std::size_t i = 0; i < u.size(); ++i)
      REQUIRE(u[i] == Approx(v[i]).margin(tol::f32_sum_atol));
  }
}
