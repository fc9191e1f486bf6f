// Tests for psalm/autograd/no_grad.hpp: NoGrad stops recording, nests, and restores the mode.
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;

TEST_CASE("no_grad: ops inside NoGrad record nothing and give Vars without gradients",
          "[autograd][no_grad]") {
  auto w = Var<float>::parameter(Tensor<float>::ones({3}));
  const std::size_t before = Tape::current().size();
  {
    NoGrad guard;
    REQUIRE_FALSE(GradMode::enabled());
    const auto y = exp(w * w);
    REQUIRE_FALSE(y.requires_grad());
    REQUIRE(Tape::current().size() == before);
    REQUIRE_THROWS_AS(backward(sum(y)), psalm::Error);
  }
  REQUIRE(GradMode::enabled());
  const auto y = w * w;
  REQUIRE(y.requires_grad());
  REQUIRE(Tape::current().size() == before + 1);
  Tape::current().clear();
}

TEST_CASE("no_grad: scopes nest and restore the previous mode", "[autograd][no_grad]") {
  {
    NoGrad outer;
    {
      NoGrad inner;
      REQUIRE_FALSE(GradMode::enabled());
    }
    REQUIRE_FALSE(GradMode::enabled());
  }
  REQUIRE(GradMode::enabled());
}
