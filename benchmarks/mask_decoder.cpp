// benchmarks/mask_decoder.cpp — PSALM's whole masked-attention decoder, forward without
// gradients, at the shapes of a 1024 x 1024 input: memories 32^2, 64^2, 128^2 x 256,
// mask_features (1, 256, 256, 256), 100 queries, 134 class conditions, 9 layers (10 prediction
// sets). benchmarks/mask_decoder_torch.py times the PyTorch composition of
// tools/reference/mask_decoder_fixtures.py on the same machine and writes a JSON file; this
// program reads it with --baseline and prints the ratio (PyTorch time / psalm time: above 1
// means psalm is faster) and both processes' peak resident memory.
// Usage: bench_mask_decoder [--baseline torch.json] [--repeats N] [--json]
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "psalm/autograd/no_grad.hpp"
#include "psalm/models/mask2former.hpp"
#include "psalm/tensor.hpp"  // the CPU backend

using namespace psalm;
using namespace psalm::models::mask2former;

namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * 4096.0 / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  nlohmann::json baseline;
  int repeats = 3;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--baseline")
      baseline = nlohmann::json::parse(std::ifstream(argv[i + 1]));
    if (std::string(argv[i]) == "--repeats") repeats = std::stoi(argv[i + 1]);
  }

  nn::InitRng rng{1};
  MaskedAttentionDecoder<float> decoder(MaskDecoderConfig::psalm(), rng);
  decoder.eval();
  const autograd::NoGrad no_grad;
  using V = nn::Var<float>;
  const V queries(Tensor<float>::randn({1, 100, 256}, 2));  // (B, Q, D)
  const nn::FeatureMaps<float> multi_scale{{5, V(Tensor<float>::randn({1, 256, 32, 32}, 3))},
                                           {4, V(Tensor<float>::randn({1, 256, 64, 64}, 4))},
                                           {3, V(Tensor<float>::randn({1, 256, 128, 128}, 5))}};
  const V mask_features(Tensor<float>::randn({1, 256, 256, 256}, 6));  // (B, M, Hm, Wm)
  Conditions<float> cond;
  cond.class_conditions = V(Tensor<float>::randn({1, 134, 256}, 7));  // (B, C, D)

  const double steady_mb = current_rss_mb();
  const double seconds = bench::best_seconds(
      [&] {
        const DecoderOutput<float> out = decoder(queries, multi_scale, mask_features, cond);
        if (out.predictions.size() != 10) std::abort();
      },
      repeats, 0.0);
  const double peak_mb = peak_rss_mb();

  const std::string name = "mask decoder forward (1024 input)";
  const double torch_ms = baseline.contains(name) ? baseline[name].get<double>() * 1e3 : 0.0;
  auto baseline_value = [&](const char* key) {
    return baseline.contains(key) ? baseline[key].get<double>() : 0.0;
  };
  bench::Report report("mask_decoder", {"psalm_ms", "pytorch_ms", "ratio", "psalm_peak_mb",
                                        "pytorch_peak_mb", "psalm_steady_mb", "pytorch_steady_mb"});
  report.add(name,
             {seconds * 1e3, torch_ms, torch_ms > 0 ? torch_ms / (seconds * 1e3) : 0.0, peak_mb,
              baseline_value("peak_rss_mb"), steady_mb, baseline_value("steady_rss_mb")});
  if (!json)
    std::printf(
        "forward, no gradients, float32, best of %d; ratio = PyTorch / psalm (above 1: "
        "psalm faster); peak = process peak RSS, steady = resident before the first forward "
        "(weights and inputs; PyTorch's includes its libraries)\n",
        repeats);
  report.print(json);
  return 0;
}
