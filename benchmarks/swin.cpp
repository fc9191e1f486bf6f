// benchmarks/swin.cpp — Swin-B (SwinConfig::swin_b_384, random weights) forward, eval mode, no
// gradient, float32, against PyTorch eager with the same architecture on the same machine:
// benchmarks/swin_torch.py times transformers' SwinBackbone (and prints its peak RSS) and
// writes a JSON file; this program reads it with --baseline and prints the ratio (PyTorch time
// / psalm time: above 1 means psalm is faster) and both peak resident set sizes.
// Usage: bench_swin [--size 1024] [--batch 1] [--repeats 3] [--warmup 1] [--baseline torch.json]
//                   [--json]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#include "bench_util.hpp"
#include "psalm/models/swin.hpp"

using namespace psalm;
using namespace psalm::models::swin;

namespace {

int int_arg(int argc, char** argv, const std::string& flag, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == flag) return std::stoi(argv[i + 1]);
  return fallback;
}

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  const int size = int_arg(argc, argv, "--size", 1024);
  const int batch = int_arg(argc, argv, "--batch", 1);
  const int repeats = std::max(1, int_arg(argc, argv, "--repeats", 3));
  const int warmup = int_arg(argc, argv, "--warmup", 1);
  nlohmann::json baseline;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--baseline")
      baseline = nlohmann::json::parse(std::ifstream(argv[i + 1]));

  nn::InitRng rng{0};
  SwinBackbone<float> swin(SwinConfig::swin_b_384(), rng);
  swin.eval();
  const Tensor<float> image = Tensor<float>::randn({batch, 3, size, size}, 1);  // (B, 3, S, S)
  const autograd::NoGrad no_grad;
  // Best wall time and best process CPU time (all threads) per forward: on a machine shared
  // with other jobs the CPU time says more than the wall time.
  auto forward = [&] {
    const nn::FeatureMaps<float> f = swin(autograd::Var<float>(image));
    (void)f;
  };
  for (int i = 0; i < warmup; ++i) forward();
  double seconds = 1e300, cpu_s = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    forward();
    cpu_s = std::min(cpu_s, cpu_seconds() - cpu_start);
    seconds = std::min(
        seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  const std::string name = "swin_b fwd " + std::to_string(size) + "x" + std::to_string(size) +
                           " b" + std::to_string(batch);
  const bool has_baseline = baseline.is_object();
  const double torch_s = has_baseline ? baseline.value("seconds", 0.0) : 0.0;
  const double torch_cpu = has_baseline ? baseline.value("cpu_seconds", 0.0) : 0.0;
  const double torch_rss = has_baseline ? baseline.value("peak_rss_mb", 0.0) : 0.0;
  bench::Report report("swin", {"psalm_ms", "pytorch_ms", "ratio", "psalm_cpu_ms", "pytorch_cpu_ms",
                                "cpu_ratio", "psalm_rss_mb", "pytorch_rss_mb"});
  report.add(name,
             {seconds * 1e3, torch_s * 1e3, torch_s > 0 ? torch_s / seconds : 0.0, cpu_s * 1e3,
              torch_cpu * 1e3, torch_cpu > 0 ? torch_cpu / cpu_s : 0.0, peak_rss_mb(), torch_rss});
  if (!json) {
    std::printf(
        "Swin-B forward, eval, no_grad, float32, best of %d after %d warm-up(s); ratio = "
        "PyTorch / psalm (above 1: psalm faster)%s\n",
        repeats, warmup, !has_baseline ? "; no --baseline given, PyTorch columns are 0" : "");
    std::printf("threads: %d; peak RSS = whole process (weights ~348 MB included)\n",
                Executor<cpu>::max_threads());
  }
  report.print(json);
}
