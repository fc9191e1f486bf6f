// psalm/models/phi/generate.hpp — text generation with a KV cache: one forward over the prompt,
// then one position per step (its one-row products run as GEMVs, backend/cpu/gemv.hpp); the
// logits (lm_head, or the tied embedding) only on the last position; the next token greedy
// (temperature 0) or sampled from softmax(logits / temperature) restricted to the top-p nucleus,
// with a seeded counter RNG so a run is reproducible. Depends on: models/phi/{model,kv_cache},
// core/rng. Test: tests/phi/test_generate.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
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
  /// 0: greedy (argmax). > 0: sample from softmax(logits / temperature).
  double temperature = 0.0;
  /// Nucleus sampling: keep the most likely tokens whose probabilities sum to >= top_p.
  double top_p = 1.0;
  std::uint64_t seed = 0;
  /// A row that produced eos keeps producing it; generation stops when every row has.
  std::optional<std::int64_t> eos_token_id{};
};

/// The next token from one row of logits (V). `u` is a uniform draw in [0, 1).
/// ref: transformers TemperatureLogitsWarper + TopPLogitsWarper (keeps at least one token).
template <class T>
std::int64_t pick_token(std::span<const T> logits, const GenerateOptions& opt, double u) {
  PSALM_CHECK(!logits.empty(), "generate: empty logits row");
  const auto n = static_cast<std::int64_t>(logits.size());
  if (opt.temperature <= 0.0)
    return std::max_element(logits.begin(), logits.end()) - logits.begin();
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return logits[a] > logits[b]; });
  const double top = static_cast<double>(logits[static_cast<std::size_t>(order[0])]);
  std::vector<double> p(static_cast<std::size_t>(n));
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double z =
        (static_cast<double>(logits[static_cast<std::size_t>(order[i])]) - top) / opt.temperature;
    total += p[static_cast<std::size_t>(i)] = std::exp(z);
  }
  // Nucleus: the shortest prefix of the sorted tokens whose mass reaches top_p.
  std::int64_t keep = n;
  double mass = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    mass += p[static_cast<std::size_t>(i)] / total;
    if (mass >= opt.top_p) {
      keep = i + 1;
      break;
    }
  }
  const double kept = std::accumulate(p.begin(), p.begin() + keep, 0.0);
  double cumulative = 0.0;
  for (std::int64_t i = 0; i < keep; ++i) {
    cumulative += p[static_cast<std::size_t>(i)] / kept;
    if (u < cumulative) return order[static_cast<std::size_t>(i)];
  }
  return order[static_cast<std::size_t>(keep - 1)];
}

/// prompt (B, L) without padding -> (B, L + N) with N <= max_new_tokens generated tokens.
template <Real T, Device Dev>
Tensor<std::int64_t> generate(PhiForCausalLM<T, Dev>& lm, const Tensor<std::int64_t>& prompt,
                              const GenerateOptions& opt = {}) {
  PSALM_CHECK(prompt.rank() == 2 && prompt.size(1) > 0,
              "generate: prompt must be (B, L), L > 0, got ", prompt.shape());
  PSALM_CHECK(
      opt.max_new_tokens >= 0 && opt.top_p > 0.0 && opt.top_p <= 1.0 && opt.temperature >= 0.0,
      "generate: need max_new_tokens >= 0, top_p in (0, 1], temperature >= 0");
  autograd::NoGrad no_grad;
  const std::int64_t b = prompt.size(0), l = prompt.size(1), v = lm.config().vocab_size;
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
