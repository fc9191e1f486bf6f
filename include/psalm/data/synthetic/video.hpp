// psalm/data/synthetic/video.hpp — short synthetic videos for video object segmentation: the
// scene (seed, index) is the first frame; every object then moves with its own constant
// velocity and spin, so objects occlude each other, re-appear and leave the frame. Each frame
// is a full Scene (image, visible masks) with the same object ids.
// Depends on: scene, random. Test: tests/data/test_synthetic_video.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/synthetic/random.hpp"
#include "psalm/data/synthetic/scene.hpp"

namespace psalm::data::synthetic {

struct VideoOptions {
  SceneOptions scene;
  int frames = 12;          // 2 .. 64
  double max_speed = 0.04;  // per frame, as a fraction of min(H, W)
  double max_spin = 0.12;   // radians per frame
};

struct Video {
  std::vector<Scene> frames;
};

/// Video `index` of `options`: frame t shows every object at centre + t * velocity and
/// rotation + t * spin over the unchanged background. Deterministic in (seed, index).
inline Video generate_video(const VideoOptions& options, std::uint64_t index) {
  PSALM_CHECK(options.frames >= 2 && options.frames <= 64, "synthetic video: ", options.frames,
              " frames is outside 2 .. 64");
  PSALM_CHECK(options.max_speed >= 0 && options.max_spin >= 0,
              "synthetic video: max_speed and max_spin must be >= 0");
  Video video;
  video.frames.reserve(static_cast<std::size_t>(options.frames));  // `first` stays valid
  video.frames.push_back(generate_scene(options.scene, index));
  const Scene& first = video.frames.front();
  Draws d(options.scene.seed, index, Purpose::motion);
  const double side = static_cast<double>(std::min(first.height(), first.width()));
  std::vector<std::array<double, 3>> motion;  // (vx, vy, spin) per object
  for (std::size_t k = 0; k < first.objects.size(); ++k)
    motion.push_back({d.uniform(-1, 1) * options.max_speed * side,
                      d.uniform(-1, 1) * options.max_speed * side,
                      d.uniform(-1, 1) * options.max_spin});
  for (int t = 1; t < options.frames; ++t) {
    Scene frame;
    frame.options = first.options;
    frame.index = first.index;
    frame.stuff = first.stuff;
    frame.objects = first.objects;
    for (std::size_t k = 0; k < frame.objects.size(); ++k) {
      frame.objects[k].cx += t * motion[k][0];
      frame.objects[k].cy += t * motion[k][1];
      frame.objects[k].rotation += t * motion[k][2];
    }
    render_scene(frame);
    video.frames.push_back(std::move(frame));
  }
  return video;
}

}  // namespace psalm::data::synthetic
