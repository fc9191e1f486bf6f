// bench_synthetic — how fast the synthetic-scenes generator makes training data at 256 x 256:
// scenes per second for the scene alone (layout, placement, rendering, masks), with referring
// expressions, and with interactive prompts. The baseline, measured in the same run on the same
// images, is encoding each rendered image as PNG (io::encode_png): the cost the generator saves a
// trainer that would otherwise read pre-rendered files, so "scene / png" < 1 means generating a
// scene in memory is cheaper than just compressing its image. memcpy of the image bytes is printed
// as the memory-bandwidth floor. --json prints one JSON object with the same figures.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "psalm/data/synthetic.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace syn = psalm::data::synthetic;

template <class F>
double seconds_per_call(int calls, F&& f) {
  double best = 1e300;
  for (int round = 0; round < 3; ++round) {
    const auto t0 = Clock::now();
    for (int i = 0; i < calls; ++i) f(i);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / calls);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = argc > 1 && std::string(argv[1]) == "--json";
  syn::SceneOptions opt;
  opt.height = opt.width = 256;
  opt.seed = 1;
  const int n = 16;
  std::size_t sink = 0;
  std::vector<syn::Scene> scenes;
  for (int i = 0; i < n; ++i)
    scenes.push_back(syn::generate_scene(opt, static_cast<std::uint64_t>(i)));
  const double scene_s = seconds_per_call(n, [&](int i) {
    sink += syn::generate_scene(opt, static_cast<std::uint64_t>(i)).objects.size();
  });
  const double referring_s = seconds_per_call(n, [&](int i) {
    sink += syn::referring_expressions(scenes[static_cast<std::size_t>(i)]).size();
    sink += syn::generalized_expressions(scenes[static_cast<std::size_t>(i)]).size();
  });
  const double prompts_s = seconds_per_call(n, [&](int i) {
    sink += syn::interactive_prompts(scenes[static_cast<std::size_t>(i)]).size();
  });
  const double png_s = seconds_per_call(n, [&](int i) {
    sink += psalm::io::encode_png(scenes[static_cast<std::size_t>(i)].image).size();
  });
  std::vector<std::uint8_t> dst(256 * 256 * 3);
  const double memcpy_s = seconds_per_call(n * 64, [&](int i) {
    std::memcpy(dst.data(), scenes[static_cast<std::size_t>(i % n)].image.data(), dst.size());
    sink += dst[static_cast<std::size_t>(i) % dst.size()];
  });
  const double all_s = scene_s + referring_s + prompts_s;
  if (json) {
    nlohmann::json j = {{"size", 256},
                        {"scene_ms", scene_s * 1e3},
                        {"referring_ms", referring_s * 1e3},
                        {"prompts_ms", prompts_s * 1e3},
                        {"png_encode_ms", png_s * 1e3},
                        {"memcpy_ms", memcpy_s * 1e3},
                        {"scenes_per_second", 1.0 / scene_s},
                        {"scenes_per_second_all_tasks", 1.0 / all_s},
                        {"scene_over_png", scene_s / png_s},
                        {"all_tasks_over_png", all_s / png_s},
                        {"scene_over_memcpy", scene_s / memcpy_s},
                        {"machine", psalm::bench::machine()}};
    std::cout << j.dump() << "\n";
  } else {
    std::printf("%s", psalm::bench::machine_text().c_str());
    std::printf("synthetic scenes at 256 x 256 (best of 3 rounds of %d scenes, 1 thread)\n", n);
    std::printf("%-34s %10s %12s %12s\n", "stage", "ms/scene", "scenes/s", "vs png enc");
    const auto row = [&](const char* name, double s) {
      std::printf("%-34s %10.3f %12.1f %12.2f\n", name, s * 1e3, 1.0 / s, s / png_s);
    };
    row("scene (render + masks)", scene_s);
    row("referring + generalized", referring_s);
    row("interactive prompts", prompts_s);
    row("all tasks", all_s);
    row("baseline: PNG encode of the image", png_s);
    row("floor: memcpy of the image bytes", memcpy_s);
  }
  return sink == 0 ? 1 : 0;
}
