// Tests for psalm/psalm/visual_prompt.hpp: points, scribbles, boxes and masks rasterised at the
// original size and brought to the model input, against a NumPy / scikit-image / Pillow
// transcription of the official mapper (coco_instance_mapper.py enhance_with_circles,
// skimage.draw.line, detectron2 resize + pad; tests/fixtures/psalm/prompts.json); the synthetic
// generator's dilation (same convention); agreement with the image's padding; errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "psalm/core/rng.hpp"
#include "psalm/data/synthetic/prompts.hpp"
#include "psalm/psalm/preprocess.hpp"
#include "psalm/psalm/visual_prompt.hpp"
#include "schema_fixture.hpp"

using namespace psalm;
using psalm::testing::schema_fixture;

namespace {

std::string bits_of(const Tensor<std::uint8_t>& t) {
  const Tensor<std::uint8_t> c = t.contiguous();
  std::string s(static_cast<std::size_t>(c.numel()), '0');
  for (std::int64_t i = 0; i < c.numel(); ++i)
    s[static_cast<std::size_t>(i)] = c.data()[i] ? '1' : '0';
  return s;
}

VisualPrompt prompt_of(const nlohmann::json& j, std::int64_t h, std::int64_t w) {
  const std::string kind = j.at("kind");
  if (kind == "mask") {
    const std::string bits = j.at("mask");
    Tensor<std::uint8_t> m(Shape{h, w});
    for (std::int64_t i = 0; i < h * w; ++i)
      m.data()[i] = bits[static_cast<std::size_t>(i)] == '1' ? 255 : 0;
    return VisualPrompt::from_mask(m);
  }
  std::vector<PromptPoint> pts;
  for (const auto& p : j.at("points"))
    pts.push_back({p.at(0).get<double>(), p.at(1).get<double>()});
  if (kind == "point") return VisualPrompt::clicks(pts);
  if (kind == "scribble") return VisualPrompt::scribble(pts);
  REQUIRE(kind == "box");
  return VisualPrompt::box(pts[0].x, pts[0].y, pts[1].x, pts[1].y);
}

}  // namespace

TEST_CASE("visual prompt: rasterised and resized masks match the official mapper",
          "[psalm][visual_prompt]") {
  int checked = 0;
  for (const auto& c : schema_fixture().at("visual_prompts")) {
    const std::int64_t h = c.at("height"), w = c.at("width"), t = c.at("target");
    INFO("image " << w << "x" << h << " -> " << t);
    std::vector<VisualPrompt> prompts;
    for (std::size_t k = 0; k < c.at("prompts").size(); ++k) {
      INFO("prompt " << k << " " << c.at("prompts")[k].at("kind").get<std::string>());
      prompts.push_back(prompt_of(c.at("prompts")[k], h, w));
      REQUIRE(bits_of(rasterize_visual_prompt(prompts.back(), h, w)) ==
              c.at("original")[k].get<std::string>());
    }
    const Tensor<std::uint8_t> masks = visual_prompt_masks(prompts, h, w, t);  // (K, T, T)
    REQUIRE(masks.shape() == Shape{static_cast<std::int64_t>(prompts.size()), t, t});
    for (std::int64_t k = 0; k < masks.size(0); ++k) {
      INFO("prompt " << k);
      REQUIRE(bits_of(masks.select(0, k)) ==
              c.at("masks")[static_cast<std::size_t>(k)].get<std::string>());
    }
    ++checked;
  }
  REQUIRE(checked == 4);
}

TEST_CASE("visual prompt: point and scribble dilation agree with the synthetic generator's",
          "[psalm][visual_prompt]") {
  // data/synthetic/prompts.hpp dilates its generated prompts with the same disc rule.
  const std::int64_t h = 41, w = 57;
  const CounterRng rng{5, 0};
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<PromptPoint> clicks;
    std::vector<std::uint8_t> seeds(static_cast<std::size_t>(h * w), 0);
    for (int i = 0; i < 4; ++i) {
      const auto x = static_cast<std::int64_t>(rng.uniform(trial * 16 + 2 * i) * w);
      const auto y = static_cast<std::int64_t>(rng.uniform(trial * 16 + 2 * i + 1) * h);
      clicks.push_back({double(x), double(y)});
      seeds[static_cast<std::size_t>(y * w + x)] = 1;
    }
    for (const std::int64_t radius : {0, 1, 5, 10}) {
      INFO("trial " << trial << " radius " << radius);
      VisualPromptOptions opt;
      opt.point_radius = radius;
      const auto ours = rasterize_visual_prompt(VisualPrompt::clicks(clicks), h, w, opt);
      const auto theirs = data::synthetic::dilate_disc(seeds, h, w, radius);
      REQUIRE(ours.to_vector() == theirs);
    }
  }
}

