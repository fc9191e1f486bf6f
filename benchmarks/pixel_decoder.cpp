// benchmarks/pixel_decoder.cpp — the whole pixel decoder (PSALM's MSDeformAttnPixelDecoder:
// input projections, 6 deformable encoder layers over 21,504 tokens, FPN step, mask_features)
// forward without a tape at a 1024 x 1024 input: Swin-B's res2..res5 = (1, 128, 256, 256),
// (1, 256, 128, 128), (1, 512, 64, 64), (1, 1024, 32, 32), float32, batch 1. Against the PyTorch
// composition of tools/reference/pixel_decoder_fixtures.py on the same machine:
// benchmarks/pixel_decoder_torch.py writes a JSON file that this program reads with --baseline;
// ratio = PyTorch time / psalm time (above 1: psalm faster). Also the extra peak resident
// memory of one forward. Usage: bench_pixel_decoder [--baseline torch.json] [--json]
#include <sys/resource.h>

#include <fstream>
#include <string>

#include "bench_util.hpp"
#include "psalm/autograd.hpp"
#include "psalm/models/deformable/pixel_decoder.hpp"

using namespace psalm;
using namespace psalm::models::deformable;

namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  nlohmann::json baseline;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--baseline")
      baseline = nlohmann::json::parse(std::ifstream(argv[i + 1]));

  nn::InitRng rng{0};
  PixelDecoder<float> decoder(PixelDecoderConfig::psalm_swin_b(), rng);
  decoder.eval();
  const nn::FeatureMaps<float> in{{2, nn::Var<float>(Tensor<float>::randn({1, 128, 256, 256}, 1))},
                                  {3, nn::Var<float>(Tensor<float>::randn({1, 256, 128, 128}, 2))},
                                  {4, nn::Var<float>(Tensor<float>::randn({1, 512, 64, 64}, 3))},
                                  {5, nn::Var<float>(Tensor<float>::randn({1, 1024, 32, 32}, 4))}};
  autograd::NoGrad no_grad;

  const double rss_before = peak_rss_mib();
  (void)decoder(in);
  const double extra_mib = peak_rss_mib() - rss_before;
  const double fwd = bench::best_seconds([&] { (void)decoder(in); }, 3, 0.0);

  auto torch_ms = [&](const char* key) {
    return baseline.contains(key) ? baseline[key].get<double>() * 1e3 : 0.0;
  };
  auto ratio = [](double t, double ours) { return t > 0 ? t / ours : 0.0; };
  bench::Report report("pixel_decoder", {"psalm", "pytorch", "ratio"});
  report.add("forward ms", {fwd * 1e3, torch_ms("forward"), ratio(torch_ms("forward"), fwd * 1e3)});
  const double torch_mib =
      baseline.contains("peak_extra_mib") ? baseline["peak_extra_mib"].get<double>() : 0.0;
  report.add("peak extra MiB (forward)", {extra_mib, torch_mib, ratio(torch_mib, extra_mib)});
  if (!json) {
    std::printf(
        "PSALM pixel decoder at a 1024 input (res2 256^2 ... res5 32^2), batch 1, "
        "float32, no tape, best of 3; ratio = PyTorch / psalm (above 1: psalm better)%s\n",
        baseline.is_null() ? "; no --baseline given, PyTorch columns are 0" : "");
    std::printf("threads: %d\n", Executor<cpu>::max_threads());
  }
  report.print(json);
}
