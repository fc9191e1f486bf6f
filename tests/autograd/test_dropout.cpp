// Tests for psalm/autograd/ops/dropout.hpp: dropout and drop_path gradients against finite
// differences in double (the mask is fixed by the seed; non-contiguous input), the gradient
// equal to the forward mask, keep rates, whole-sample drop_path, eval-mode identity and
// seeding. There is no PyTorch parity: PyTorch's generator draws other masks by design.
#include "op_check.hpp"
#include "psalm/autograd/ops/dropout.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("dropout: backward matches finite differences and uses the forward mask",
          "[autograd][dropout]") {
  const auto x = Tensor<double>::randn({5, 4, 3}, 111).permute({2, 0, 1});  // (3, 5, 4)
  const DropoutOptions opt{.p = 0.4, .rng = {5, 1}};
  check_gradients([&](const Vars<double>& v) { return dropout(v[0], opt); }, {x});
  check_gradients(
      [&](const Vars<double>& v) {
        return drop_path(v[0], {.p = 0.5, .rng = {6, 2}});
      },
      {x});
  // d_x is d_y where the output kept x, 0 where it dropped it, times 1 / (1 - p).
  const auto leaf = Var<double>::parameter(Tensor<double>::ones({1000}));
  const Var<double> y = dropout(leaf, opt);
  const Tensor<double> d_y = Tensor<double>::randn({1000}, 112);
  backward(y, d_y);
  for (std::int64_t i = 0; i < 1000; ++i)
    REQUIRE(leaf.grad().item({i}) ==
            Approx(y.value().item({i}) * d_y.item({i})).epsilon(tol::f64_ulps));
}

TEST_CASE("dropout: drops a fraction p of elements and scales the rest by 1 / (1 - p)",
          "[autograd][dropout]") {
  const std::int64_t n = 20000;
  const Var<float> x(Tensor<float>::full({n}, 3.0f));
  for (double p : {0.1, 0.5, 0.9}) {
    const std::vector<float> y = dropout(x, {.p = p, .rng = {42, 0}}).value().to_vector();
    std::int64_t dropped = 0;
    for (float v : y) {
      REQUIRE((v == 0.0f || v == Approx(3.0 / (1.0 - p)).epsilon(tol::f32_ulps)));
      dropped += v == 0.0f;
    }
    REQUIRE(std::fabs(dropped - p * n) < 5 * std::sqrt(n * p * (1 - p)));
  }
  REQUIRE(psalm::sum(dropout(x, {.p = 1.0}).value()).item() == 0.0f);
}

TEST_CASE("drop_path: keeps or drops whole samples", "[autograd][dropout]") {
  const Var<float> x(Tensor<float>::randn({400, 3, 2}, 113));
  const Tensor<float> y = drop_path(x, {.p = 0.25, .rng = {7, 3}}).value();
  int dropped = 0;
  for (std::int64_t s = 0; s < 400; ++s) {
    const bool zero = y.item({s, 0, 0}) == 0.0f;
    dropped += zero;
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t j = 0; j < 2; ++j)
        REQUIRE(y.item({s, i, j}) ==
                Approx(zero ? 0.0f : x.value().item({s, i, j}) / 0.75f).margin(tol::f32_atol));
  }
  REQUIRE(std::fabs(dropped - 100) < 5 * std::sqrt(400 * 0.25 * 0.75));
}

TEST_CASE("dropout: identity in eval mode and for p = 0; same seed, same mask",
          "[autograd][dropout]") {
  const auto x = Var<float>::parameter(Tensor<float>::randn({4, 8}, 114));
  const std::size_t before = Tape::current().size();
  const Var<float> eval = dropout(x, {.p = 0.5, .training = false});
  REQUIRE(eval.value().data() == x.value().data());
  REQUIRE(drop_path(x, {.p = 0.0}).value().data() == x.value().data());
  REQUIRE(Tape::current().size() == before);
  const DropoutOptions opt{.p = 0.5, .rng = {11, 4}};
  const auto a = dropout(x, opt).value().to_vector(), b = dropout(x, opt).value().to_vector();
  REQUIRE(a == b);
  REQUIRE(dropout(x, {.p = 0.5, .rng = {11, 5}}).value().to_vector() != a);
  Tape::current().clear();
  REQUIRE_THROWS_AS(dropout(x, {.p = 1.5}), Error);
  REQUIRE_THROWS_AS(drop_path(x, {.p = -0.1}), Error);
}
