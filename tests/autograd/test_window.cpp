// Tests for psalm/autograd/ops/{window, window_attention}.hpp: window_partition /
// window_reverse and window_self_attention backward against finite differences in double on
// strided inputs; window_self_attention equals scaled_dot_product_attention given the bias and
// the materialised shifted-window mask as one additive mask; shapes are checked with messages.
// (Swin's own tests, tests/swin/test_swin_parts.cpp, compare the ops with upstream's recipe.)
#include <array>

#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("window ops: partition and reverse backward match finite differences",
          "[autograd][window]") {
  for (const auto& [h, w, win, shift] :
       std::vector<std::array<std::int64_t, 4>>{{3, 4, 2, 1}, {2, 3, 4, 2}, {4, 4, 2, 0}}) {
    INFO("map " << h << "x" << w << ", window " << win << ", shift " << shift);
    const WindowGrid g(h, w, win, shift);
    const auto x = Tensor<double>::randn({2, w, h, 2}, 31).permute({0, 2, 1, 3});  // (2, H, W, 2)
    check_gradients([&](const Vars<double>& v) { return window_partition(v[0], g); }, {x});
    const auto windows =
        Tensor<double>::randn({2 * g.num_windows(), 2, win * win}, 32).transpose(1, 2);
    check_gradients([&](const Vars<double>& v) { return window_reverse(v[0], g); }, {windows});
  }
}

TEST_CASE("window ops: window_self_attention equals attention with bias + shift mask added",
          "[autograd][window]") {
  const WindowGrid g(5, 6, 3, 1);  // 2 x 2 windows on the padded 6 x 6 map
  const std::int64_t b = 2, heads = 2, d = 3, c = heads * d, n = 9, nw = 4, bw = b * nw;
  const auto qkv = Tensor<double>::randn({bw, n, 3 * c}, 33);
  const auto bias = Tensor<double>::randn({heads, n, n}, 34);
  const Tensor<double> mask = cast<double>(shifted_window_mask(g));  // (nW, N, N)
  const Var<double> fused = window_self_attention(Var<double>(qkv), Var<double>(bias),
                                                  window_regions(g), heads, 0.25);  // (Bw, N, C)
  // The same maths through the general attention op: (Bw, H, N, D) heads, one additive mask.
  const Tensor<double> parts = qkv.view({bw, n, 3, heads, d}).permute({2, 0, 3, 1, 4});
  AttentionMask<double, cpu> m;
  Tensor<double> added(Shape{b, nw, heads, n, n});  // (B, nW, H, N, N): window w reads mask[w]
  added.assign(bias.view({1, 1, heads, n, n}) + mask.view({1, nw, 1, n, n}));
  m.additive = added.view({bw, heads, n, n});
  const Var<double> general =
      scaled_dot_product_attention(Var<double>(parts.select(0, 0)), Var<double>(parts.select(0, 1)),
                                   Var<double>(parts.select(0, 2)), m, 0.25);  // (Bw, H, N, D)
  testing::require_close(fused.value(),
                         general.value().permute({0, 2, 1, 3}).contiguous().view({bw, n, c}),
                         testing::tol::f64_rtol, testing::tol::f64_atol);
}

TEST_CASE("window ops: window_self_attention backward matches finite differences",
          "[autograd][window]") {
  const WindowGrid g(4, 4, 3, 1);  // padded to 6 x 6, shifted: 4 windows
  const Tensor<std::uint8_t> regions = window_regions(g);
  const auto qkv = Tensor<double>::randn({4, 12, 9}, 35).transpose(1, 2);  // (4, 9, 12) view
  const auto bias = Tensor<double>::randn({2, 9, 9}, 36);
  for (bool shifted : {false, true}) {
    INFO("shifted " << shifted);
    check_gradients(
        [&](const Vars<double>& v) {
          return window_self_attention(v[0], v[1], shifted ? regions : Tensor<std::uint8_t>(), 2);
        },
        {qkv, bias});
  }
}

TEST_CASE("window ops: wrong shapes are named", "[autograd][window]") {
  const WindowGrid g(4, 4, 2, 1);
  const Var<double> x(Tensor<double>::zeros({1, 4, 5, 2}));
  CHECK_THROWS_WITH(window_partition(x, g), Catch::Contains("window_partition"));
  CHECK_THROWS_WITH(window_reverse(Var<double>(Tensor<double>::zeros({3, 4, 2})), g),
                    Catch::Contains("window_reverse"));
  const Var<double> qkv(Tensor<double>::zeros({4, 4, 12})), bias(Tensor<double>::zeros({2, 4, 4}));
  CHECK_THROWS_WITH(window_self_attention(qkv, Var<double>(Tensor<double>::zeros({2, 3, 3})),
                                          Tensor<std::uint8_t>(), 2),
                    Catch::Contains("bias"));
  CHECK_THROWS_WITH(window_self_attention(qkv, bias, Tensor<std::uint8_t>::zeros({3, 4}), 2),
                    Catch::Contains("regions"));
  CHECK_THROWS_WITH(WindowGrid(4, 4, 2, 2), Catch::Contains("shift"));
}
