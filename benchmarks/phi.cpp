// benchmarks/phi.cpp — Phi-1.5 at full width (hidden 2048, 32 heads, intermediate 8192, random
// weights) with `--layers` decoder layers (default 4; the 24-layer figures scale linearly):
//   * no-grad forward of PhiModel over `--tokens` tokens (default 1100, PSALM's prompt length),
//     against the GEMM floor (its GEMM FLOPs / OpenBLAS cblas_sgemm's rate measured in this run)
//     and against PyTorch eager (benchmarks/phi_torch.py, same shapes, 2 threads) via --baseline;
//   * cached greedy decoding, tokens per second (prompt 32, 32 new tokens, lm_head included;
//     best of `--decode-runs` runs, default 3), one-row products through the GEMV kernels;
//   * one training step (forward + backward) with and without activation checkpointing over
//     `--train-tokens` tokens: time and peak tensor bytes;
//   * peak resident memory (getrusage) of the process.
// Usage: bench_phi [--layers N] [--tokens L] [--train-tokens L] [--decode-runs R]
//                  [--decode-only] [--baseline torch.json] [--json]
#include <cblas.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "bench_util.hpp"
#include "psalm/autograd.hpp"
#include "psalm/models/phi.hpp"

using namespace psalm;
namespace mp = psalm::models::phi;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::int64_t arg_int(int argc, char** argv, const std::string& flag, std::int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == flag) return std::stoll(argv[i + 1]);
  return fallback;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

Tensor<std::int64_t> token_ids(std::int64_t n, std::int64_t vocab) {
  Tensor<std::int64_t> ids(Shape{1, n});
  for (std::int64_t i = 0; i < n; ++i) ids.data()[i] = (i * 7919 + 13) % vocab;
  return ids;
}

