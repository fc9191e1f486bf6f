// benchmarks/segmenter.cpp — what psalm::Segmenter's caching buys: the first prompt on an image
// (encode: Swin + projector + pixel decoder + Phi on the shared prefix, then the prompt) against
// a second prompt on the same encoded image, per task, with Phi's prefix cache on and off
// (off: only the vision side is cached, answers bit-identical to the evaluation path), and the
// first prompt with every Linear weight in bf16 against float (SegmenterOptions::
// weights_in_bf16). Prints the CPU, the times and the ratios.
// Usage: bench_segmenter [--model DIR] [--image-size T] [--width W --height H] [--json]
//   without --model: psalm_tiny with random weights (the same shapes as the shipped model).
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "bench_util.hpp"
#include "psalm/psalm/segmenter.hpp"

using namespace psalm;

namespace {

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

/// An (h, w) RGB scene: a red square and a blue disc on grey.
Tensor<std::uint8_t> scene(std::int64_t h, std::int64_t w) {
  Tensor<std::uint8_t> img(Shape{h, w, 3});  // (H0, W0, 3)
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      std::uint8_t* p = img.data() + (y * w + x) * 3;
      p[0] = p[1] = p[2] = static_cast<std::uint8_t>(100 + (x + y) % 40);
      if (y > h / 4 && y < h / 2 && x > w / 8 && x < w / 3) p[0] = 230, p[1] = p[2] = 20;
      const std::int64_t dy = y - 2 * h / 3, dx = x - 2 * w / 3;
      if (dy * dy + dx * dx < h * h / 25) p[2] = 230, p[0] = p[1] = 30;
    }
  return img;
}

Segmenter make_segmenter(const std::string& model_dir, std::int64_t image_size, bool cache_prefix,
                         bool weights_in_bf16 = false) {
  const SegmenterOptions options{.cache_prefix = cache_prefix, .weights_in_bf16 = weights_in_bf16};
  if (!model_dir.empty()) return Segmenter::load(model_dir, options);
  PsalmConfig config = PsalmConfig::psalm_tiny();
  if (image_size > 0) config.image_size = image_size;
  config.validate();
  nn::InitRng rng{5};
  auto model = std::make_unique<PsalmModel<float>>(config, rng);
  return Segmenter(std::move(model), psalm_tokenizer(PSALM_GPT2_DIR), options);
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  const std::string model_dir = bench::flag_value(argc, argv, "--model");
  const std::int64_t image_size = std::stoll(bench::flag_value(argc, argv, "--image-size", "0"));
  const std::int64_t width = std::stoll(bench::flag_value(argc, argv, "--width", "640"));
  const std::int64_t height = std::stoll(bench::flag_value(argc, argv, "--height", "480"));
  const Tensor<std::uint8_t> image = scene(height, width);

  const std::vector<std::pair<std::string, SegmentPrompt>> prompts = {
      {"referring", SegmentPrompt::referring("the red square left of the blue disc")},
      {"gres", SegmentPrompt::gres("all the discs")},
      {"panoptic (8 classes)", SegmentPrompt::class_list({"square", "disc", "triangle", "star",
                                                          "ring", "cross", "sky", "floor"})},
      {"interactive (point + box)",
       SegmentPrompt::interactive(
           {VisualPrompt::point(static_cast<double>(width) / 6, static_cast<double>(height) / 3),
            VisualPrompt::box(static_cast<double>(width) / 2, static_cast<double>(height) / 2,
                              static_cast<double>(width) * 0.8,
                              static_cast<double>(height) * 0.8)})},
  };
  const SegmentPrompt warm_up = SegmentPrompt::referring("something else");
  bench::Report report("segmenter", {"first_ms", "second_ms", "ratio"});
  std::int64_t side = 0;
  std::map<std::string, double> first_f32_ms;  // prompt -> first prompt, float, prefix cache on
  for (const bool cache_prefix : {true, false}) {
    Segmenter seg = make_segmenter(model_dir, image_size, cache_prefix);
    side = seg.config().image_size;
    for (const auto& [name, prompt] : prompts) {
      // First prompt: the image encoded, then the prompt answered.
      const double first = bench::best_seconds([&] { seg.segment(image, prompt); }, 5, 0.0);
      // Second prompt: another prompt has already run on the encoded image.
      EncodedImage encoded = seg.encode(image);
      seg.segment(encoded, warm_up);
      const double second = bench::best_seconds([&] { seg.segment(encoded, prompt); }, 5, 0.0);
      report.add(name + (cache_prefix ? "" : "  [no prefix cache]"),
                 {first * 1e3, second * 1e3, first / second});
      if (cache_prefix) first_f32_ms[name] = first * 1e3;
    }
  }
  // The share of a prompt that is post-processing: every query's mask logits brought to the
  // original size (the rules score masks there, as upstream does).
  {
    Segmenter seg = make_segmenter(model_dir, image_size, true);
    const std::int64_t q = seg.config().num_mask_tokens, m = seg.config().image_size / 4;
    nn::InitRng rng{9};
    SampleOutputs s;
    s.masks = nn::init::normal<float, cpu>({q, m, m}, 1.0, rng);  // (Q, Hm, Wm)
    const ImageGeometry g = image_geometry(height, width, seg.config().image_size);
    const double post = bench::best_seconds([&] { masks_at_original(s, g); }, 5, 0.0);
    report.add("of a prompt: masks_at_original (" + std::to_string(q) + " planes)",
               {0.0, post * 1e3, 0.0});
  }
  // bf16 weights: the same prompts with every Linear weight in bf16 (prefix cache on), and the
  // first prompt's time against float's (rows above) as a note.
  {
    Segmenter seg = make_segmenter(model_dir, image_size, true, true);
    for (const auto& [name, prompt] : prompts) {
      const double first = bench::best_seconds([&] { seg.segment(image, prompt); }, 5, 0.0);
      EncodedImage encoded = seg.encode(image);
      seg.segment(encoded, warm_up);
      const double second = bench::best_seconds([&] { seg.segment(encoded, prompt); }, 5, 0.0);
      const std::string label = name + "  [bf16 weights]";
      report.add(label, {first * 1e3, second * 1e3, first / second});
      char ratio[64];
      std::snprintf(ratio, sizeof ratio, "%.2f", first_f32_ms.at(name) / (first * 1e3));
      report.note(label, "f32_first_over_bf16_first", ratio);
    }
  }
  if (!json) {
    std::printf("%s; model %s, input %lld px, image %lldx%lld\n", cpu_name().c_str(),
                model_dir.empty() ? "psalm_tiny (random weights)" : model_dir.c_str(),
                static_cast<long long>(side), static_cast<long long>(width),
                static_cast<long long>(height));
    std::printf(
        "first = encode + prompt; second = a prompt on the already encoded image; "
        "ratio = first / second\n");
  }
  report.print(json);
  return 0;
}
