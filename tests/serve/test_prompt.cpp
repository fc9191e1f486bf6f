// Tests of psalm/serve/prompt.hpp: every form of the JSON prompt schema gives the SegmentPrompt
// written out by hand; every refusal names its field (missing, unknown, mistyped, over a limit,
// a mask of another size); the shared rules (split_names, class_task, sentence_prompt,
// class_list_prompt) behave as `psalm segment` documents.
#include <catch2/catch.hpp>

#include "psalm/io/rle.hpp"
#include "psalm/serve/prompt.hpp"

using namespace psalm;
using nlohmann::json;
using serve::FieldError;
using serve::prompt_from_json;

namespace {

/// The field a refusal names; "" when the prompt is accepted.
std::string refused_field(const json& j, const serve::PromptLimits& limits = {}) {
  try {
    prompt_from_json(j, 48, 64, limits);
  } catch (const FieldError& e) {
    return e.field();
  }
  return "";
}

}  // namespace

TEST_CASE("serve prompt: sentences", "[serve][prompt]") {
  const SegmentPrompt r =
      prompt_from_json({{"task", "referring"}, {"text", "the red square"}}, 48, 64);
  CHECK(r.task == Task::referring);
  CHECK(r.text == "the red square");
  const SegmentPrompt g = prompt_from_json({{"task", "gres"}, {"text", "all discs"}}, 48, 64);
  CHECK(g.task == Task::gres);
  CHECK(g.text == "all discs");
}

TEST_CASE("serve prompt: class lists as a list or a string, with stuff", "[serve][prompt]") {
  const SegmentPrompt a = prompt_from_json(
      {{"task", "panoptic"}, {"classes", {"square", " disc ", ""}}, {"stuff", {"disc"}}}, 48, 64);
  CHECK(a.task == Task::panoptic);
  CHECK(a.classes == std::vector<std::string>{"square", "disc"});
  CHECK(a.class_is_thing == std::vector<std::uint8_t>{1, 0});
  const SegmentPrompt b =
      prompt_from_json({{"task", "instance"}, {"classes", "square, disc"}}, 48, 64);
  CHECK(b.task == Task::instance);
  CHECK(b.classes == std::vector<std::string>{"square", "disc"});
  CHECK(b.class_is_thing == std::vector<std::uint8_t>{1, 1});
  CHECK(prompt_from_json({{"task", "semantic"}, {"classes", "a"}, {"stuff", "a"}}, 48, 64)
            .class_is_thing == std::vector<std::uint8_t>{0});
}

TEST_CASE("serve prompt: visual prompts of every kind", "[serve][prompt]") {
  Tensor<std::uint8_t> m = Tensor<std::uint8_t>::zeros(Shape{48, 64});
  for (std::int64_t y = 10; y < 20; ++y)
    for (std::int64_t x = 5; x < 9; ++x) m.data()[y * 64 + x] = 1;
  const json rle = io::rle_to_json(io::rle_encode(m.data(), 48, 64));
  const SegmentPrompt p = prompt_from_json(
      {{"task", "interactive"},
       {"regions",
        json::array({{{"point", {3, 4.5}}},
                     {{"box", {1, 2, 30, 40}}},
                     {{"scribble", json::array({json::array({1, 1}), json::array({9, 7})})}},
                     {{"mask", rle}}})}},
      48, 64);
  REQUIRE(p.task == Task::interactive);
  REQUIRE(p.regions.size() == 4);
  CHECK(p.regions[0].kind == VisualPromptKind::point);
  CHECK(p.regions[0].points[0].x == 3.0);
  CHECK(p.regions[0].points[0].y == 4.5);
  CHECK(p.regions[1].kind == VisualPromptKind::box);
  CHECK(p.regions[1].points.size() == 2);
  CHECK(p.regions[1].points[1].x == 30.0);
  CHECK(p.regions[1].points[1].y == 40.0);
  CHECK(p.regions[2].kind == VisualPromptKind::scribble);
  CHECK(p.regions[2].points.size() == 2);
  CHECK(p.regions[3].kind == VisualPromptKind::mask);
  CHECK(p.regions[3].mask.to_vector() == m.to_vector());
}

