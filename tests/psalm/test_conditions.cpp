// Tests of psalm/psalm/conditions.hpp: span_mean against hand-computed means (spans of
// different lengths, position 0 outside every span), gather_positions against the rows it
// names, both gradients against finite differences in double (non-contiguous hidden states),
// and the errors for a bad span index, an empty span and a hidden state of the wrong rank.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "autograd/op_check.hpp"
#include "psalm/autograd.hpp"
#include "psalm/psalm/conditions.hpp"
#include "support/error_of.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
using testing::check_gradients;
using testing::error_of;
using testing::Vars;
namespace tol = psalm::testing::tol;

namespace {

// (B, L) = (2, 5): sample 0 has span 1 at 1..2 and span 2 at 3..4; sample 1 has span 2 at 0,
// span 1 at 1..3, and position 4 outside both.
const Tensor<std::int64_t> kSpans =
    Tensor<std::int64_t>::from_data({0, 1, 1, 2, 2, 2, 1, 1, 1, 0}, Shape{2, 5});

}  // namespace

// The means come from a (B, S, L) x (B, L, D) product: double sums in another order.
TEST_CASE("span_mean: the mean of each span's rows, every sample on its own",
          "[psalm][conditions]") {
  const auto h = Tensor<double>::randn({2, 5, 3}, 11);  // (B, L, D)
  const Tensor<double> got =
      span_mean(autograd::Var<double>(h), kSpans, 2, "test").value();  // (B, S, D)
  REQUIRE(got.shape() == Shape{2, 2, 3});
  for (std::int64_t d = 0; d < 3; ++d) {
    INFO("feature " << d);
    CHECK(got.item({0, 0, d}) == Approx((h.item({0, 1, d}) + h.item({0, 2, d})) / 2)
                                     .epsilon(tol::f64_rtol)
                                     .margin(tol::f64_atol));
    CHECK(got.item({0, 1, d}) == Approx((h.item({0, 3, d}) + h.item({0, 4, d})) / 2)
                                     .epsilon(tol::f64_rtol)
                                     .margin(tol::f64_atol));
    CHECK(got.item({1, 0, d}) ==
          Approx((h.item({1, 1, d}) + h.item({1, 2, d}) + h.item({1, 3, d})) / 3)
              .epsilon(tol::f64_rtol)
              .margin(tol::f64_atol));
    CHECK(got.item({1, 1, d}) ==
          Approx(h.item({1, 0, d})).epsilon(tol::f64_rtol).margin(tol::f64_atol));
  }
}

TEST_CASE("span_mean and gather_positions: gradients match finite differences",
          "[psalm][conditions]") {
  // (2, 5, 3) stored as a permuted view.
  const auto h = Tensor<double>::randn({3, 2, 5}, 12).permute({1, 2, 0});
  check_gradients([](const Vars<double>& v) { return span_mean(v[0], kSpans, 2, "test"); }, {h});
  // Rows 1, 7 (sample 1, position 2) and 7 again: a repeated row accumulates its gradient.
  check_gradients(
      [](const Vars<double>& v) {
        return gather_positions(v[0], {1, 7, 7}, {3, 3});
      },
      {h});
}

TEST_CASE("gather_positions: the named rows of the flattened (B L, D) states, reshaped",
          "[psalm][conditions]") {
  const auto h = Tensor<float>::randn({2, 4, 3}, 13);  // (B, L, D)
  const Tensor<float> got =
      gather_positions(autograd::Var<float>(h), {6, 0, 3, 5}, {2, 2, 3}).value();  // (2, 2, 3)
  REQUIRE(got.shape() == Shape{2, 2, 3});
  const std::vector<std::int64_t> flat = {6, 0, 3, 5};
  for (std::int64_t k = 0; k < 4; ++k)
    for (std::int64_t d = 0; d < 3; ++d)
      CHECK(got.item({k / 2, k % 2, d}) == h.item({flat[k] / 4, flat[k] % 4, d}));
}

TEST_CASE("span_mean: a bad span index, an empty span or a wrong rank is an error naming it",
          "[psalm][conditions]") {
  const autograd::Var<double> h(Tensor<double>::randn({2, 5, 3}, 14));
  CHECK_THAT(error_of([&] { (void)span_mean(h, kSpans, 3, "classes"); }),
             Catch::Contains("classes: span 2 of sample 0 has no positions"));
  const auto bad = Tensor<std::int64_t>::from_data({0, 1, 3, 2, 2, 2, 1, 1, 1, 0}, Shape{2, 5});
  CHECK_THAT(error_of([&] { (void)span_mean(h, bad, 2, "classes"); }),
             Catch::Contains("span index 3 at sample 0 position 2 is outside [0, 2]"));
  const autograd::Var<double> flat(Tensor<double>::randn({5, 3}, 15));
  CHECK_THAT(error_of([&] { (void)span_mean(flat, kSpans, 2, "classes"); }),
             Catch::Contains("hidden states must be (B, L, D)"));
  CHECK_THAT(error_of([&] {
               (void)gather_positions(flat, {0}, {1, 3});
             }),
             Catch::Contains("gather_positions: hidden states must be (B, L, D)"));
}
