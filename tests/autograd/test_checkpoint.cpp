// Tests for psalm/autograd/checkpoint.hpp: a checkpointed block gives the value and the input
// and parameter gradients of the same block run directly, records one tape entry, records none
// when nothing needs a gradient, and an error in the recomputation reaches backward's caller.
#include <memory>

#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;

namespace {

/// tanh(x w) * x + b: reads a parameter besides x, and x twice.
Var<double> block(const Var<double>& x, const Var<double>& w, const Var<double>& b) {
  return tanh(matmul(x, w)) * x + b;  // (R, C)
}

}  // namespace

TEST_CASE("checkpoint: same value and gradients as the block itself, one tape entry",
          "[autograd][checkpoint]") {
  const Tensor<double> x0 = Tensor<double>::randn({3, 4}, 51),
                       w0 = Tensor<double>::randn({4, 4}, 52), b0 = Tensor<double>::randn({4}, 53),
                       probe = Tensor<double>::randn({3, 4}, 54);
  auto grads = [&](bool checkpointed) {
    Var<double> x = Var<double>::parameter(x0.clone()), w = Var<double>::parameter(w0.clone()),
                b = Var<double>::parameter(b0.clone());
    Var<double> y;
    if (checkpointed) {
      y = checkpoint([w, b](const Var<double>& xi) { return block(xi, w, b); }, x,
                     std::vector<Var<double>>{w, b});
      CHECK(Tape::current().size() == 1);  // the block's ops were not recorded
    } else {
      y = block(x, w, b);
    }
    const Tensor<double> value = y.value().clone();
    backward(sum(y * Var<double>(probe)));
    return std::vector<Tensor<double>>{value, x.grad(), w.grad(), b.grad()};
  };
  const auto direct = grads(false), checkpointed = grads(true);
  for (std::size_t i = 0; i < direct.size(); ++i) {
    INFO("tensor " << i << " (value, d_x, d_w, d_b)");
    testing::require_close(checkpointed[i], direct[i], testing::tol::f64_rtol,
                           testing::tol::f64_atol);
  }
}

TEST_CASE("checkpoint: nothing recorded without gradients; errors reach backward's caller",
          "[autograd][checkpoint]") {
  const Var<double> w(Tensor<double>::randn({2, 2}, 55)), b(Tensor<double>::zeros({2}));
  {
    NoGrad guard;
    const Var<double> y = checkpoint([w, b](const Var<double>& xi) { return block(xi, w, b); },
                                     Var<double>::parameter(Tensor<double>::ones({2, 2})),
                                     std::vector<Var<double>>{w, b});
    CHECK(!y.requires_grad());
    CHECK(Tape::current().size() == 0);
  }
  // The block fails when it runs again in backward (on the helper thread).
  auto calls = std::make_shared<int>(0);
  const Var<double> x = Var<double>::parameter(Tensor<double>::ones({2, 2}));
  const Var<double> y = checkpoint(
      [calls](const Var<double>& xi) {
        if ((*calls)++ > 0) fail("block: recomputation failed");
        return xi * 2.0;
      },
      x, std::vector<Var<double>>{});
  CHECK_THROWS_WITH(backward(sum(y)), Catch::Contains("recomputation failed"));
  Tape::current().clear();
}