/// GFLOP/s of cblas_sgemm at the MLP's shape (L x D) @ (D x I), best of 3.
double sgemm_gflops(std::int64_t m, std::int64_t k, std::int64_t n) {
  const Tensor<float> a = Tensor<float>::randn({m, k}, 1), b = Tensor<float>::randn({k, n}, 2);
  Tensor<float> c(Shape{m, n});
  const double s = bench::best_seconds(
      [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), 1.0f,
                    a.data(), int(k), b.data(), int(n), 0.0f, c.data(), int(n));
      },
      3, 0.5);
  return 2.0 * double(m) * double(n) * double(k) / s * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  const std::int64_t layers = arg_int(argc, argv, "--layers", 4);
  const std::int64_t tokens = arg_int(argc, argv, "--tokens", 1100);
  const std::int64_t train_tokens = arg_int(argc, argv, "--train-tokens", 256);
  const std::int64_t decode_runs = arg_int(argc, argv, "--decode-runs", 3);
  const bool decode_only = bench::has_flag(argc, argv, "--decode-only");
  nlohmann::json baseline;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--baseline")
      baseline = nlohmann::json::parse(std::ifstream(argv[i + 1]));

  mp::PhiConfig cfg = mp::PhiConfig::phi_1_5();
  cfg.num_hidden_layers = layers;
  nn::InitRng rng{1};
  auto t0 = std::chrono::steady_clock::now();
  mp::PhiForCausalLM<float> lm(cfg, rng);
  const double init_s = seconds_since(t0);
  lm.eval();

  // GEMM floor: per layer 2 L D (3D + D + 2I) FLOPs in linear layers plus 2 * 2 L^2 D in
  // attention (q k^T and p v, full square as computed).
  const double l = double(tokens), d = double(cfg.hidden_size), in = double(cfg.intermediate_size);
  const double flops_layer = 2 * l * d * (4 * d + 2 * in) + 4 * l * l * d;
  const double flops = flops_layer * double(layers);
  const double gflops =
      decode_only ? 0.0 : sgemm_gflops(tokens, cfg.hidden_size, cfg.intermediate_size);
  const double floor_s = decode_only ? 0.0 : flops * 1e-9 / gflops;

  const Tensor<std::int64_t> ids = token_ids(tokens, cfg.vocab_size);
  double forward_s = 0;
  if (!decode_only) {
    autograd::NoGrad no_grad;
    forward_s = bench::best_seconds([&] { (void)lm.model(ids); }, 2, 0.0);
  }
  const double forward_rss = peak_rss_mib();

  // Cached greedy decoding: prefill 32 tokens, then time 32 single-token steps; best run.
  double decode_tps = 0;
  for (std::int64_t run = 0; run < decode_runs; ++run) {
    autograd::NoGrad no_grad;
    const std::int64_t prompt = 32, steps = 32;
    mp::PhiKvCache<float> cache(cfg, 1, prompt + steps);
    (void)lm.forward(token_ids(prompt, cfg.vocab_size), {}, true, &cache);
    Tensor<std::int64_t> next = Tensor<std::int64_t>::from_data({42}, Shape{1, 1});
    t0 = std::chrono::steady_clock::now();
    for (std::int64_t s = 0; s < steps; ++s) {
      const auto logits = lm.forward(next, {}, true, &cache).logits.value().to_vector();
      next.data()[0] = std::max_element(logits.begin(), logits.end()) - logits.begin();
    }
    decode_tps = std::max(decode_tps, double(steps) / seconds_since(t0));
  }

  // Training step memory with and without activation checkpointing.
  double train_s[2] = {0, 0}, train_peak_mib[2] = {0, 0}, kept_mib[2] = {0, 0};
  const Tensor<std::int64_t> train_ids = token_ids(train_tokens, cfg.vocab_size);
  for (int ck = 0; ck < (decode_only ? 0 : 2); ++ck) {
    lm.model.gradient_checkpointing = ck == 1;
    lm.zero_grad();
    const std::int64_t live = Memory<cpu>::stats().live_bytes;
    Memory<cpu>::reset_peak();
    t0 = std::chrono::steady_clock::now();
    const auto hidden = lm.model(train_ids);
    kept_mib[ck] = double(Memory<cpu>::stats().live_bytes - live) / (1024.0 * 1024.0);
    autograd::backward(autograd::mean(hidden * hidden));
    train_s[ck] = seconds_since(t0);
    train_peak_mib[ck] = double(Memory<cpu>::stats().peak_bytes - live) / (1024.0 * 1024.0);
  }
  lm.zero_grad();

  if (!baseline.is_object()) baseline = nlohmann::json::object();
  const double torch_fwd = baseline.value("forward_s", 0.0);
  const double torch_rss = baseline.value("peak_rss_mib", 0.0);
  const double torch_tps = baseline.value("decode_tokens_per_s", 0.0);
  bench::Report report("phi", {"psalm", "pytorch", "ratio"});
  report.add("forward s", {forward_s, torch_fwd, torch_fwd > 0 ? torch_fwd / forward_s : 0});
  report.add("forward / GEMM floor", {forward_s / floor_s, 0, 0});
  report.add("sgemm GFLOP/s", {gflops, 0, 0});
  report.add("decode tokens/s",
             {decode_tps, torch_tps, torch_tps > 0 ? decode_tps / torch_tps : 0});
  report.add("peak RSS MiB (after fwd)", {forward_rss, torch_rss, 0});
  report.add("train step s (plain)", {train_s[0], 0, 0});
  report.add("train step s (ckpt)", {train_s[1], 0, 0});
  report.add("kept after fwd MiB (plain)", {kept_mib[0], 0, 0});
  report.add("kept after fwd MiB (ckpt)", {kept_mib[1], 0, 0});
  report.add("train peak MiB (plain)", {train_peak_mib[0], 0, 0});
  report.add("train peak MiB (ckpt)", {train_peak_mib[1], 0, 0});
  if (!json)
    std::printf(
        "Phi-1.5 width, %lld layers, %lld tokens (train %lld), random weights; init %.1f s;"
        " ratio = PyTorch / psalm for times (above 1: psalm faster), psalm / PyTorch for"
        " tokens/s\n",
        (long long)layers, (long long)tokens, (long long)train_tokens, init_s);
  report.print(json);
  return 0;
}
