// benchmarks/ms_deform_attn.cpp — multi-scale deformable attention forward and backward at
// PSALM's pixel-decoder shape (B 1, 21,504 queries = 32^2 + 64^2 + 128^2 tokens, 8 heads of
// 32 channels, 3 levels, 4 points), against the pure-PyTorch reference on the same machine:
// benchmarks/ms_deform_attn_torch.py times it (float32, same thread count) and writes a JSON
// file that this program reads with --baseline; ratio = PyTorch time / psalm time (above 1:
// psalm faster). Also the extra peak resident memory of one forward + backward, and the two
// race-free CPU backward partitions (atomic adds vs per-(batch, head) ownership).
// Usage: bench_ms_deform_attn [--baseline torch.json] [--json]
#include <sys/resource.h>

#include <fstream>
#include <string>

#include "bench_util.hpp"
#include "psalm/autograd.hpp"
#include "psalm/autograd/ops/ms_deform_attn.hpp"

using namespace psalm;
using namespace psalm::autograd;

namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

struct Inputs {
  std::vector<std::array<std::int64_t, 2>> shapes{{32, 32}, {64, 64}, {128, 128}};
  std::vector<std::int64_t> start{0, 1024, 5120};
  std::int64_t b = 1, s = 21504, q = 21504, m = 8, d = 32, l = 3, p = 4;
  Var<float> value, loc, attn;
  Tensor<float> d_out;

  Inputs() {
    value = Var<float>::parameter(Tensor<float>::randn({b, s, m, d}, 1));  // (B, S, M, D)
    // as in the pixel decoder: each query samples around its own pixel centre on every level,
    // within +-4 pixels of that level (trained offsets are a few pixels)
    const std::vector<float> offsets =
        Tensor<float>(Tensor<float>::rand({b, q, m, l, p, 2}, 2) * 8.0f - 4.0f).to_vector();
    std::vector<float> host(offsets.size());
    std::int64_t query = 0;
    for (const auto& [h, w] : shapes)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x, ++query)
          for (std::int64_t i = 0; i < m * l * p; ++i) {
            const auto [hl, wl] = shapes[static_cast<std::size_t>((i / p) % l)];
            const std::size_t at = static_cast<std::size_t>((query * m * l * p + i) * 2);
            host[at] = ((x + 0.5f) / w) + offsets[at] / wl;
            host[at + 1] = ((y + 0.5f) / h) + offsets[at + 1] / hl;
          }
    loc = Var<float>::parameter(
        Tensor<float>::from_data(std::span<const float>(host), {b, q, m, l, p, 2}));
    attn = Var<float>::parameter(Tensor<float>(Tensor<float>::rand({b, q, m, l, p}, 3) *
                                               (1.0f / 12.0f)));  // (B, Q, M, L, P)
    d_out = Tensor<float>::randn({b, q, m * d}, 4);               // (B, Q, M*D)
  }
  Var<float> forward(MSDeformBackwardMode mode = MSDeformBackwardMode::automatic) const {
    return ms_deform_attn(value, shapes, start, loc, attn, {.backward = mode});
  }
  void zero_grad() {
    value.zero_grad();
    loc.zero_grad();
    attn.zero_grad();
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  nlohmann::json baseline;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--baseline")
      baseline = nlohmann::json::parse(std::ifstream(argv[i + 1]));

  Inputs in;
  // extra peak memory of one forward + backward, before any timing loop
  const double rss_before = peak_rss_mib();
  {
    const Var<float> y = in.forward();
    backward(y, in.d_out);
  }
  const double extra_mib = peak_rss_mib() - rss_before;
  in.zero_grad();

  const double fwd = bench::best_seconds(
      [&] {
        NoGrad guard;
        (void)in.forward();
      },
      3, 0.3);
  auto fwd_bwd = [&](MSDeformBackwardMode mode) {
    return bench::best_seconds(
        [&] {
          in.zero_grad();
          backward(in.forward(mode), in.d_out);
        },
        3, 0.3);
  };
  const double both = fwd_bwd(MSDeformBackwardMode::automatic);
  const double both_atomic = fwd_bwd(MSDeformBackwardMode::atomic);
  const double both_by_head = fwd_bwd(MSDeformBackwardMode::by_head);

  auto torch_ms = [&](const char* key) {
    return baseline.contains(key) ? baseline[key].get<double>() * 1e3 : 0.0;
  };
  auto ratio = [](double t, double ours) { return t > 0 ? t / ours : 0.0; };
  bench::Report report("ms_deform_attn", {"psalm_ms", "pytorch_ms", "ratio"});
  report.add("forward", {fwd * 1e3, torch_ms("forward"), ratio(torch_ms("forward"), fwd * 1e3)});
  report.add("forward+backward", {both * 1e3, torch_ms("forward+backward"),
                                  ratio(torch_ms("forward+backward"), both * 1e3)});
  report.add("forward+backward atomic", {both_atomic * 1e3, torch_ms("forward+backward"),
                                         ratio(torch_ms("forward+backward"), both_atomic * 1e3)});
  report.add("forward+backward by_head", {both_by_head * 1e3, torch_ms("forward+backward"),
                                          ratio(torch_ms("forward+backward"), both_by_head * 1e3)});
  const double torch_mib =
      baseline.contains("peak_extra_mib") ? baseline["peak_extra_mib"].get<double>() : 0.0;
  report.add("peak extra MiB (fwd+bwd)", {extra_mib, torch_mib, ratio(torch_mib, extra_mib)});
  if (!json) {
    std::printf(
        "B 1, Q = S = 21504 (32^2 + 64^2 + 128^2), 8 heads x 32, 3 levels, 4 points; "
        "float32, best of 3; ratio = PyTorch / psalm (above 1: psalm better)%s\n",
        baseline.is_null() ? "; no --baseline given, PyTorch columns are 0" : "");
    std::printf("threads: %d\n", Executor<cpu>::max_threads());
  }
  report.print(json);
}
