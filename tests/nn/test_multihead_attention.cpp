// Tests of nn/multihead_attention.hpp: forward and the gradients of every parameter and input
// against torch.nn.MultiheadAttention (tests/fixtures/nn_mha/, tools/reference/mha_fixtures.py)
// with a per-head and a shared boolean mask and in self-attention; batch-first equals
// sequence-first; finite differences in double; torch's initialisation; shape errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/nn/multihead_attention.hpp"
#include "psalm/nn/state_dict.hpp"
#include "support/fixtures.hpp"
#include "support/module_gradcheck.hpp"

using namespace psalm;
using nn::Var;

namespace {

const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/nn_mha/";
// float32 against a float64 reference rounded to float32: a few ulps through two GEMMs forward;
// gradients sum over more terms (the weight gradient over B * L rows).
constexpr double kRtol = 1e-5, kAtol = 2e-6, kGradRtol = 1e-4, kGradAtol = 1e-5;

/// Runs one fixture case: loads the weights, runs forward + backward with d_out, compares.
void check_case(const std::string& file, std::int64_t heads, bool self_attention) {
  const io::SafetensorsFile f = io::SafetensorsFile::open(kDir + file);
  const Tensor<float> query = f.load<float>("query");  // (Lq, B, E)
  const std::int64_t e = query.size(2);
  nn::InitRng rng{1};
  nn::MultiheadAttention<float> mha(e, heads, rng);
  nn::load_state_dict(mha, f, {.strict = false});
  Var<float> q = Var<float>::parameter(query);
  Var<float> k = self_attention ? q : Var<float>::parameter(f.load<float>("key"));
  Var<float> v = self_attention ? q : Var<float>::parameter(f.load<float>("value"));
  Tensor<std::uint8_t> mask;
  if (f.contains("attn_mask"))
    mask = Tensor<std::uint8_t>(cast<std::uint8_t>(f.load<float>("attn_mask")));
  const Var<float> out = mha(q, k, v, mask);  // (Lq, B, E)
  testing::require_close(out.value(), f.load<float>("out"), kRtol, kAtol);
  autograd::backward(out, f.load<float>("d_out"));
  for (const auto& [name, p] : mha.named_parameters()) {
    INFO("gradient of " << name);
    testing::require_close(p.grad(), f.load<float>("grad." + name), kGradRtol, kGradAtol);
  }
  testing::require_close(q.grad(), f.load<float>("grad.query"), kGradRtol, kGradAtol);
  if (!self_attention) {
    testing::require_close(k.grad(), f.load<float>("grad.key"), kGradRtol, kGradAtol);
    testing::require_close(v.grad(), f.load<float>("grad.value"), kGradRtol, kGradAtol);
  }
}

}  // namespace

TEST_CASE("MultiheadAttention: forward and all gradients match torch with a per-head mask",
          "[nn][mha]") {
  check_case("per_head_mask.safetensors", 4, false);
}

TEST_CASE("MultiheadAttention: forward and all gradients match torch with an (Lq, Lk) mask",
          "[nn][mha]") {
  check_case("shared_mask.safetensors", 3, false);
}

TEST_CASE("MultiheadAttention: self-attention (one input as q, k, v) matches torch", "[nn][mha]") {
  check_case("self_no_mask.safetensors", 2, true);
}

