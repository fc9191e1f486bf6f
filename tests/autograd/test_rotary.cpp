// Tests for psalm/autograd/ops/rotary.hpp: the tables hold cos / sin of position *
// theta^(-2i / R) (float32-rounded angles, as transformers), apply_rotary's backward matches
// finite differences in double on a strided input, a rotation keeps every rotated pair's norm,
// and tables that do not fit are refused with a message.
#include <cmath>

#include "op_check.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

TEST_CASE("rotary: tables, gradients, norms kept", "[autograd][rotary]") {
  const auto tables = RotaryTables<double>::make(4, 10000.0, 2, 3);  // positions 2..4, (3, 2)
  REQUIRE(tables.cos.shape() == Shape{3, 2});
  // Position 3, frequency 1: angle 3 * 10000^(-2/4) = 0.03 (rounded through float32).
  const float angle = 3.0f * (1.0f / static_cast<float>(std::pow(10000.0, 0.5f)));
  CHECK(tables.cos.item({1, 1}) == std::cos(double{angle}));
  CHECK(tables.sin.item({1, 0}) == std::sin(3.0));

  const auto x = Tensor<double>::randn({2, 2, 3, 6}, 41).permute({0, 2, 1, 3});  // (2, 3, 2, 6)
  const auto t2 = RotaryTables<double>::make(4, 10000.0, 0, 3);
  check_gradients([&](const Vars<double>& v) { return apply_rotary(v[0], t2); }, {x});

  const Tensor<double> y = apply_rotary(Var<double>(x), t2).value();  // (2, 3, 2, 6)
  for (std::int64_t l = 0; l < 3; ++l)
    for (std::int64_t i = 0; i < 2; ++i) {  // pair (i, i + 2) of head 1 of batch 1
      const double before = std::hypot(x.item({1, l, 1, i}), x.item({1, l, 1, i + 2}));
      const double after = std::hypot(y.item({1, l, 1, i}), y.item({1, l, 1, i + 2}));
      CHECK(after == Approx(before).epsilon(tol::f64_short));
    }
  CHECK(y.item({1, 2, 1, 5}) == x.item({1, 2, 1, 5}));  // past rotary_dim: copied

  CHECK_THROWS_WITH(apply_rotary(Var<double>(Tensor<double>::zeros({1, 4, 2, 6})), t2),
                    Catch::Contains("apply_rotary"));
  CHECK_THROWS_WITH(RotaryTables<double>::make(3, 10000.0, 0, 3), Catch::Contains("rotary_dim"));
}
