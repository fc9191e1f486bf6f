// Tests of psalm/data/synthetic/video.hpp: per-frame masks equal the moved objects' pixels,
// objects move, determinism, argument checks.
#include <catch2/catch.hpp>

#include "psalm/data/synthetic/video.hpp"

using namespace psalm::data::synthetic;

TEST_CASE("synthetic video: every frame's masks equal the moved objects' front-most pixels") {
  VideoOptions o;
  o.scene.height = 96, o.scene.width = 128, o.scene.seed = 3, o.scene.min_objects = 3;
  o.frames = 10;
  o.max_speed = 0.08;
  const Video v = generate_video(o, 1);
  REQUIRE(v.frames.size() == 10);
  int moved_out = 0;
  for (std::size_t t = 0; t < v.frames.size(); ++t) {
    const Scene& f = v.frames[t];
    REQUIRE(f.objects.size() == v.frames[0].objects.size());
    for (std::int64_t y = 0; y < f.height(); ++y)
      for (std::int64_t x = 0; x < f.width(); ++x) {
        int owner = 0;
        for (const Object& ob : f.objects)
          if (object_covers_pixel(ob, x, y)) owner = ob.id;  // later objects are in front
        REQUIRE(f.object_map[static_cast<std::size_t>(y * f.width() + x)] == owner);
      }
    const auto area = visible_areas(f);
    for (const Object& ob : f.objects) moved_out += area[static_cast<std::size_t>(ob.id)] == 0;
    // Object ids and attributes stay; positions follow constant velocities.
    for (std::size_t k = 0; k < f.objects.size(); ++k) {
      REQUIRE(f.objects[k].id == v.frames[0].objects[k].id);
      REQUIRE(f.objects[k].kind == v.frames[0].objects[k].kind);
      if (t >= 2) {
        const double step1 = v.frames[1].objects[k].cx - v.frames[0].objects[k].cx;
        REQUIRE(f.objects[k].cx - v.frames[0].objects[k].cx == Approx(double(t) * step1));
      }
    }
  }
  REQUIRE(v.frames[0].image.to_vector() != v.frames[5].image.to_vector());
  (void)moved_out;
}

TEST_CASE("synthetic video: some objects leave the frame in a long fast video") {
  VideoOptions o;
  o.scene.height = 64, o.scene.width = 64, o.scene.seed = 4;
  o.frames = 40;
  o.max_speed = 0.05;
  int left = 0;
  for (std::uint64_t index = 0; index < 5; ++index) {
    const Video v = generate_video(o, index);
    const auto area = visible_areas(v.frames.back());
    for (const Object& ob : v.frames.back().objects)
      left += area[static_cast<std::size_t>(ob.id)] == 0;
  }
  REQUIRE(left > 0);
}

TEST_CASE("synthetic video: deterministic and validated") {
  VideoOptions o;
  o.scene.height = 64, o.scene.width = 80, o.frames = 4;
  const Video a = generate_video(o, 2), b = generate_video(o, 2);
  for (std::size_t t = 0; t < a.frames.size(); ++t)
    REQUIRE(a.frames[t].image.to_vector() == b.frames[t].image.to_vector());
  o.frames = 1;
  REQUIRE_THROWS_AS(generate_video(o, 0), psalm::Error);
}
