// benchmarks/projector.cpp — PSALM's swin_conv projector at the released size (res5
// (1, 1024, 32, 32) -> tokens (1, 256, 2048)) and the image pre- / post-processing, against
// PyTorch eager on the same machine with the same weights: benchmarks/projector_torch.py builds
// the projector, saves its weights, input and output, times torch and writes a JSON file; this
// program loads those weights (--weights), checks its output against torch's, and prints the
// ratio (PyTorch time / psalm time: above 1 means psalm is faster) and the peak extra resident
// memory of each case (VmHWM after a reset via /proc/self/clear_refs, minus RSS before).
// Usage: bench_projector --weights W.safetensors --baseline torch.json [--json]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include "bench_util.hpp"
#include "psalm/autograd.hpp"
#include "psalm/models/projector.hpp"
#include "psalm/nn/state_dict.hpp"
#include "psalm/psalm/postprocess.hpp"
#include "psalm/psalm/preprocess.hpp"

using namespace psalm;

namespace {

/// A field of /proc/self/status in MiB (VmRSS, VmHWM), or 0 where it cannot be read.
double status_mib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  return 0.0;
}

/// Peak resident memory added while `fn` runs once, in MiB.
double peak_extra_mib(const std::function<void()>& fn) {
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current RSS
  const double before = status_mib("VmRSS");
  fn();
  return std::max(0.0, status_mib("VmHWM") - before);
}

std::string arg_value(int argc, char** argv, const std::string& flag) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == flag) return argv[i + 1];
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  const std::string baseline_path = arg_value(argc, argv, "--baseline");
  const std::string weights_path = arg_value(argc, argv, "--weights");
  nlohmann::json baseline;
  if (!baseline_path.empty()) baseline = nlohmann::json::parse(std::ifstream(baseline_path));

  nn::InitRng rng{1};
  models::projector::SwinConvProjector<float> projector(models::projector::ProjectorConfig::psalm(),
                                                        rng);
  Tensor<float> res5 = Tensor<float>::randn({1, 1024, 32, 32}, 2);  // (1, 1024, 32, 32)
  double max_diff = -1;
  if (!weights_path.empty()) {  // torch's weights and input; compare with its output below
    const io::SafetensorsFile f = io::SafetensorsFile::open(weights_path);
    nn::load_state_dict(projector, f, {.prefix = "model.mm_projector."});
    res5 = f.load<float>("res5");
    projector.eval();
    const autograd::NoGrad no_grad;
    const auto got = projector(nn::Var<float>(res5)).value().to_vector();
    const auto want = f.load<float>("tokens").to_vector();
    max_diff = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      max_diff = std::max(max_diff, double(std::fabs(got[i] - want[i])));
  }

  struct Row {
    std::string name;
    std::function<void()> fn;
  };
  const Tensor<std::uint8_t> image = [] {  // (480, 640, 3) deterministic test image
    Tensor<std::uint8_t> t(Shape{480, 640, 3});
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.data()[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 24);
    return t;
  }();
  const Tensor<float> masks = Tensor<float>::randn({100, 256, 256}, 3);  // (Q, 256, 256)
  const ImageGeometry geometry = image_geometry(480, 640);
  const std::vector<Row> rows = {
      {"swin_conv eval forward",
       [&] {
         projector.eval();
         const autograd::NoGrad no_grad;
         (void)projector(nn::Var<float>(res5));  // (1, 256, 2048)
       }},
      {"swin_conv train fwd+bwd",
       [&] {
         projector.train();
         projector.zero_grad();
         const nn::Var<float> y = projector(nn::Var<float>(res5));  // (1, 256, 2048)
         autograd::backward(y, Tensor<float>::ones(y.shape()));
       }},
      {"preprocess 640x480 -> 1024", [&] { (void)preprocess_image(image); }},
      {"postprocess 100x256^2 -> 640x480", [&] { (void)postprocess_to_original(masks, geometry); }},
  };

  bench::Report report("projector",
                       {"psalm_ms", "pytorch_ms", "ratio", "psalm_peak_MiB", "pytorch_peak_MiB"});
  for (const Row& row : rows) {
    const double peak = peak_extra_mib(row.fn);
    const double seconds = bench::best_seconds(row.fn, 3, 0.3);
    const nlohmann::json b = baseline.contains(row.name) ? baseline[row.name] : nlohmann::json{};
    const double torch_ms = b.is_object() ? b["seconds"].get<double>() * 1e3 : 0.0;
    const double torch_peak = b.is_object() ? b["peak_mib"].get<double>() : 0.0;
    report.add(row.name, {seconds * 1e3, torch_ms, torch_ms > 0 ? torch_ms / (seconds * 1e3) : 0.0,
                          peak, torch_peak});
  }
  if (!json) {
    std::printf(
        "float32, best of 3; ratio = PyTorch / psalm (above 1: psalm faster); peak = "
        "extra resident MiB while one call runs%s\n",
        baseline.is_null() ? "; no --baseline given, PyTorch columns are 0" : "");
    std::printf("threads: %d; weights: %s", Executor<cpu>::max_threads(),
                weights_path.empty() ? "random (no --weights)\n" : weights_path.c_str());
    if (max_diff >= 0) std::printf(" (max |psalm - torch| of the eval tokens: %.3g)\n", max_diff);
  }
  report.print(json);
}
