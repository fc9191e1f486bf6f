// Test support for tests/data/: the scene options the synthetic-data tests draw from (3 to 9
// objects, a 160 x 192 canvas unless a test asks for another size).
// Test: tests/data/test_synthetic_scene.cpp
#pragma once

#include <cstdint>

#include "psalm/data/synthetic/scene.hpp"

namespace psalm::testing {

inline data::synthetic::SceneOptions scene_options(
    std::uint64_t seed, data::synthetic::Split split = data::synthetic::Split::train,
    std::int64_t height = 160, std::int64_t width = 192) {
  data::synthetic::SceneOptions o;
  o.height = height;
  o.width = width;
  o.seed = seed;
  o.split = split;
  o.min_objects = 3;
  o.max_objects = 9;
  return o;
}

}  // namespace psalm::testing
