// Tests of psalm/data/synthetic/{scene,render,geometry,vocabulary}.hpp: determinism, masks equal
// to an independent re-rasterisation, occlusion limits, panoptic / semantic consistency, the
// open-vocabulary split.
#include <catch2/catch.hpp>

#include <set>

#include "psalm/data/synthetic/scene.hpp"
#include "scene_options.hpp"

using namespace psalm::data::synthetic;
using psalm::testing::scene_options;

TEST_CASE("synthetic scene: same (seed, index) gives identical bytes, others differ") {
  const SceneOptions o = scene_options(7);
  const Scene a = generate_scene(o, 3), b = generate_scene(o, 3), c = generate_scene(o, 4);
  REQUIRE(a.image.to_vector() == b.image.to_vector());
  REQUIRE(a.object_map == b.object_map);
  REQUIRE(a.stuff_map == b.stuff_map);
  REQUIRE(a.image.to_vector() != c.image.to_vector());
  SceneOptions other = o;
  other.seed = 8;
  REQUIRE(generate_scene(other, 3).image.to_vector() != a.image.to_vector());
}

TEST_CASE("synthetic scene: every visible mask equals an independent re-rasterisation") {
  for (std::uint64_t index = 0; index < 6; ++index) {
    const Scene s = generate_scene(scene_options(11), index);
    const std::int64_t h = s.height(), w = s.width();
    REQUIRE(s.image.shape() == psalm::Shape{h, w, 3});
    REQUIRE(!s.objects.empty());
    // The owner of a pixel is the front-most object whose shape contains the pixel centre.
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) {
        int owner = 0;
        for (auto it = s.objects.rbegin(); it != s.objects.rend(); ++it)
          if (object_covers_pixel(*it, x, y)) {
            owner = it->id;
            break;
          }
        REQUIRE(s.object_map[static_cast<std::size_t>(y * w + x)] == owner);
      }
  }
}

TEST_CASE("synthetic scene: mask pixels show their object's colour or pattern colour") {
  const Scene s = generate_scene(scene_options(5), 2);
  const std::vector<std::uint8_t> rgb = s.image.to_vector();
  for (const Object& o : s.objects) {
    const Rgb primary = kColours[static_cast<int>(o.colour)].rgb, second = pattern_colour(o.colour);
    const std::vector<std::uint8_t> mask = visible_mask(s, o.id);
    std::int64_t pattern_pixels = 0, pixels = 0;
    for (std::size_t p = 0; p < mask.size(); ++p) {
      if (!mask[p]) continue;
      ++pixels;
      int d1 = 0, d2 = 0;
      for (int k = 0; k < 3; ++k) {
        d1 = std::max(d1, std::abs(int(rgb[3 * p + k]) - int(primary[k])));
        d2 = std::max(d2, std::abs(int(rgb[3 * p + k]) - int(second[k])));
      }
      REQUIRE(std::min(d1, d2) <= 6);
      if (d2 < d1) ++pattern_pixels;
    }
    INFO("object " << o.id << " pattern " << pattern_name(o.pattern));
    if (o.pattern == Pattern::solid) REQUIRE(pattern_pixels == 0);
    if (o.pattern != Pattern::solid && pixels > 400) REQUIRE(pattern_pixels > 0);
  }
}

TEST_CASE("synthetic scene: occlusion leaves every object its minimum visible share") {
  const SceneOptions o = scene_options(3);
  for (std::uint64_t index = 0; index < 10; ++index) {
    const Scene s = generate_scene(o, index);
    const auto visible = visible_areas(s);
    for (const Object& obj : s.objects) {
      std::int64_t full = 0;
      for (std::int64_t y = 0; y < s.height(); ++y)
        for (std::int64_t x = 0; x < s.width(); ++x) full += object_covers_pixel(obj, x, y);
      REQUIRE(visible[static_cast<std::size_t>(obj.id)] >= o.min_visible_pixels);
      REQUIRE(double(visible[static_cast<std::size_t>(obj.id)]) >=
              o.min_visible_fraction * double(full));
    }
  }
}

TEST_CASE("synthetic scene: some scenes have objects that occlude each other") {
  int occluded = 0;
  for (std::uint64_t index = 0; index < 10; ++index) {
    const Scene s = generate_scene(scene_options(9), index);
    const auto visible = visible_areas(s);
    for (const Object& obj : s.objects) {
      std::int64_t full = 0;
      for (std::int64_t y = 0; y < s.height(); ++y)
        for (std::int64_t x = 0; x < s.width(); ++x) full += object_covers_pixel(obj, x, y);
      occluded += visible[static_cast<std::size_t>(obj.id)] < full;
    }
  }
  REQUIRE(occluded > 0);
}

