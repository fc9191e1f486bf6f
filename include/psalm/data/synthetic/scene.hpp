// psalm/data/synthetic/scene.hpp — the scene graph of one synthetic image (stuff layout, things
// back to front) generated from (seed, index), its rendering, and the annotations every PSALM task
// reads from it: visible instance masks, panoptic segments, semantic labels.
// Depends on: tensor, io/rle, random, render, geometry, vocabulary.
// Test: tests/data/test_synthetic_scene.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/synthetic/geometry.hpp"
#include "psalm/data/synthetic/random.hpp"
#include "psalm/data/synthetic/render.hpp"
#include "psalm/data/synthetic/vocabulary.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::data::synthetic {

struct SceneOptions {
  std::int64_t height = 256;  // 64 .. 1024
  std::int64_t width = 256;   // 64 .. 1024
  std::uint64_t seed = 0;
  Split split = Split::train;
  int min_objects = 1;
  int max_objects = 8;
  double min_visible_fraction = 0.4;  // of an object's full area, after occlusion
  std::int64_t min_visible_pixels = 40;
  double held_out_rate = 0.35;  // val: chance that an object is drawn from the held-out set
};

inline void validate(const SceneOptions& o) {
  PSALM_CHECK(o.height >= 64 && o.height <= 1024 && o.width >= 64 && o.width <= 1024,
              "synthetic scene: size ", o.height, " x ", o.width, " is outside 64 .. 1024");
  PSALM_CHECK(o.min_objects >= 0 && o.max_objects >= o.min_objects && o.max_objects <= 64,
              "synthetic scene: object count range [", o.min_objects, ", ", o.max_objects,
              "] must satisfy 0 <= min <= max <= 64");
  PSALM_CHECK(o.min_visible_fraction >= 0 && o.min_visible_fraction <= 1,
              "synthetic scene: min_visible_fraction ", o.min_visible_fraction,
              " is not in [0, 1]");
}

/// One rendered scene with its graph. `objects` are back to front and have ids 1..N in order.
struct Scene {
  SceneOptions options;
  std::uint64_t index = 0;
  StuffLayout stuff;
  std::vector<Object> objects;
  Tensor<std::uint8_t> image;            // (H, W, 3) RGB
  std::vector<std::uint8_t> stuff_map;   // (H * W) index into stuff.kinds
  std::vector<std::int32_t> object_map;  // (H * W) id of the visible object, 0 = stuff

  std::int64_t height() const { return options.height; }
  std::int64_t width() const { return options.width; }
};

namespace detail {

inline Object draw_object(Draws& d, const SceneOptions& opt, int id) {
  Object o;
  o.id = id;
  const bool want_held_out = opt.split == Split::val && d.chance(opt.held_out_rate);
  for (int attempt = 0;; ++attempt) {
    o.kind = static_cast<ShapeKind>(d.integer(0, kNumShapes - 1));
    o.colour = static_cast<Colour>(d.integer(0, kNumColours - 1));
    const bool held = is_held_out(o.kind, o.colour);
    if (opt.split == Split::train ? !held : (held == want_held_out || attempt > 50)) break;
  }
  o.size = static_cast<SizeClass>(d.integer(0, kNumSizes - 1));
  o.pattern = static_cast<Pattern>(d.integer(0, kNumPatterns - 1));
  const double side = static_cast<double>(std::min(opt.height, opt.width));
  const auto& range = kSizeRadius[static_cast<int>(o.size)];
  o.radius = side * d.uniform(range[0], range[1]);
  o.cx = d.uniform(o.radius, static_cast<double>(opt.width) - o.radius);
  o.cy = d.uniform(o.radius, static_cast<double>(opt.height) - o.radius);
  o.rotation = d.uniform(0, 2 * kPi);
  o.pattern_angle = d.uniform(0, kPi);
  o.pattern_period = std::max(4.0, o.radius * d.uniform(0.3, 0.45));
  return o;
}

inline StuffLayout draw_layout(Draws& d, const SceneOptions& opt, std::uint64_t index) {
  StuffLayout layout;
  const int regions = d.integer(2, 4);
  std::array<int, kNumStuff> order{};
  for (int k = 0; k < kNumStuff; ++k) order[k] = k;
  for (int k = kNumStuff - 1; k > 0; --k) std::swap(order[k], order[d.integer(0, k)]);
  const double w = static_cast<double>(opt.width), h = static_cast<double>(opt.height);
  for (int r = 0; r < regions; ++r) {
    const auto kind = static_cast<StuffKind>(order[r]);
    layout.kinds.push_back(kind);
    // Sky sits at the top; the ground classes lower down.
    const double y = kind == StuffKind::sky ? d.uniform(0.0, 0.1) * h : d.uniform(0.35, 1.0) * h;
    layout.seeds.push_back({d.uniform(0.0, 1.0) * w, y});
  }
  const double side = std::min(w, h);
  layout.warp_amplitude = side * d.uniform(0.08, 0.16);
  layout.warp_cell = std::max(8.0, side / d.uniform(3.0, 6.0));
  layout.lattice_rng =
      CounterRng{opt.seed, index * 16 + static_cast<std::uint64_t>(Purpose::noise_lattice)};
  return layout;
}

}  // namespace detail

