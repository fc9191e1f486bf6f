// Tests for psalm/kernels/attention.hpp: the masked softmax row body of attention against a
// direct evaluation in double (additive and boolean masks read through broadcast strides), its
// log-sum-exp, rows blocked everywhere, and Swin's window rows (relative position bias and the
// -100 shifted-window mask from region ids).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "psalm/kernels/attention.hpp"
#include "psalm/tensor.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

TEST_CASE("attention rows: masked softmax and log-sum-exp equal a direct evaluation",
          "[kernels][attention]") {
  const std::int64_t b = 2, h = 3, lq = 2, lk = 5, rows = b * h * lq;
  const auto s0 = Tensor<double>::randn({b, h, lq, lk}, 1);
  const auto add = Tensor<double>::randn({b, 1, lq, lk}, 2);  // broadcast over heads
  auto block = Tensor<std::uint8_t>::zeros({lk});             // broadcast over everything
  block.select(0, 3).fill(1);
  const auto add_e = add.expand(Shape{b, h, lq, lk});
  const auto block_e = block.expand(Shape{b, h, lq, lk});
  Tensor<double> p = s0.clone(), lse(Shape{rows});
  kernels::AttentionSoftmaxRows<double> body{
      p.data(),
      lse.data(),
      add.data(),
      {add_e.strides()[0], add_e.strides()[1], add_e.strides()[2], add_e.strides()[3]},
      block.data(),
      {block_e.strides()[0], block_e.strides()[1], block_e.strides()[2], block_e.strides()[3]},
      h,
      lq,
      lk};
  Executor<cpu>::launch(rows, body);
  for (std::int64_t bi = 0; bi < b; ++bi)
    for (std::int64_t hi = 0; hi < h; ++hi)
      for (std::int64_t i = 0; i < lq; ++i) {
        std::vector<double> e(lk);
        double total = 0;
        for (std::int64_t j = 0; j < lk; ++j) {
          e[j] = j == 3 ? 0.0 : std::exp(s0.item({bi, hi, i, j}) + add.item({bi, 0, i, j}));
          total += e[j];
        }
        const std::int64_t r = (bi * h + hi) * lq + i;
        REQUIRE(lse.item({r}) == Approx(std::log(total)).epsilon(tol::f64_short));
        for (std::int64_t j = 0; j < lk; ++j)
          REQUIRE(p.item({bi, hi, i, j}) ==
                  Approx(e[j] / total).epsilon(tol::f64_short).margin(tol::denormal_margin));
      }
}

TEST_CASE("attention rows: a row blocked everywhere gives zeros and lse -inf",
          "[kernels][attention]") {
  const std::int64_t lk = 4;
  auto s = Tensor<float>::randn({2, lk}, 3);
  auto add = Tensor<float>::zeros({2, lk});
  add.select(0, 0).fill(-std::numeric_limits<float>::infinity());  // row 0: -inf everywhere
  auto block = Tensor<std::uint8_t>::zeros({2, lk});
  block.select(0, 1).fill(1);  // row 1: blocked everywhere
  Tensor<float> lse(Shape{2});
  for (int which = 0; which < 2; ++which) {
    kernels::AttentionSoftmaxRows<float> body{s.data(),
                                              lse.data(),
                                              which == 0 ? add.data() : nullptr,
                                              {0, 0, lk, 1},
                                              which == 1 ? block.data() : nullptr,
                                              {0, 0, lk, 1},
                                              1,
                                              2,
                                              lk};
    body(which);
    for (std::int64_t j = 0; j < lk; ++j) REQUIRE(s.item({which, j}) == 0.0f);
    REQUIRE(lse.item({which}) == -std::numeric_limits<float>::infinity());
  }
}

TEST_CASE("window attention rows: bias and the -100 region mask, softmax in place",
          "[kernels][attention]") {
  // 4 windows (2 images of nW = 2), 2 heads, N = 5 tokens; window w reads regions[w mod 2].
  const std::int64_t nw = 2, bw = 4, heads = 2, n = 5, rows = bw * heads * n;
  const auto s0 = Tensor<double>::randn({bw, heads, n, n}, 5);
  const auto bias = Tensor<double>::randn({heads, n, n}, 6);
  const std::vector<std::uint8_t> regions{0, 0, 1, 1, 2, 3, 3, 3, 0, 4};  // (nW, N)
  for (bool shifted : {false, true}) {
    INFO("shifted " << shifted);
    Tensor<double> p = s0.clone();
    Executor<cpu>::launch(
        rows, kernels::WindowSoftmaxRows<double>{p.data(), bias.data(),
                                                 shifted ? regions.data() : nullptr, heads, n, nw});
    // Reference row by row: v_j = score + bias (+ -100 across regions), p_j = exp(v_j - lse).
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t i = r % n, h = (r / n) % heads, w = r / (n * heads);
      const std::uint8_t* reg = regions.data() + (w % nw) * n;
      std::vector<double> v(n);
      double lse = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        v[j] = s0.item({w, h, i, j}) + bias.item({h, i, j}) +
               (shifted && reg[i] != reg[j] ? -100.0 : 0.0);
        lse += std::exp(v[j]);
      }
      lse = std::log(lse);
      for (std::int64_t j = 0; j < n; ++j)
        REQUIRE(p.item({w, h, i, j}) ==
                Approx(std::exp(v[j] - lse)).epsilon(tol::f64_row).margin(tol::denormal_margin));
    }
  }
}
