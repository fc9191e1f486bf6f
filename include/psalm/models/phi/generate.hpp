// psalm/models/phi/generate.hpp — text generation with a KV cache: one forward over the prompt,
// then one position per step (its one-row products run as GEMVs, backend/cpu/gemv.hpp); the
// logits (lm_head, or the tied embedding) only on the last position; the next token greedy
// (temperature 0) or drawn from the distribution transformers' sampling warpers leave
// (temperature, then top-k, then top-p; `sampling_distribution`), with a seeded counter RNG so a
// run is reproducible. Depends on: models/phi/{model,kv_cache}, core/rng.
// Test: tests/phi/test_generate.cpp, tests/phi/test_sampling.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/core/rng.hpp"
#include "psalm/models/phi/kv_cache.hpp"
#include "psalm/models/phi/model.hpp"

namespace psalm::models::phi {

// Letters: B batch, L prompt length, N new tokens, V vocabulary.

struct GenerateOptions {
  std::int64_t max_new_tokens = 16;
  /// 0: greedy (argmax). > 0: sample from softmax(logits / temperature), restricted below.
  double temperature = 0.0;
  /// Sampling only: keep the top_k most likely tokens (and any tied with the k-th); 0 = all.
  std::int64_t top_k = 0;
  /// Sampling only, nucleus: keep the most likely tokens whose probabilities sum to >= top_p.
  double top_p = 1.0;
  std::uint64_t seed = 0;
  /// A row that produced eos keeps producing it; generation stops when every row has.
  std::optional<std::int64_t> eos_token_id{};

  bool sampling() const { return temperature > 0.0; }
};

/// Refuses options no generation can honour, naming the field: a negative max_new_tokens, a
/// temperature that is negative or not finite, top_k < 0, top_p outside (0, 1], top_k / top_p
/// without sampling (greedy would silently ignore them), a negative eos id.
inline void check_generate_options(const GenerateOptions& opt) {
  PSALM_CHECK(opt.max_new_tokens >= 0, "generate: max_new_tokens must be >= 0, got ",
              opt.max_new_tokens);
  PSALM_CHECK(std::isfinite(opt.temperature) && opt.temperature >= 0.0,
              "generate: temperature must be >= 0 (0 = greedy), got ", opt.temperature);
  PSALM_CHECK(opt.top_k >= 0, "generate: top_k must be >= 0 (0 = no limit), got ", opt.top_k);
  PSALM_CHECK(opt.top_p > 0.0 && opt.top_p <= 1.0, "generate: top_p must be in (0, 1], got ",
              opt.top_p);
  PSALM_CHECK(opt.sampling() || (opt.top_k == 0 && opt.top_p == 1.0),
              "generate: top_k and top_p restrict sampling; they need a temperature > 0 "
              "(temperature 0 is greedy decoding)");
  PSALM_CHECK(!opt.eos_token_id || *opt.eos_token_id >= 0,
              "generate: eos_token_id must be >= 0, got ", opt.eos_token_id.value_or(0));
}

/// The distribution the next token is drawn from, over one row of logits (V): greedy puts all
/// the mass on the first largest logit; sampling is softmax(logits / temperature) after
/// transformers' TopKLogitsWarper (every token below the k-th largest scaled logit dropped, ties
/// with it kept) and TopPLogitsWarper (on the ascending sort of what is left, drop the tokens
/// whose cumulative probability is <= 1 - top_p, never the most likely one), renormalised.
/// Dropped tokens get probability 0. Computed in double.
/// ref: transformers generation/logits_process.py; the warper order of
/// GenerationMixin._get_logits_processor (temperature, top-k, top-p).
template <class T>
std::vector<double> sampling_distribution(std::span<const T> logits, const GenerateOptions& opt) {
  check_generate_options(opt);
  PSALM_CHECK(!logits.empty(), "generate: empty logits row");
  const std::size_t n = logits.size();
  std::vector<double> p(n, 0.0);
  if (!opt.sampling()) {
    p[static_cast<std::size_t>(std::max_element(logits.begin(), logits.end()) - logits.begin())] =
        1.0;
    return p;
  }
  constexpr double kDropped = -std::numeric_limits<double>::infinity();
  std::vector<double> z(n);  // (V) scaled logits, kDropped once removed
  for (std::size_t i = 0; i < n; ++i) z[i] = static_cast<double>(logits[i]) / opt.temperature;
  if (opt.top_k > 0 && static_cast<std::size_t>(opt.top_k) < n) {
    std::vector<double> sorted = z;
    std::nth_element(sorted.begin(), sorted.begin() + (opt.top_k - 1), sorted.end(),
                     std::greater<>());
    const double kth = sorted[static_cast<std::size_t>(opt.top_k - 1)];
    for (double& v : z)
      if (v < kth) v = kDropped;
  }
  const auto softmax_into = [&](std::vector<double>& out) {
    const double top = *std::max_element(z.begin(), z.end());
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      total += out[i] = z[i] == kDropped ? 0.0 : std::exp(z[i] - top);
    for (double& v : out) v /= total;
  };
  if (opt.top_p < 1.0) {
    softmax_into(p);
    std::vector<std::size_t> ascending(n);
    std::iota(ascending.begin(), ascending.end(), std::size_t{0});
    std::stable_sort(ascending.begin(), ascending.end(),
                     [&](std::size_t a, std::size_t b) { return z[a] < z[b]; });
    double cumulative = 0.0;
    for (std::size_t r = 0; r + 1 < n; ++r) {  // the last (most likely) token always stays
      cumulative += p[ascending[r]];
      if (cumulative <= 1.0 - opt.top_p) z[ascending[r]] = kDropped;
    }
  }
  softmax_into(p);
  return p;
}

/// The next token from one row of logits (V). `u` is a uniform draw in [0, 1): the token whose
/// interval holds it when sampling_distribution's mass is laid out from the most likely token
/// down (ties by index). Greedy ignores `u`.
template <class T>
std::int64_t pick_token(std::span<const T> logits, const GenerateOptions& opt, double u) {
  PSALM_CHECK(!logits.empty(), "generate: empty logits row");
  if (!opt.sampling()) {
    check_generate_options(opt);
    return std::max_element(logits.begin(), logits.end()) - logits.begin();
  }
  const std::vector<double> p = sampling_distribution(logits, opt);  // (V)
  std::vector<std::int64_t> order;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0.0) order.push_back(static_cast<std::int64_t>(i));
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return logits[static_cast<std::size_t>(a)] > logits[static_cast<std::size_t>(b)];
  });
  double cumulative = 0.0;
  for (const std::int64_t t : order) {
    cumulative += p[static_cast<std::size_t>(t)];
    if (u < cumulative) return t;
  }
  return order.back();  // rounding: u above the summed mass
}

