// Phi against Hugging Face transformers' PhiForCausalLM (fixtures of
// tools/reference/phi_fixtures.py): hidden states, logits and the gradient of every parameter
// for a scalar loss, on two small random configs (one right-padded batch with partial rotary
// 0.4); the fused query_key_value layout built by torch gives the same outputs; cached greedy
// decoding reproduces transformers' generate.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "phi/phi_fixtures.hpp"
#include "psalm/autograd.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
using namespace psalm::testing;
using namespace psalm::testing::phi;

namespace {

/// Every parameter's gradient against `grad.<name>` of the reference (the embedding as the
/// rows of `grad.embed_ids`, every other row zero).
void require_gradients_match_reference(mp::PhiForCausalLM<float>& lm,
                                       const io::SafetensorsFile& ref) {
  const auto ids = ref.load<std::int64_t>("grad.embed_ids").to_vector();
  int checked = 0;
  for (auto& [name, p] : lm.named_parameters()) {
    INFO("parameter " << name);
    REQUIRE(p.grad().defined());
    if (name == "model.embed_tokens.weight") {
      Tensor<float> g = p.grad().clone();  // (V, D)
      const Tensor<float> want = ref.load<float>("grad.model.embed_tokens.rows");
      for (std::size_t i = 0; i < ids.size(); ++i) {
        require_close(g.select(0, ids[i]).contiguous(),
                      want.select(0, static_cast<std::int64_t>(i)).contiguous(), grad_rtol,
                      grad_atol);
        g.select(0, ids[i]).fill(0.0f);
      }
      require_close(g, Tensor<float>::zeros(g.shape()), 0.0, 0.0);  // unused rows: no gradient
    } else {
      require_close(p.grad(), ref.load<float>("grad." + name), grad_rtol, grad_atol);
    }
    ++checked;
  }
  CHECK(checked == static_cast<int>(lm.named_parameters().size()));
}

}  // namespace

TEST_CASE("phi parity: tiny_a hidden states, logits and every gradient match transformers",
          "[phi]") {
  auto lm = fixture_model("tiny_a");
  const auto ref = fixture_reference("tiny_a");
  const Tensor<std::int64_t> ids = ref.load<std::int64_t>("input_ids");  // (2, 7)
  const auto out = lm.forward(ids);
  require_close(out.last_hidden_state.value(), ref.load<float>("last_hidden_state"), fwd_rtol,
                fwd_atol);
  require_close(out.logits.value(), ref.load<float>("logits"), fwd_rtol, fwd_atol);

  const Tensor<std::int64_t> labels = ref.load<std::int64_t>("labels").reshape({-1});  // (14)
  const auto loss =
      autograd::cross_entropy(autograd::reshape(out.logits, {-1, lm.config().vocab_size}), labels);
  require_close(loss.value().reshape({1}), ref.load<float>("loss"), fwd_rtol, fwd_atol);
  autograd::backward(loss);
  require_gradients_match_reference(lm, ref);
}

TEST_CASE("phi parity: tiny_b (partial rotary 0.4, right padding) matches transformers", "[phi]") {
  auto lm = fixture_model("tiny_b");
  const auto ref = fixture_reference("tiny_b");
  const Tensor<std::int64_t> ids = ref.load<std::int64_t>("input_ids");        // (2, 9)
  const Tensor<std::int64_t> mask = ref.load<std::int64_t>("attention_mask");  // (2, 9)
  REQUIRE(lm.config().rotary_dim() == 6);
  const auto out = lm.forward(ids, mask);
  const Tensor<float> hidden = ref.load<float>("last_hidden_state");
  const Tensor<float> logits = ref.load<float>("logits");
  // Unpadded positions: full row 0 and the first 6 positions of row 1.
  for (auto [b, len] : {std::pair<int, int>{0, 9}, {1, 6}}) {
    require_close(unpadded(out.last_hidden_state.value(), b, len), unpadded(hidden, b, len),
                  fwd_rtol, fwd_atol);
    require_close(unpadded(out.logits.value(), b, len), unpadded(logits, b, len), fwd_rtol,
                  fwd_atol);
  }
  // Padded query rows still see the real keys before them: no NaN, same as transformers.
  require_close(out.logits.value(), logits, fwd_rtol, fwd_atol);

  const autograd::Var<float> w(ref.load<float>("loss_weight"));  // (2, 9, V), 0 on padding
  const auto loss = autograd::sum(out.logits * w);
  require_close(loss.value().reshape({1}), ref.load<float>("loss"), fwd_rtol, tol::f32_grad_atol);
  autograd::backward(loss);
  require_gradients_match_reference(lm, ref);
}