TEST_CASE("serve prompt: every refusal names its field", "[serve][prompt]") {
  CHECK(refused_field(json::array()) == "prompt");
  CHECK(refused_field({{"text", "x"}}) == "task");
  CHECK(refused_field({{"task", 3}}) == "task");
  CHECK(refused_field({{"task", "bogus"}, {"text", "x"}}) == "task");
  CHECK(refused_field({{"task", "referring"}}) == "text");
  CHECK(refused_field({{"task", "referring"}, {"txt", "x"}}) == "txt");
  CHECK(refused_field({{"task", "referring"}, {"text", "   "}}) == "text");
  CHECK(refused_field({{"task", "referring"}, {"text", 5}}) == "text");
  CHECK(refused_field({{"task", "referring"}, {"text", "x"}, {"classes", "a"}}) == "classes");
  CHECK(refused_field({{"task", "panoptic"}}) == "classes");
  CHECK(refused_field({{"task", "panoptic"}, {"classes", " , "}}) == "classes");
  CHECK(refused_field({{"task", "panoptic"}, {"classes", {"a", 2}}}) == "classes[1]");
  CHECK(refused_field({{"task", "panoptic"}, {"classes", {"a"}}, {"stuff", {"b"}}}) == "stuff");
  CHECK(refused_field({{"task", "interactive"}}) == "regions");
  CHECK(refused_field({{"task", "interactive"}, {"regions", json::array()}}) == "regions");
  CHECK(refused_field({{"task", "interactive"}, {"regions", {{{"dot", {1, 2}}}}}}) == "regions[0]");
  CHECK(refused_field({{"task", "interactive"}, {"regions", {{{"point", {1}}}}}}) ==
        "regions[0].point");
  CHECK(refused_field({{"task", "interactive"}, {"regions", {{{"point", {1, "2"}}}}}}) ==
        "regions[0].point[1]");
  CHECK(refused_field(
            {{"task", "interactive"}, {"regions", {{{"point", {1, 2}}}, {{"box", {1, 2, 3}}}}}}) ==
        "regions[1].box");
  CHECK(refused_field({{"task", "interactive"},
                       {"regions", {{{"scribble", json::array({json::array({1, 2}), 3})}}}}}) ==
        "regions[0].scribble[1]");
  CHECK(refused_field({{"task", "interactive"},
                       {"regions", {{{"point", {1, 2}}, {"box", {1, 2, 3, 4}}}}}}) == "regions[0]");
  // A mask of another size is refused before it is decoded.
  const json other = {{"size", {1000000, 1000000}}, {"counts", "0"}};
  CHECK(refused_field({{"task", "interactive"}, {"regions", {{{"mask", other}}}}}) ==
        "regions[0].mask.size");
  const json broken = {{"size", {48, 64}}, {"counts", {5, 6}}};
  CHECK(refused_field({{"task", "interactive"}, {"regions", {{{"mask", broken}}}}}) ==
        "regions[0].mask");
  // The message carries the field and what was wrong.
  try {
    prompt_from_json({{"task", "interactive"}, {"regions", {{{"box", {1, 2, 3}}}}}}, 48, 64);
    FAIL("accepted a box of three numbers");
  } catch (const FieldError& e) {
    CHECK_THAT(e.what(), Catch::Contains("regions[0].box must be [x0, y0, x1, y1]"));
  }
}

TEST_CASE("serve prompt: limits", "[serve][prompt]") {
  serve::PromptLimits limits;
  limits.max_text_bytes = 10;
  limits.max_classes = 2;
  limits.max_regions = 2;
  limits.max_points = 3;
  CHECK(refused_field({{"task", "referring"}, {"text", "0123456789"}}, limits).empty());
  CHECK(refused_field({{"task", "referring"}, {"text", "0123456789a"}}, limits) == "text");
  CHECK(refused_field({{"task", "panoptic"}, {"classes", {"a", "b"}}}, limits).empty());
  CHECK(refused_field({{"task", "panoptic"}, {"classes", {"a", "b", "c"}}}, limits) == "classes");
  CHECK(refused_field({{"task", "panoptic"}, {"classes", "a,b,c"}}, limits) == "classes");
  CHECK(refused_field({{"task", "panoptic"}, {"classes", "a,0123456789a"}}, limits) == "classes");
  const json point = {{"point", {1, 2}}};
  CHECK(refused_field({{"task", "interactive"}, {"regions", {point, point}}}, limits).empty());
  CHECK(refused_field({{"task", "interactive"}, {"regions", {point, point, point}}}, limits) ==
        "regions");
  const json four = json::array(
      {json::array({1, 1}), json::array({2, 2}), json::array({3, 3}), json::array({4, 4})});
  CHECK(refused_field({{"task", "interactive"}, {"regions", {{{"scribble", four}}}}}, limits) ==
        "regions[0].scribble");
}

TEST_CASE("serve prompt: the rules psalm segment's flags share", "[serve][prompt]") {
  CHECK(serve::split_names("a, b ,,c") == std::vector<std::string>{"a", "b", "", "c"});
  CHECK(serve::split_names("") == std::vector<std::string>{""});
  CHECK(serve::class_task("semantic", "--task") == Task::semantic);
  CHECK_THROWS_WITH(serve::class_task("referring", "--task"),
                    "--task must be panoptic, instance or semantic, got 'referring'");
  CHECK_THROWS_WITH(serve::sentence_prompt(" ", false, "--text"), "--text is empty");
  CHECK(serve::sentence_prompt("x", true, "--text").task == Task::gres);
  CHECK_THROWS_WITH(serve::class_list_prompt({"", " "}, Task::panoptic, {}, "--classes ' , '"),
                    "--classes ' , ' lists no class name");
  CHECK_THROWS_AS(serve::class_list_prompt({"a"}, Task::referring, {}, "classes"), FieldError);
}