/// prompt (B, L) without padding -> (B, L + N) with N <= max_new_tokens generated tokens.
template <Real T, Device Dev>
Tensor<std::int64_t> generate(PhiForCausalLM<T, Dev>& lm, const Tensor<std::int64_t>& prompt,
                              const GenerateOptions& opt = {}) {
  PSALM_CHECK(prompt.rank() == 2 && prompt.size(1) > 0,
              "generate: prompt must be (B, L), L > 0, got ", prompt.shape());
  check_generate_options(opt);
  autograd::NoGrad no_grad;
  const std::int64_t b = prompt.size(0), l = prompt.size(1), v = lm.config().vocab_size;
  PSALM_CHECK(!opt.eos_token_id || *opt.eos_token_id < v, "generate: eos_token_id ",
              opt.eos_token_id.value_or(0), " is outside the vocabulary of ", v);
  std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(b));
  const std::vector<std::int64_t> flat = prompt.contiguous().to_vector();
  for (std::int64_t i = 0; i < b; ++i)
    rows[static_cast<std::size_t>(i)].assign(flat.begin() + i * l, flat.begin() + (i + 1) * l);
  PhiKvCache<T, Dev> cache(lm.config(), b, l + std::max<std::int64_t>(opt.max_new_tokens, 1));
  std::vector<bool> done(static_cast<std::size_t>(b), false);
  Tensor<std::int64_t> step = prompt.contiguous();  // (B, L), then (B, 1)
  const CounterRng rng{opt.seed, 0};
  for (std::int64_t n = 0; n < opt.max_new_tokens; ++n) {
    // The lm_head only on each row's last position: over a prompt of L tokens, logits for all
    // of them would cost L x D x V multiply-adds (a 1,100-token prompt: 230 GFLOP) for one row.
    const Var<T, Dev> hidden =
        lm.forward(step.template to<Dev>(), {}, false, &cache).last_hidden_state;  // (B, Ls, D)
    const Var<T, Dev> logits =
        lm.logits(Var<T, Dev>(hidden.value().narrow(1, hidden.size(1) - 1, 1)));  // (B, 1, V)
    const std::vector<T> last = logits.value().template to<cpu>().contiguous().to_vector();
    std::vector<std::int64_t> next(static_cast<std::size_t>(b));
    for (std::int64_t i = 0; i < b; ++i) {
      const auto ii = static_cast<std::size_t>(i);
      const std::span<const T> row(last.data() + i * v, static_cast<std::size_t>(v));
      next[ii] = done[ii] ? *opt.eos_token_id
                          : pick_token(row, opt,
                                       rng.uniform_double(static_cast<std::uint64_t>(n * b + i)));
      rows[ii].push_back(next[ii]);
      if (opt.eos_token_id && next[ii] == *opt.eos_token_id) done[ii] = true;
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    step = Tensor<std::int64_t>::from_data(next, Shape{b, 1});  // (B, 1)
  }
  const auto total = static_cast<std::int64_t>(rows[0].size());
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(b * total));
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return Tensor<std::int64_t>::from_data(out, Shape{b, total});  // (B, L + N)
}

}  // namespace psalm::models::phi