/// Renders a scene graph (layout + objects) of size height x width into `scene`'s image and maps.
inline void render_scene(Scene& scene) {
  const std::int64_t h = scene.height(), w = scene.width();
  scene.stuff_map = render_stuff_regions(scene.stuff, h, w);
  scene.object_map.assign(static_cast<std::size_t>(h * w), 0);
  paint_objects(scene.objects, h, w, scene.object_map);
  scene.image = Tensor<std::uint8_t>::empty(Shape{h, w, 3});
  const CounterRng pixel_rng{scene.options.seed,
                             scene.index * 16 + static_cast<std::uint64_t>(Purpose::pixels)};
  shade_image(scene.stuff, scene.stuff_map, scene.objects, scene.object_map, h, w, pixel_rng,
              scene.image.data());
}

/// The scene (seed, index) of `options`: 2-4 stuff regions, then min..max objects placed one by
/// one on top; a candidate that would leave any object (itself included) with less than
/// `min_visible_fraction` of its area or `min_visible_pixels` pixels visible is redrawn (up to
/// 30 times, then skipped). The same (options, index) always gives identical bytes.
inline Scene generate_scene(const SceneOptions& options, std::uint64_t index) {
  validate(options);
  Scene scene;
  scene.options = options;
  scene.index = index;
  Draws layout_draws(options.seed, index, Purpose::layout);
  scene.stuff = detail::draw_layout(layout_draws, options, index);
  Draws d(options.seed, index, Purpose::objects);
  const int count = d.integer(options.min_objects, options.max_objects);
  const std::int64_t h = options.height, w = options.width;
  std::vector<std::int32_t> map(static_cast<std::size_t>(h * w), 0);
  std::vector<std::int64_t> full, visible;  // per placed object (index id - 1)
  std::vector<std::int64_t> covered;
  std::vector<std::size_t> pixels;
  for (int n = 0; n < count; ++n) {
    for (int attempt = 0; attempt < 30; ++attempt) {
      const Object o = detail::draw_object(d, options, static_cast<int>(scene.objects.size()) + 1);
      const PixelBox b = object_pixel_box(o, h, w);
      pixels.clear();
      covered.assign(scene.objects.size() + 1, 0);
      for (std::int64_t y = b.y0; y < b.y1; ++y)
        for (std::int64_t x = b.x0; x < b.x1; ++x)
          if (object_covers_pixel(o, x, y)) {
            const std::size_t p = static_cast<std::size_t>(y * w + x);
            pixels.push_back(p);
            ++covered[static_cast<std::size_t>(map[p])];
          }
      const auto area = static_cast<std::int64_t>(pixels.size());
      bool ok = area >= options.min_visible_pixels;
      for (std::size_t k = 0; ok && k < scene.objects.size(); ++k) {
        const std::int64_t left = visible[k] - covered[k + 1];
        ok = left >= options.min_visible_pixels &&
             static_cast<double>(left) >=
                 options.min_visible_fraction * static_cast<double>(full[k]);
      }
      if (!ok) continue;
      for (const std::size_t p : pixels) map[p] = o.id;
      for (std::size_t k = 0; k < scene.objects.size(); ++k) visible[k] -= covered[k + 1];
      scene.objects.push_back(o);
      full.push_back(area);
      visible.push_back(area);
      break;
    }
  }
  render_scene(scene);
  return scene;
}

// ---- annotations ---------------------------------------------------------------------------

