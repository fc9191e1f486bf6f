// Tests of psalm/data/synthetic/prompts.hpp: prompts lie on their objects as the rules of
// PSALM_SPEC §2.4 promise (point on the mask, box near the component box, scribble across it,
// blurred mask a smooth superset), connected components, dilation.
#include <catch2/catch.hpp>

#include "psalm/data/synthetic/prompts.hpp"

using namespace psalm::data::synthetic;

namespace {

std::array<double, 4> mask_box(const std::vector<std::uint8_t>& m, std::int64_t w) {
  double x0 = 1e9, y0 = 1e9, x1 = -1, y1 = -1;
  for (std::size_t p = 0; p < m.size(); ++p)
    if (m[p]) {
      const double x = double(std::int64_t(p) % w), y = double(std::int64_t(p) / w);
      x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    }
  return {x0, y0, x1 + 1, y1 + 1};
}

double iou(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double iw = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  const double ih = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  return iw * ih / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih);
}

std::int64_t count(const std::vector<std::uint8_t>& m) {
  std::int64_t n = 0;
  for (auto v : m) n += v;
  return n;
}

}  // namespace

TEST_CASE("synthetic prompts: points, boxes, scribbles and masks lie on their objects") {
  SceneOptions o;
  o.height = 160, o.width = 200, o.seed = 31, o.min_objects = 3, o.max_objects = 8;
  int checked = 0;
  for (std::uint64_t index = 0; index < 12; ++index) {
    const Scene s = generate_scene(o, index);
    const auto prompts = interactive_prompts(s);
    REQUIRE(prompts.size() == s.objects.size());
    for (std::size_t k = 0; k < prompts.size(); ++k) {
      const int id = s.objects[k].id;
      const auto gt = visible_mask(s, id);
      const auto comps = connected_components(gt, s.height(), s.width());
      const auto& pr = prompts[k];
      INFO("scene " << index << " object " << id << " with " << comps.size() << " components");
      // One point per component, each on the mask.
      REQUIRE(count(pr.point) == std::int64_t(comps.size()));
      for (std::size_t p = 0; p < gt.size(); ++p)
        if (pr.point[p]) REQUIRE(gt[p] == 1);
      if (comps.size() == 1) {
        // A box jittered by [0.9, 1.1] per side length keeps IoU >= 0.8 with the mask's box.
        REQUIRE(iou(mask_box(pr.box, s.width()), mask_box(gt, s.width())) >= 0.75);
        // The scribble crosses the object's box and touches the mask or passes close to it.
        const auto sb = mask_box(pr.scribble, s.width());
        REQUIRE(count(pr.scribble) >= 3);
        REQUIRE(iou(sb, mask_box(gt, s.width())) > 0.0);
      }
      // The blurred, mean-thresholded mask is a superset with IoU >= 0.5.
      std::int64_t inter = 0, uni = 0, missed = 0;
      for (std::size_t p = 0; p < gt.size(); ++p) {
        inter += gt[p] && pr.mask[p];
        uni += gt[p] || pr.mask[p];
        missed += gt[p] && !pr.mask[p];
      }
      REQUIRE(double(inter) / double(uni) >= 0.5);
      REQUIRE(double(missed) <= 0.02 * double(count(gt)));
      ++checked;
    }
  }
  REQUIRE(checked > 30);
}

TEST_CASE("synthetic prompts: connected components are 8-connected and drop areas <= 5") {
  const std::int64_t h = 6, w = 8;
  std::vector<std::uint8_t> m(h * w, 0);
  // A diagonal of 7 pixels (one 8-connected component) and a separate blob of 3 pixels.
  for (int k = 0; k < 6; ++k) m[k * w + k] = 1;
  m[5 * w + 6] = 1;
  m[0 * w + 7] = m[1 * w + 7] = m[2 * w + 7] = 1;
  const auto comps = connected_components(m, h, w);
  REQUIRE(comps.size() == 1);
  REQUIRE(comps[0].pixels.size() == 7);
  REQUIRE(comps[0].box == std::array<std::int64_t, 4>{0, 0, 6, 5});
  REQUIRE(connected_components(m, h, w, 2).size() == 2);
}

TEST_CASE("synthetic prompts: disc dilation grows one pixel into a disc of the radius") {
  const std::int64_t h = 41, w = 41;
  std::vector<std::uint8_t> m(h * w, 0);
  m[20 * w + 20] = 1;
  const auto d = dilate_disc(m, h, w, 10);
  std::int64_t n = 0;
  for (std::int64_t dy = -10; dy <= 10; ++dy)
    for (std::int64_t dx = -10; dx <= 10; ++dx) n += dx * dx + dy * dy <= 100;
  REQUIRE(count(d) == n);
  REQUIRE(d[20 * w + 30] == 1);
  REQUIRE(d[30 * w + 30] == 0);
}

TEST_CASE("synthetic prompts: the same scene gives the same prompts") {
  SceneOptions o;
  o.seed = 5;
  const auto a = interactive_prompts(generate_scene(o, 2));
  const auto b = interactive_prompts(generate_scene(o, 2));
  REQUIRE(a.size() == b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    REQUIRE(a[k].point == b[k].point);
    REQUIRE(a[k].scribble == b[k].scribble);
    REQUIRE(a[k].box == b[k].box);
    REQUIRE(a[k].mask == b[k].mask);
  }
}
