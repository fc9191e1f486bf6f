// Tests of psalm/serve/response.hpp on an answer built by hand: each mask's RLE decodes back to
// the mask, its area and bbox are the ones counted here, category ids are COCO's (class index + 1
// for class lists, 1 otherwise), a non-finite score is null, and timings are carried through.
#include <catch2/catch.hpp>

#include <limits>

#include "psalm/io/rle.hpp"
#include "psalm/serve/response.hpp"

using namespace psalm;

namespace {

/// An (h, w) mask that is 1 on rows [y0, y1) and columns [x0, x1).
Tensor<std::uint8_t> rect(std::int64_t h, std::int64_t w, std::int64_t y0, std::int64_t y1,
                          std::int64_t x0, std::int64_t x1) {
  Tensor<std::uint8_t> m = Tensor<std::uint8_t>::zeros(Shape{h, w});  // (h, w)
  for (std::int64_t y = y0; y < y1; ++y)
    for (std::int64_t x = x0; x < x1; ++x) m.data()[y * w + x] = 1;
  return m;
}

}  // namespace

TEST_CASE("serve response: masks as COCO RLE with area, bbox and category", "[serve][response]") {
  Segmentation s;
  s.task = Task::panoptic;
  s.height = 6;
  s.width = 8;
  s.masks.push_back({rect(6, 8, 1, 3, 2, 7), "square", 2, 0.75f, 4, true, 9});
  s.masks.push_back(
      {rect(6, 8, 0, 6, 0, 1), "wall", 0, std::numeric_limits<float>::quiet_NaN(), 1, false, 10});
  serve::Timings t;
  t.queue_ms = 1.5;
  t.segment_ms = 20;
  t.total_ms = 30;
  const nlohmann::json j = serve::segmentation_json(s, t);
  CHECK(j["task"] == "panoptic");
  CHECK(j["height"] == 6);
  CHECK(j["width"] == 8);
  CHECK(j["no_target"] == false);
  REQUIRE(j["masks"].size() == 2);
  const nlohmann::json& a = j["masks"][0];
  CHECK(a["label"] == "square");
  CHECK(a["score"].get<double>() == 0.75);
  CHECK(a["category_id"] == 3);
  CHECK(a["area"] == 10);
  CHECK(a["bbox"] == nlohmann::json::array({2.0, 1.0, 5.0, 2.0}));
  CHECK(a["query"] == 4);
  CHECK(a["segment_id"] == 9);
  CHECK(a["isthing"] == true);
  CHECK(a["segmentation"]["size"] == nlohmann::json::array({6, 8}));
  CHECK(io::rle_decode(io::rle_from_json(a["segmentation"])) == s.masks[0].mask.to_vector());
  const nlohmann::json& b = j["masks"][1];
  CHECK(b["score"].is_null());
  CHECK(b["category_id"] == 1);
  CHECK(b["area"] == 6);
  CHECK(b["isthing"] == false);
  CHECK(j["timings"]["queue_ms"].get<double>() == 1.5);
  CHECK(j["timings"]["total_ms"].get<double>() == 30.0);
}

TEST_CASE("serve response: referring and interactive masks are category 1", "[serve][response]") {
  Segmentation s;
  s.task = Task::interactive;
  s.height = 2;
  s.width = 2;
  s.masks.push_back({rect(2, 2, 0, 1, 0, 2), "point", 3, 0.5f, 0, true, 4});
  CHECK(serve::mask_json(s, 0)["category_id"] == 1);
  Segmentation g;
  g.task = Task::gres;
  g.no_target = true;
  const nlohmann::json j = serve::segmentation_json(g);
  CHECK(j["no_target"] == true);
  CHECK(j["masks"].empty());
}
