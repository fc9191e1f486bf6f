// Phi backward: the gradient of every parameter and of inputs_embeds against central finite
// differences in double on a tiny config (1 layer, hidden 8, 2 heads, with padding); the
// rotary op's backward; activation checkpointing gives the same gradients while keeping far
// fewer bytes alive between forward and backward.
#include <catch2/catch.hpp>

#include <vector>

#include "phi/phi_fixtures.hpp"
#include "psalm/autograd.hpp"
#include "support/gradcheck.hpp"
#include "support/module_gradcheck.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
using namespace psalm::testing;
using namespace psalm::testing::phi;
using autograd::Var;

TEST_CASE("phi backward: every parameter and inputs_embeds match finite differences (double)",
          "[phi]") {
  mp::PhiConfig cfg = mp::PhiConfig::tiny();  // 1 layer, hidden 8, 2 heads, rotary 2 of 4
  nn::InitRng rng{17};
  mp::PhiForCausalLM<double> lm(cfg, rng);
  // Larger LayerNorm affine and biases than the defaults, so their gradients are tested.
  for (auto& [name, p] : lm.named_parameters())
    p.value().assign(p.value() + Tensor<double>::randn(p.shape(), 5, 0.0, 0.3));
  const Var<double> embeds =
      Var<double>::parameter(Tensor<double>::randn({2, 4, 8}, 6));  // (B, L, D)
  const Tensor<std::int64_t> mask =
      Tensor<std::int64_t>::from_data({1, 1, 1, 1, 1, 1, 0, 0}, Shape{2, 4});
  const Tensor<double> w = Tensor<double>::randn({2, 4, cfg.vocab_size}, 7);  // loss weights
  // The embedding table is not used on this path.
  check_module_gradients(
      lm, {{"inputs_embeds", embeds}},
      [&] { return autograd::sum(lm.forward(embeds, mask).logits * Var<double>(w)); },
      {.rtol = tol::fd_rtol, .atol = tol::fd_module_atol, .skip = {"model.embed_tokens.weight"}});
}

TEST_CASE("phi rotary: backward matches finite differences and rotation keeps the norm", "[phi]") {
  mp::PhiConfig cfg = mp::PhiConfig::tiny();
  cfg.hidden_size = 12;
  cfg.num_attention_heads = 2;  // head_dim 6; rotary int(6 * 0.67) = 4
  cfg.partial_rotary_factor = 0.67;
  REQUIRE(cfg.rotary_dim() == 4);
  const auto tables = mp::RotaryTables<double>::make(cfg, 3, 5);  // positions 3..7
  Var<double> x = Var<double>::parameter(Tensor<double>::randn({2, 5, 2, 6}, 8));
  const Tensor<double> w = Tensor<double>::randn({2, 5, 2, 6}, 9);
  autograd::backward(autograd::sum(mp::apply_rotary(x, tables) * Var<double>(w)));
  const auto x0 = x.value().to_vector();
  const auto numeric = numeric_gradient(
      [&](const std::vector<double>& v) {
        const Var<double> xv(Tensor<double>::from_data(v, x.shape()));
        return autograd::sum(mp::apply_rotary(xv, tables) * Var<double>(w)).value().item();
      },
      x0);
  require_gradients_match(x.grad().to_vector(), numeric, 1e-7, 1e-8);
  // Rotated pairs keep their norm; features past the rotary dimensions pass through.
  const Tensor<double> y = mp::apply_rotary(Var<double>(x.value()), tables).value();
  for (std::int64_t d = 0; d < 2; ++d) {
    const double a = x.value().item({1, 2, 1, d}), b = x.value().item({1, 2, 1, d + 2});
    const double c = y.item({1, 2, 1, d}), e = y.item({1, 2, 1, d + 2});
    CHECK(c * c + e * e == Approx(a * a + b * b).epsilon(tol::f64_rtol));
  }
  CHECK(y.item({0, 1, 0, 4}) == x.value().item({0, 1, 0, 4}));
  CHECK(y.item({0, 1, 0, 5}) == x.value().item({0, 1, 0, 5}));
}

TEST_CASE("phi checkpointing: same gradients, far fewer bytes kept between forward and backward",
          "[phi]") {
  mp::PhiConfig cfg = mp::PhiConfig::small();
  cfg.num_hidden_layers = 4;
  Tensor<std::int64_t> tokens(Shape{2, 48});
  for (std::int64_t i = 0; i < tokens.numel(); ++i)
    tokens.data()[i] = (i * 37 + 11) % cfg.vocab_size;
  auto run = [&](bool checkpointing, std::int64_t& kept_bytes) {
    nn::InitRng rng{21};
    mp::PhiModel<float> model(cfg, rng);
    model.gradient_checkpointing = checkpointing;
    const std::int64_t before = Memory<cpu>::stats().live_bytes;
    const Var<float> hidden = model(tokens);  // (2, 48, 64)
    const Var<float> loss = autograd::mean(hidden * hidden);
    kept_bytes = Memory<cpu>::stats().live_bytes - before;
    autograd::backward(loss);
    std::vector<Tensor<float>> grads;
    for (auto& [n, p] : model.named_parameters()) {
      INFO(n);
      REQUIRE(p.grad().defined());
      grads.push_back(p.grad().clone());
    }
    return grads;
  };
  std::int64_t plain_bytes = 0, checkpoint_bytes = 0;
  const auto plain = run(false, plain_bytes);
  const auto recomputed = run(true, checkpoint_bytes);
  REQUIRE(plain.size() == recomputed.size());
  for (std::size_t i = 0; i < plain.size(); ++i) require_close(recomputed[i], plain[i], 1e-5, 1e-7);
  INFO("bytes alive after forward: plain " << plain_bytes << ", checkpointed " << checkpoint_bytes);
  CHECK(checkpoint_bytes * 4 < plain_bytes);
}
