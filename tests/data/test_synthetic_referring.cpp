// Tests of psalm/data/synthetic/referring.hpp against the independent text resolver of
// resolver.hpp: every referring sentence resolves to exactly its object, generalized ones to
// their targets, no-target ones to nothing.
#include <catch2/catch.hpp>

#include <set>

#include "psalm/data/synthetic/referring.hpp"
#include "psalm/data/synthetic/resolver.hpp"
#include "scene_options.hpp"

using namespace psalm::data::synthetic;
using psalm::testing::scene_options;

namespace {

// Referring scenes are square.
SceneOptions options_for(std::uint64_t seed, Split split = Split::train) {
  return scene_options(seed, split, 192, 192);
}

}  // namespace

TEST_CASE("synthetic referring: every sentence resolves to exactly its object") {
  int sentences = 0, relations = 0, extremes = 0, referents = 0;
  for (std::uint64_t index = 0; index < 40; ++index) {
    const Scene s = generate_scene(options_for(13, index % 2 ? Split::val : Split::train), index);
    for (const Referent& r : referring_expressions(s)) {
      ++referents;
      REQUIRE(!r.sentences.empty());
      for (const std::string& sentence : r.sentences) {
        INFO("scene " << index << ": '" << sentence << "' for object " << r.object_id);
        REQUIRE(resolve_expression(s, sentence) == std::vector<int>{r.object_id});
        ++sentences;
        relations += sentence.find(" of ") != std::string::npos ||
                     sentence.find("above") != std::string::npos ||
                     sentence.find("below") != std::string::npos;
        extremes += sentence.find("most ") != std::string::npos ||
                    sentence.find("biggest") != std::string::npos ||
                    sentence.find("smallest") != std::string::npos;
      }
    }
  }
  // The grammar's three kinds of sentence all occur, with several paraphrases per object.
  REQUIRE(relations > 10);
  REQUIRE(extremes > 10);
  REQUIRE(sentences > 2 * referents);
}

TEST_CASE("synthetic referring: generalized expressions resolve to all targets or to none") {
  int multi = 0, none = 0;
  for (std::uint64_t index = 0; index < 40; ++index) {
    const Scene s = generate_scene(options_for(17), index);
    for (const GeneralizedExpression& e : generalized_expressions(s)) {
      INFO("scene " << index << ": '" << e.sentence << "'");
      std::vector<int> want = e.targets;
      std::sort(want.begin(), want.end());
      REQUIRE(resolve_expression(s, e.sentence) == want);
      if (e.targets.empty()) {
        ++none;
      } else {
        REQUIRE(e.targets.size() >= 2);
        ++multi;
        if (e.sentence.rfind("the two ", 0) == 0) REQUIRE(e.targets.size() == 2);
        if (e.sentence.rfind("the three ", 0) == 0) REQUIRE(e.targets.size() == 3);
      }
    }
  }
  REQUIRE(multi > 20);
  REQUIRE(none > 10);
}

TEST_CASE("synthetic referring: train no-target phrases never name held-out categories") {
  for (std::uint64_t index = 0; index < 30; ++index) {
    const Scene s = generate_scene(options_for(19), index);
    for (const GeneralizedExpression& e : generalized_expressions(s)) {
      if (!e.targets.empty()) continue;
      REQUIRE(e.sentence.find("heart") == std::string::npos);
      REQUIRE(e.sentence.find("moon") == std::string::npos);
    }
  }
}

TEST_CASE("synthetic referring: expressions are deterministic") {
  const Scene a = generate_scene(options_for(23), 5), b = generate_scene(options_for(23), 5);
  const auto ra = referring_expressions(a), rb = referring_expressions(b);
  REQUIRE(ra.size() == rb.size());
  for (std::size_t i = 0; i < ra.size(); ++i) REQUIRE(ra[i].sentences == rb[i].sentences);
}

TEST_CASE("synthetic resolver: checks the resolver itself on a hand-built scene") {
  SceneOptions o = options_for(1);
  o.min_objects = 0;
  o.max_objects = 0;
  Scene s = generate_scene(o, 0);
  const auto add = [&](ShapeKind k, Colour c, SizeClass z, double x, double y, double r) {
    Object ob;
    ob.id = static_cast<int>(s.objects.size()) + 1;
    ob.kind = k, ob.colour = c, ob.size = z, ob.cx = x, ob.cy = y, ob.radius = r;
    s.objects.push_back(ob);
  };
  add(ShapeKind::circle, Colour::red, SizeClass::large, 40, 100, 30);
  add(ShapeKind::circle, Colour::blue, SizeClass::small, 150, 100, 12);
  add(ShapeKind::square, Colour::red, SizeClass::medium, 100, 40, 20);
  render_scene(s);
  REQUIRE(resolve_expression(s, "the red circle") == std::vector<int>{1});
  REQUIRE(resolve_expression(s, "the leftmost circle") == std::vector<int>{1});
  REQUIRE(resolve_expression(s, "the smallest shape") == std::vector<int>{2});
  REQUIRE(resolve_expression(s, "all red shapes") == std::vector<int>{1, 3});
  REQUIRE(resolve_expression(s, "the two circles") == std::vector<int>{1, 2});
  REQUIRE(resolve_expression(s, "the circle to the right of the red square") ==
          std::vector<int>{2});
  REQUIRE(resolve_expression(s, "the shape above the blue circle") == std::vector<int>{3});
  REQUIRE(resolve_expression(s, "the large solid red circle") == std::vector<int>{1});
  REQUIRE(resolve_expression(s, "the purple heart").empty());
  REQUIRE(resolve_expression(s, "the circle") == std::vector<int>{1, 2});
  REQUIRE_THROWS_AS(resolve_expression(s, "the red banana"), psalm::Error);
  REQUIRE_THROWS_AS(resolve_expression(s, "the circle near the square"), psalm::Error);
}
