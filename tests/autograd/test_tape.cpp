// Tests for psalm/autograd/tape.hpp: entries recorded in execution order, backward runs and
// releases them, errors for misuse, view gradients routed to their base, and memory: after a
// training step's backward, live bytes return to their level before the forward.
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;

TEST_CASE("tape: records one entry per op and is empty after backward", "[autograd][tape]") {
  Tape& tape = Tape::current();
  tape.clear();
  auto w = Var<float>::parameter(Tensor<float>::ones({2, 2}));
  const Var<float> c(Tensor<float>::ones({2, 2}));
  const auto y = exp(w * c);
  REQUIRE(tape.size() == 2);
  const auto z = c * c;  // no input requires a gradient: nothing recorded
  REQUIRE(tape.size() == 2);
  const auto loss = sum(y);
  REQUIRE(tape.size() == 3);
  backward(loss);
  REQUIRE(tape.size() == 0);
  REQUIRE_THROWS_AS(backward(loss), psalm::Error);  // its entries are gone
  REQUIRE_FALSE(z.requires_grad());
}

TEST_CASE("tape: a non-scalar output needs an explicit gradient", "[autograd][tape]") {
  auto w = Var<double>::parameter(Tensor<double>::from_data({1.0, 2.0}, {2}));
  const auto y = w * w;
  REQUIRE_THROWS_AS(backward(y), psalm::Error);
  REQUIRE_THROWS_AS(backward(y, Tensor<double>::ones({3})), psalm::Error);
  backward(y, Tensor<double>::from_data({1.0, 10.0}, {2}));
  REQUIRE(w.grad().to_vector() == std::vector<double>{2.0, 40.0});
}

TEST_CASE("tape: gradients of views reach their base through slices and permutes",
          "[autograd][tape]") {
  auto base = Var<double>::parameter(Tensor<double>::arange(6).reshape({2, 3}));
  const auto view = slice(permute(base, {1, 0}), 0, 1, 3);  // rows 1..2 of the transpose
  backward(sum(view * view));                               // d = 2 x on columns 1 and 2
  REQUIRE(base.grad().to_vector() == std::vector<double>{0, 2, 4, 0, 8, 10});
}

TEST_CASE("tape: clear() drops a recorded forward", "[autograd][tape]") {
  auto w = Var<float>::parameter(Tensor<float>::ones({4}));
  const auto y = w * w;
  REQUIRE(Tape::current().size() > 0);
  Tape::current().clear();
  REQUIRE(Tape::current().size() == 0);
  REQUIRE_THROWS_AS(backward(y, Tensor<float>::ones({4})), psalm::Error);  // producer gone
  backward(sum(y));  // runs sum's entry only: y's producer was dropped, so w gets nothing
  REQUIRE_FALSE(w.grad().defined());
}

TEST_CASE("tape: after backward, memory returns to its level before the forward",
          "[autograd][tape][memory]") {
  // Two-layer MLP: (N, 8) -> linear 32 -> layer_norm -> gelu -> linear 4 -> log_softmax.
  auto w1 = Var<float>::parameter(Tensor<float>::randn({32, 8}, 1, 0.0, 0.3));
  auto b1 = Var<float>::parameter(Tensor<float>::zeros({32}));
  auto g = Var<float>::parameter(Tensor<float>::ones({32}));
  auto w2 = Var<float>::parameter(Tensor<float>::randn({4, 32}, 2, 0.0, 0.3));
  const Var<float> x(Tensor<float>::randn({64, 8}, 3));
  auto step = [&]() {
    const auto h = gelu(layer_norm(linear(x, w1, b1), g));
    const auto loss = mean(log_softmax(linear(h, w2)));
    backward(loss);
  };
  step();  // gradients exist from now on, so a step allocates nothing that outlives it
  const std::int64_t before = Memory<cpu>::stats().live_bytes;
  Memory<cpu>::reset_peak();
  step();
  const MemoryStats after = Memory<cpu>::stats();
  // The forward kept activations alive (peak well above the start) and backward freed them.
  REQUIRE(after.peak_bytes > before + 64 * 32 * 4 * 3);
  REQUIRE(after.live_bytes == before);
  REQUIRE(Tape::current().size() == 0);
}