/// The visible mask (H * W bytes, 0 / 1) of object `id`.
inline std::vector<std::uint8_t> visible_mask(const Scene& scene, int id) {
  std::vector<std::uint8_t> mask(scene.object_map.size());
  for (std::size_t p = 0; p < mask.size(); ++p) mask[p] = scene.object_map[p] == id ? 1 : 0;
  return mask;
}

/// The visible mask of object `id` as a COCO RLE.
inline io::Rle visible_rle(const Scene& scene, int id) {
  const std::vector<std::uint8_t> m = visible_mask(scene, id);
  return io::rle_encode(m.data(), scene.height(), scene.width());
}

/// The object with instance id `id`.
inline const Object& object_by_id(const Scene& scene, int id) {
  for (const Object& o : scene.objects)
    if (o.id == id) return o;
  fail("synthetic scene: no object with id ", id);
}

/// Visible pixel count of each object, indexed by id (entry 0 counts stuff pixels).
inline std::vector<std::int64_t> visible_areas(const Scene& scene) {
  int max_id = 0;
  for (const Object& o : scene.objects) max_id = std::max(max_id, o.id);
  std::vector<std::int64_t> area(static_cast<std::size_t>(max_id) + 1, 0);
  for (const std::int32_t id : scene.object_map) ++area[static_cast<std::size_t>(id)];
  return area;
}

/// The semantic label map (H * W): `semantic_label(category id)` of each pixel's thing or stuff.
inline std::vector<std::uint8_t> semantic_map(const Scene& scene) {
  std::vector<std::uint8_t> labels(scene.object_map.size());
  std::vector<std::uint8_t> thing_label(scene.objects.size() + 1, 0);
  int max_id = 0;
  for (const Object& o : scene.objects) max_id = std::max(max_id, o.id);
  thing_label.assign(static_cast<std::size_t>(max_id) + 1, 0);
  for (const Object& o : scene.objects)
    thing_label[static_cast<std::size_t>(o.id)] =
        static_cast<std::uint8_t>(semantic_label(thing_category_id(o.kind)));
  for (std::size_t p = 0; p < labels.size(); ++p) {
    const std::int32_t id = scene.object_map[p];
    labels[p] = id > 0 ? thing_label[static_cast<std::size_t>(id)]
                       : static_cast<std::uint8_t>(semantic_label(
                             stuff_category_id(scene.stuff.kinds[scene.stuff_map[p]])));
  }
  return labels;
}

/// One segment of the panoptic annotation. Things keep their object id as segment id; stuff
/// segments (one per stuff class present, regions of one class merged) get 1000 + category id.
struct PanopticSegment {
  int id = 0;
  int category_id = 0;
  bool isthing = false;
  std::int64_t area = 0;
  std::array<double, 4> bbox{};  // [x, y, w, h] of the visible pixels
};

/// The panoptic segment id of every pixel (H * W) and the segments with area > 0, things first
/// (in object order) then stuff (in category order).
inline std::vector<PanopticSegment> panoptic_segments(const Scene& scene,
                                                      std::vector<std::int32_t>* id_map = nullptr) {
  const std::int64_t w = scene.width();
  std::vector<std::int32_t> ids(scene.object_map.size());
  for (std::size_t p = 0; p < ids.size(); ++p) {
    const std::int32_t id = scene.object_map[p];
    ids[p] = id > 0 ? id : 1000 + stuff_category_id(scene.stuff.kinds[scene.stuff_map[p]]);
  }
  std::vector<PanopticSegment> segments;
  const auto add = [&](int id, int category, bool isthing) {
    PanopticSegment s{id, category, isthing, 0, {}};
    std::int64_t x0 = w, y0 = scene.height(), x1 = -1, y1 = -1;
    for (std::size_t p = 0; p < ids.size(); ++p) {
      if (ids[p] != id) continue;
      ++s.area;
      const std::int64_t x = static_cast<std::int64_t>(p) % w, y = static_cast<std::int64_t>(p) / w;
      x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    }
    if (s.area == 0) return;
    s.bbox = {double(x0), double(y0), double(x1 - x0 + 1), double(y1 - y0 + 1)};
    segments.push_back(s);
  };
  for (const Object& o : scene.objects) add(o.id, thing_category_id(o.kind), true);
  for (int k = 0; k < kNumStuff; ++k) {
    const int cat = stuff_category_id(static_cast<StuffKind>(k));
    add(1000 + cat, cat, false);
  }
  if (id_map != nullptr) *id_map = std::move(ids);
  return segments;
}

}  // namespace psalm::data::synthetic