TEST_CASE("synthetic scene: panoptic segments tile the image and agree with the semantic map") {
  const Scene s = generate_scene(scene_options(21), 1);
  std::vector<std::int32_t> ids;
  const auto segments = panoptic_segments(s, &ids);
  std::int64_t total = 0;
  std::set<int> seen;
  for (const auto& seg : segments) {
    total += seg.area;
    REQUIRE(seen.insert(seg.id).second);
    REQUIRE(seg.isthing == (seg.category_id <= kNumShapes));
  }
  REQUIRE(total == s.height() * s.width());
  const auto semantic = semantic_map(s);
  for (std::size_t p = 0; p < ids.size(); ++p) {
    const auto it = std::find_if(segments.begin(), segments.end(),
                                 [&](const PanopticSegment& g) { return g.id == ids[p]; });
    REQUIRE(it != segments.end());
    REQUIRE(int(semantic[p]) == semantic_label(it->category_id));
  }
  // Thing segments keep the visible-mask area and its RLE bbox.
  for (const auto& seg : segments) {
    if (!seg.isthing) continue;
    const psalm::io::Rle rle = visible_rle(s, seg.id);
    REQUIRE(psalm::io::rle_area(rle) == seg.area);
    REQUIRE(psalm::io::rle_to_bbox(rle) == seg.bbox);
  }
}

TEST_CASE("synthetic scene: train never shows held-out categories, val does") {
  int held_out_in_val = 0;
  for (std::uint64_t index = 0; index < 20; ++index) {
    for (const Object& o : generate_scene(scene_options(2, Split::train), index).objects)
      REQUIRE_FALSE(is_held_out(o.kind, o.colour));
    for (const Object& o : generate_scene(scene_options(2, Split::val), index).objects)
      held_out_in_val += is_held_out(o.kind, o.colour);
  }
  REQUIRE(held_out_in_val > 0);
  const auto names = train_category_names();
  REQUIRE(std::find(names.begin(), names.end(), "heart") == names.end());
  REQUIRE(std::find(names.begin(), names.end(), "circle") != names.end());
  REQUIRE(panoptic_categories().size() == size_t(kNumShapes + kNumStuff));
}

TEST_CASE("synthetic scene: stuff regions cover the background with several classes") {
  const Scene s = generate_scene(scene_options(4), 0);
  std::set<int> classes(s.stuff_map.begin(), s.stuff_map.end());
  REQUIRE(classes.size() >= 2);
  REQUIRE(s.stuff.kinds.size() >= 2);
}

TEST_CASE("synthetic scene: sizes outside 64..1024 and bad counts are errors") {
  SceneOptions o = scene_options(1);
  o.height = 32;
  REQUIRE_THROWS_AS(generate_scene(o, 0), psalm::Error);
  o = scene_options(1);
  o.width = 2048;
  REQUIRE_THROWS_AS(generate_scene(o, 0), psalm::Error);
  o = scene_options(1);
  o.min_objects = 5;
  o.max_objects = 2;
  REQUIRE_THROWS_AS(generate_scene(o, 0), psalm::Error);
}

TEST_CASE("synthetic geometry: shapes are inside the unit disc and have their expected holes") {
  for (int k = 0; k < kNumShapes; ++k)
    for (double u = -1.2; u <= 1.2; u += 0.05)
      for (double v = -1.2; v <= 1.2; v += 0.05)
        if (u * u + v * v > 1.0001) {
          INFO("shape " << k << " at " << u << ", " << v);
          REQUIRE_FALSE(shape_contains(static_cast<ShapeKind>(k), u, v));
        }
  REQUIRE_FALSE(shape_contains(ShapeKind::ring, 0, 0));
  REQUIRE(shape_contains(ShapeKind::ring, 0.8, 0));
  REQUIRE(shape_contains(ShapeKind::star, 0, -0.95));      // top point
  REQUIRE_FALSE(shape_contains(ShapeKind::star, 0, 0.9));  // between the two lower points
  REQUIRE(shape_contains(ShapeKind::square, 0.69, 0.69));
  REQUIRE_FALSE(shape_contains(ShapeKind::diamond, 0.69, 0.69));
  REQUIRE_FALSE(shape_contains(ShapeKind::cross, 0.6, 0.6));
}
