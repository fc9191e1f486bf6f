// Not a check: writes the preview images of docs/data.md (hidden test, run on demand with
//   PSALM_SYNTH_DOCS_DIR=docs/images ./test_data "[.synthetic_docs]").
// Each preview is the scene, its panoptic overlay (segment colours blended, object outlines
// white), and its interactive prompts (point / scribble dilated as at load time, box outline).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "psalm/data/synthetic.hpp"

using namespace psalm::data::synthetic;

TEST_CASE("synthetic docs: write preview images", "[.synthetic_docs]") {
  const char* dir = std::getenv("PSALM_SYNTH_DOCS_DIR");
  REQUIRE(dir != nullptr);
  std::ofstream captions(std::string(dir) + "/synthetic_captions.txt");
  SceneOptions o;
  o.height = o.width = 256;
  o.seed = 2024;
  for (std::uint64_t index = 0; index < 3; ++index) {
    const Scene s = generate_scene(o, index);
    const std::int64_t h = s.height(), w = s.width();
    // Side by side: image | panoptic overlay | prompts.
    psalm::Tensor<std::uint8_t> out(psalm::Shape{h, 3 * w, 3});
    const std::uint8_t* img = s.image.data();
    std::vector<std::int32_t> ids;
    panoptic_segments(s, &ids);
    const auto prompts = interactive_prompts(s);
    const auto palette = psalm::io::davis_palette();
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) {
        const std::size_t p = static_cast<std::size_t>(y * w + x);
        std::uint8_t* row = out.data() + (y * 3 * w) * 3;
        for (int c = 0; c < 3; ++c) row[3 * x + c] = img[3 * p + c];
        const std::int32_t id = s.object_map[p];
        const auto& col = id > 0 ? palette[static_cast<std::size_t>(id)]
                                 : kStuff[static_cast<int>(s.stuff.kinds[s.stuff_map[p]])].base;
        const bool edge =
            (x + 1 < w && ids[p + 1] != ids[p]) || (y + 1 < h && ids[p + w] != ids[p]);
        for (int c = 0; c < 3; ++c)
          row[3 * (w + x) + c] =
              edge ? 255 : static_cast<std::uint8_t>((img[3 * p + c] + 2 * col[c]) / 3);
        std::array<std::uint8_t, 3> pc{static_cast<std::uint8_t>(img[3 * p] / 3),
                                       static_cast<std::uint8_t>(img[3 * p + 1] / 3),
                                       static_cast<std::uint8_t>(img[3 * p + 2] / 3)};
        for (std::size_t k = 0; k < prompts.size(); ++k) {
          const auto& col2 = palette[static_cast<std::size_t>(s.objects[k].id)];
          const bool box_edge =
              prompts[k].box[p] &&
              ((x == 0 || !prompts[k].box[p - 1]) || (x + 1 == w || !prompts[k].box[p + 1]) ||
               (y == 0 || !prompts[k].box[p - w]) || (y + 1 == h || !prompts[k].box[p + w]));
          if (box_edge || prompts[k].scribble[p]) pc = col2;
        }
        for (std::size_t k = 0; k < prompts.size(); ++k)
          if (prompts[k].point[p]) pc = {255, 255, 255};
        for (int c = 0; c < 3; ++c) row[3 * (2 * w + x) + c] = pc[c];
      }
    psalm::io::save_png(std::string(dir) + "/synthetic_scene_" + std::to_string(index) + ".png",
                        out);
    captions << "scene " << index << "\n";
    for (const Referent& r : referring_expressions(s))
      for (const auto& sent : r.sentences)
        captions << "  object " << r.object_id << ": " << sent << "\n";
    for (const auto& g : generalized_expressions(s)) {
      captions << "  generalized: " << g.sentence << " ->";
      for (int t : g.targets) captions << " " << t;
      captions << (g.targets.empty() ? " (no target)" : "") << "\n";
    }
  }
  // One short video: frames 0, 3, 6, 9 side by side with object outlines.
  VideoOptions vo;
  vo.scene = o;
  vo.scene.height = vo.scene.width = 160;
  vo.scene.min_objects = 4;
  vo.frames = 10;
  vo.max_speed = 0.05;
  const Video v = generate_video(vo, 7);
  const std::int64_t vh = 160, vw = 160;
  psalm::Tensor<std::uint8_t> strip(psalm::Shape{vh, 4 * vw, 3});
  const auto palette = psalm::io::davis_palette();
  for (int f = 0; f < 4; ++f) {
    const Scene& s = v.frames[static_cast<std::size_t>(3 * f)];
    for (std::int64_t y = 0; y < vh; ++y)
      for (std::int64_t x = 0; x < vw; ++x) {
        const std::size_t p = static_cast<std::size_t>(y * vw + x);
        const std::int32_t id = s.object_map[p];
        const bool edge =
            (x + 1 < vw && s.object_map[p + 1] != id) || (y + 1 < vh && s.object_map[p + vw] != id);
        std::uint8_t* dst = strip.data() + (y * 4 * vw + f * vw + x) * 3;
        for (int c = 0; c < 3; ++c)
          dst[c] = edge ? palette[static_cast<std::size_t>(std::max(id, 1))][c]
                        : s.image.data()[3 * p + c];
      }
  }
  psalm::io::save_png(std::string(dir) + "/synthetic_video.png", strip);
}
