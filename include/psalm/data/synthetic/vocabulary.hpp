// psalm/data/synthetic/vocabulary.hpp — the words of the synthetic scenes: thing shapes, named
// colours, sizes, fill patterns, stuff classes, the panoptic category list (ids, isthing) and the
// open-vocabulary split (shapes and colour-shape pairs held out of training).
// Depends on: std only. Test: tests/data/test_synthetic_scene.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace psalm::data::synthetic {

using Rgb = std::array<std::uint8_t, 3>;

enum class ShapeKind : std::uint8_t {
  circle,
  square,
  triangle,
  star,
  ring,
  cross,
  hexagon,
  diamond,
  pentagon,
  ellipse,
  heart,
  moon
};
inline constexpr int kNumShapes = 12;

enum class Colour : std::uint8_t {
  red,
  green,
  blue,
  yellow,
  purple,
  orange,
  white,
  black,
  pink,
  cyan
};
inline constexpr int kNumColours = 10;

enum class SizeClass : std::uint8_t { small, medium, large };
inline constexpr int kNumSizes = 3;

enum class Pattern : std::uint8_t { solid, striped, dotted };
inline constexpr int kNumPatterns = 3;

enum class StuffKind : std::uint8_t { sky, grass, water, sand, wall, floor };
inline constexpr int kNumStuff = 6;

/// Which part of the data a scene belongs to: `train` never shows a held-out shape or
/// colour-shape pair; `val` shows them often (open-vocabulary evaluation).
enum class Split : std::uint8_t { train, val };

struct ShapeInfo {
  std::string_view name, plural;
  bool held_out;  // open-vocabulary: never in train scenes
};

inline constexpr std::array<ShapeInfo, kNumShapes> kShapes = {{
    {"circle", "circles", false},
    {"square", "squares", false},
    {"triangle", "triangles", false},
    {"star", "stars", false},
    {"ring", "rings", false},
    {"cross", "crosses", false},
    {"hexagon", "hexagons", false},
    {"diamond", "diamonds", false},
    {"pentagon", "pentagons", false},
    {"ellipse", "ellipses", false},
    {"heart", "hearts", true},
    {"moon", "moons", true},
}};

struct ColourInfo {
  std::string_view name;
  Rgb rgb;
};

inline constexpr std::array<ColourInfo, kNumColours> kColours = {{
    {"red", {220, 30, 30}},
    {"green", {40, 170, 50}},
    {"blue", {30, 70, 220}},
    {"yellow", {240, 215, 30}},
    {"purple", {140, 50, 180}},
    {"orange", {245, 130, 20}},
    {"white", {245, 245, 245}},
    {"black", {20, 20, 20}},
    {"pink", {245, 130, 190}},
    {"cyan", {40, 210, 220}},
}};

inline constexpr std::array<std::string_view, kNumSizes> kSizeNames = {"small", "medium", "large"};
/// Radius range of each size class as a fraction of min(height, width).
inline constexpr std::array<std::array<double, 2>, kNumSizes> kSizeRadius = {
    {{0.055, 0.075}, {0.09, 0.12}, {0.145, 0.18}}};

inline constexpr std::array<std::string_view, kNumPatterns> kPatternNames = {"solid", "striped",
                                                                             "dotted"};

struct StuffInfo {
  std::string_view name;
  Rgb base;
};

inline constexpr std::array<StuffInfo, kNumStuff> kStuff = {{
    {"sky", {135, 185, 235}},
    {"grass", {70, 135, 55}},
    {"water", {40, 95, 150}},
    {"sand", {210, 185, 135}},
    {"wall", {170, 95, 75}},
    {"floor", {150, 120, 90}},
}};

/// Colour-shape pairs held out of training (open vocabulary), besides the held-out shapes.
inline constexpr std::array<std::pair<Colour, ShapeKind>, 3> kHeldOutPairs = {{
    {Colour::orange, ShapeKind::star},
    {Colour::blue, ShapeKind::triangle},
    {Colour::yellow, ShapeKind::ring},
}};

inline std::string_view shape_name(ShapeKind k) { return kShapes[static_cast<int>(k)].name; }
inline std::string_view shape_plural(ShapeKind k) { return kShapes[static_cast<int>(k)].plural; }
inline std::string_view colour_name(Colour c) { return kColours[static_cast<int>(c)].name; }
inline std::string_view size_name(SizeClass s) { return kSizeNames[static_cast<int>(s)]; }
inline std::string_view pattern_name(Pattern p) { return kPatternNames[static_cast<int>(p)]; }
inline std::string_view stuff_name(StuffKind s) { return kStuff[static_cast<int>(s)].name; }

/// True when a thing of this shape and colour may appear only in `val` scenes.
inline bool is_held_out(ShapeKind kind, Colour colour) {
  if (kShapes[static_cast<int>(kind)].held_out) return true;
  for (const auto& [c, k] : kHeldOutPairs)
    if (c == colour && k == kind) return true;
  return false;
}

/// One panoptic category. Things are the shapes (ids 1..12), stuff the backgrounds (13..18);
/// the contiguous index in `panoptic_categories()` is the semantic label.
struct Category {
  int id;
  std::string name;
  bool isthing;
  bool held_out;  // the whole category is unseen in training (open vocabulary)
  Rgb color;      // a display colour for overlays
};

inline int thing_category_id(ShapeKind k) { return 1 + static_cast<int>(k); }
inline int stuff_category_id(StuffKind s) { return 1 + kNumShapes + static_cast<int>(s); }
/// Semantic label (contiguous, 0-based) of a category id.
inline int semantic_label(int category_id) { return category_id - 1; }

inline const std::vector<Category>& panoptic_categories() {
  static const std::vector<Category> categories = [] {
    std::vector<Category> out;
    for (int k = 0; k < kNumShapes; ++k) {
      const auto hue = static_cast<std::uint8_t>(40 + 17 * k);
      out.push_back({thing_category_id(static_cast<ShapeKind>(k)), std::string(kShapes[k].name),
                     true, kShapes[k].held_out,
                     Rgb{hue, static_cast<std::uint8_t>(255 - hue), 200}});
    }
    for (int s = 0; s < kNumStuff; ++s)
      out.push_back({stuff_category_id(static_cast<StuffKind>(s)), std::string(kStuff[s].name),
                     false, false, kStuff[s].base});
    return out;
  }();
  return categories;
}

/// Category names seen in training (held-out categories removed), in category order.
inline std::vector<std::string> train_category_names() {
  std::vector<std::string> out;
  for (const auto& c : panoptic_categories())
    if (!c.held_out) out.push_back(c.name);
  return out;
}

}  // namespace psalm::data::synthetic