TEST_CASE("phi parity: the fused query_key_value layout from torch gives the same outputs",
          "[phi]") {
  const mp::PhiConfig cfg = fixture_config("tiny_a");
  const auto split = io::SafetensorsFile::open(fixture_dir("tiny_a") + "weights.safetensors");
  const auto fused_qkv = io::SafetensorsFile::open(fixture_dir("tiny_a") + "fused_qkv.safetensors");
  // Our split -> fused conversion equals torch's [heads, 3, head_dim] interleave, bit for bit.
  nn::StateDict<float> split_sd;
  for (const std::string& n : split.names()) split_sd.insert(n, split.load<float>(n));
  const nn::StateDict<float> ours = mp::to_fused_layout(split_sd, cfg.num_attention_heads);
  for (const std::string& n : fused_qkv.names()) {
    INFO(n);
    require_close(ours.at(n), fused_qkv.load<float>(n), 0.0, 0.0);
  }
  REQUIRE_FALSE(ours.contains("model.layers.0.self_attn.q_proj.weight"));
  // A checkpoint in the 4.36 layout: torch's fused tensors instead of q/k/v.
  nn::StateDict<float> checkpoint;
  for (const auto& [n, t] : ours)
    checkpoint.insert(n, fused_qkv.contains(n) ? fused_qkv.load<float>(n) : t);
  REQUIRE(mp::has_fused_qkv(checkpoint));
  nn::InitRng rng{5};
  mp::PhiForCausalLM<float> lm(cfg, rng);
  const auto report =
      nn::load_state_dict(lm, mp::FusedQkvAsSplit(checkpoint, cfg.num_attention_heads));
  CHECK(report.loaded.size() == lm.named_parameters().size());
  const auto ref = fixture_reference("tiny_a");
  autograd::NoGrad no_grad;
  const auto out = lm.forward(ref.load<std::int64_t>("input_ids"));
  require_close(out.logits.value(), ref.load<float>("logits"), fwd_rtol, fwd_atol);
  // And back: fused -> split recovers the original tensors exactly.
  const nn::StateDict<float> back = mp::to_split_layout(checkpoint, cfg.num_attention_heads);
  for (const auto& [n, t] : split_sd) {
    INFO(n);
    require_close(back.at(n), t, 0.0, 0.0);
  }
}

TEST_CASE("phi parity: the wrong fused interleave ([3, heads, head_dim]) changes the outputs",
          "[phi]") {
  // Guards the test above against a layout that happens not to matter: reading the fused rows
  // as q | k | v blocks (MixFormer's order) must not reproduce transformers.
  const mp::PhiConfig cfg = fixture_config("tiny_a");
  auto lm = fixture_model("tiny_a");
  const auto fused = io::SafetensorsFile::open(fixture_dir("tiny_a") + "fused_qkv.safetensors");
  const Tensor<float> w = fused.load<float>("model.layers.0.self_attn.query_key_value.weight");
  const std::int64_t d = cfg.hidden_size;
  lm.model.layers[0].self_attn.q_proj.weight.value().assign(w.narrow(0, 0, d));
  lm.model.layers[0].self_attn.k_proj.weight.value().assign(w.narrow(0, d, d));
  autograd::NoGrad no_grad;
  const auto ref = fixture_reference("tiny_a");
  const auto logits = lm.forward(ref.load<std::int64_t>("input_ids")).logits.value().to_vector();
  const auto want = ref.load<float>("logits").to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, double(std::fabs(logits[i] - want[i])));
  CHECK(worst > 1e-2);
}

TEST_CASE("phi parity: cached greedy decoding reproduces transformers' generate", "[phi]") {
  auto lm = fixture_model("tiny_a");
  const auto ref = fixture_reference("tiny_a");
  const Tensor<std::int64_t> prompt = ref.load<std::int64_t>("generate.prompt");  // (1, 5)
  const Tensor<std::int64_t> want = ref.load<std::int64_t>("generate.greedy");    // (1, 11)
  const Tensor<std::int64_t> got =
      mp::generate(lm, prompt, {.max_new_tokens = want.size(1) - prompt.size(1)});
  CHECK(got.to_vector() == want.to_vector());
}