TEST_CASE("visual prompt: resize and pad follow the image's geometry", "[psalm][visual_prompt]") {
  for (const auto& [h, w, t] :
       {std::array<std::int64_t, 3>{37, 50, 32}, {50, 37, 64}, {64, 64, 64}, {3, 200, 50}}) {
    INFO(w << "x" << h << " -> " << t);
    const Tensor<std::uint8_t> full =
        rasterize_visual_prompt(VisualPrompt::box(0, 0, double(w - 1), double(h - 1)), h, w);
    const Tensor<std::uint8_t> padded = resize_pad_mask(full, t);  // (T, T)
    const PreprocessedImage image =
        preprocess_image(Tensor<std::uint8_t>::zeros(Shape{h, w, 3}), PreprocessOptions{t});
    for (std::int64_t i = 0; i < t * t; ++i)
      REQUIRE(padded.data()[i] == 1 - image.padding_mask.data()[i]);
  }
}

TEST_CASE("visual prompt: boxes are inclusive and corner order does not matter",
          "[psalm][visual_prompt]") {
  const auto a = rasterize_visual_prompt(VisualPrompt::box(2, 1, 4, 3), 5, 6);
  const auto b = rasterize_visual_prompt(VisualPrompt::box(4, 1, 2, 3), 5, 6);
  REQUIRE(a.to_vector() == b.to_vector());
  REQUIRE(bits_of(a) ==
          "000000"
          "001110"
          "001110"
          "001110"
          "000000");
  // Fractional coordinates round to the nearest pixel, halves up.
  const auto c = rasterize_visual_prompt(VisualPrompt::box(1.5, 0.6, 4.49, 3.4), 5, 6);
  REQUIRE(c.to_vector() == a.to_vector());
  // A one-vertex scribble is a dot grown by the scribble radius.
  VisualPromptOptions opt;
  opt.scribble_radius = 1;
  const auto dot = rasterize_visual_prompt(VisualPrompt::scribble({{2, 2}}), 5, 5, opt);
  REQUIRE(bits_of(dot) ==
          "00000"
          "00100"
          "01110"
          "00100"
          "00000");
}

TEST_CASE("visual prompt: bad prompts are clear errors", "[psalm][visual_prompt]") {
  REQUIRE_THROWS_WITH(rasterize_visual_prompt(VisualPrompt::point(10, 3), 5, 10),
                      Catch::Contains("outside the 10x5 image"));
  REQUIRE_THROWS_WITH(rasterize_visual_prompt(VisualPrompt::point(-0.6, 3), 5, 10),
                      Catch::Contains("outside"));
  REQUIRE_NOTHROW(rasterize_visual_prompt(VisualPrompt::point(-0.4, 4.4), 5, 10));
  REQUIRE_THROWS_WITH(rasterize_visual_prompt(
                          VisualPrompt::point(std::numeric_limits<double>::quiet_NaN(), 1), 5, 10),
                      Catch::Contains("not finite"));
  REQUIRE_THROWS_WITH(rasterize_visual_prompt(VisualPrompt::scribble({{1, 1}, {3, 9}}), 5, 10),
                      Catch::Contains("coordinate 1"));
  REQUIRE_THROWS_WITH(rasterize_visual_prompt(VisualPrompt::box(0, 0, 20, 1), 5, 10),
                      Catch::Contains("outside"));
  VisualPrompt one_corner = VisualPrompt::box(0, 0, 1, 1);
  one_corner.points.pop_back();
  REQUIRE_THROWS_WITH(rasterize_visual_prompt(one_corner, 5, 10), Catch::Contains("two corners"));
  REQUIRE_THROWS_WITH(rasterize_visual_prompt(VisualPrompt::clicks({}), 5, 10),
                      Catch::Contains("needs coordinates"));
  REQUIRE_THROWS_WITH(rasterize_visual_prompt(
                          VisualPrompt::from_mask(Tensor<std::uint8_t>::ones(Shape{4, 10})), 5, 10),
                      Catch::Contains("like the image"));
  REQUIRE_THROWS_WITH(
      rasterize_visual_prompt(VisualPrompt::from_mask(Tensor<std::uint8_t>::zeros(Shape{5, 10})), 5,
                              10),
      Catch::Contains("covers no pixel"));
  // One pixel of a 100 x 100 mask that NEAREST downscaling to 10 x 10 never reads.
  Tensor<std::uint8_t> speck = Tensor<std::uint8_t>::zeros(Shape{100, 100});
  speck.data()[0] = 1;
  const std::vector<VisualPrompt> prompts{VisualPrompt::point(50, 50),
                                          VisualPrompt::from_mask(speck)};
  REQUIRE_THROWS_WITH(visual_prompt_masks(prompts, 100, 100, 10),
                      Catch::Contains("visual prompt 1 (mask) covers no pixel after resizing"));
  REQUIRE_THROWS_WITH(
      visual_prompt_masks(std::vector<VisualPrompt>{VisualPrompt::point(0, 7)}, 5, 10, 8),
      Catch::Contains("visual prompt 0"));
  REQUIRE_THROWS_AS(visual_prompt_masks(std::vector<VisualPrompt>{}, 5, 10, 8), Error);
  REQUIRE_THROWS_AS(rasterize_visual_prompt(VisualPrompt::point(0, 0), 0, 10), Error);
}