TEST_CASE("MultiheadAttention: batch-first equals sequence-first; (B, 1, Lq, Lk) mask broadcasts",
          "[nn][mha]") {
  const std::int64_t e = 8, h = 2, lq = 3, lk = 5, b = 2;
  nn::InitRng rng{4};
  nn::MultiheadAttention<double> seq(e, h, rng);
  nn::MultiheadAttention<double> bf(e, h, rng, nn::SequenceLayout::batch_first);
  nn::load_state_dict(bf, nn::state_dict(seq));
  const auto q = Tensor<double>::randn({lq, b, e}, 1), k = Tensor<double>::randn({lk, b, e}, 2),
             v = Tensor<double>::randn({lk, b, e}, 3);
  auto mask = Tensor<std::uint8_t>::zeros({b, 1, lq, lk});  // one mask per sample, all heads
  mask.select(0, 1).select(0, 0).select(0, 2).slice(0, 0, 3).fill(1);
  mask.select(0, 0).select(0, 0).select(0, 0).slice(0, 1, 5).fill(1);
  auto per_head = Tensor<std::uint8_t>(mask.expand({b, h, lq, lk})).reshape({b * h, lq, lk});
  const Var<double> y_seq = seq(Var<double>(q), Var<double>(k), Var<double>(v), per_head);
  const Var<double> y_bf = bf(Var<double>(q.transpose(0, 1)), Var<double>(k.transpose(0, 1)),
                              Var<double>(v.transpose(0, 1)), mask);  // (B, Lq, E)
  testing::require_close(Tensor<double>(y_bf.value().transpose(0, 1).contiguous()), y_seq.value(),
                         1e-12, 1e-12);
}

TEST_CASE("MultiheadAttention: gradients match finite differences in double", "[nn][mha]") {
  const std::int64_t e = 6, h = 3, lq = 3, lk = 4, b = 2;
  nn::InitRng rng{5};
  nn::MultiheadAttention<double> mha(e, h, rng);
  for (auto& [name, p] : mha.named_parameters())  // nonzero biases
    p.value().assign(p.value() + Tensor<double>::randn(p.shape(), 17, 0.0, 0.3));
  auto mask = Tensor<std::uint8_t>::zeros({lq, lk});
  mask.select(0, 1).slice(0, 0, 2).fill(1);
  const Var<double> q = Var<double>::parameter(Tensor<double>::randn({lq, b, e}, 6));
  const Var<double> k = Var<double>::parameter(Tensor<double>::randn({lk, b, e}, 7));
  const Var<double> v = Var<double>::parameter(Tensor<double>::randn({lk, b, e}, 8));
  const auto weights = Tensor<double>::randn({lq, b, e}, 9);
  testing::check_module_gradients(mha, {{"query", q}, {"key", k}, {"value", v}}, [&] {
    return autograd::sum(mha(q, k, v, mask) * Var<double>(weights));
  });
}

TEST_CASE("MultiheadAttention: torch's initialisation and upstream parameter names", "[nn][mha]") {
  nn::InitRng rng{2};
  nn::MultiheadAttention<float> mha(32, 4, rng);
  std::vector<std::string> names;
  for (const auto& [n, p] : mha.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                          "out_proj.bias"});
  CHECK(mha.in_proj_weight.shape() == Shape{96, 32});
  const auto w = mha.in_proj_weight.value().to_vector();
  const double bound = std::sqrt(6.0 / (32 + 96));  // xavier_uniform on (3E, E)
  CHECK(*std::max_element(w.begin(), w.end()) <= bound);
  CHECK(*std::max_element(w.begin(), w.end()) > 0.9 * bound);
  for (float x : mha.in_proj_bias.value().to_vector()) CHECK(x == 0.0f);
  for (float x : mha.out_proj.bias.value().to_vector()) CHECK(x == 0.0f);
}

TEST_CASE("MultiheadAttention: shape errors name the expected shapes", "[nn][mha]") {
  nn::InitRng rng{3};
  CHECK_THROWS_WITH(nn::MultiheadAttention<float>(10, 4, rng),
                    Catch::Contains("multiple of num_heads 4"));
  nn::MultiheadAttention<float> mha(8, 2, rng);
  const Var<float> x(Tensor<float>::zeros({3, 2, 8}));
  CHECK_THROWS_WITH(mha(x, x, Var<float>(Tensor<float>::zeros({3, 2, 6}))),
                    Catch::Contains("embed_dim 8"));
  CHECK_THROWS_WITH(mha(x, x, x, Tensor<std::uint8_t>::zeros({3, 3, 3})),
                    Catch::Contains("(B*heads, Lq, Lk) = (4, 3, 3)"));
  CHECK_THROWS_WITH(mha(x, x, x, Tensor<std::uint8_t>::zeros({2, 3})),
                    Catch::Contains("(Lq, Lk) = (3, 3)"));
}
