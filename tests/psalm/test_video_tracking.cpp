// Tests of psalm/psalm/inference/video_tracking.hpp: the DAVIS scheme over whole videos driven
// by an oracle that answers every frame with its ground truth. The oracle's answers must come
// back as the annotations (J&F = 1 with eval::VideoEvaluator), and every request must carry the
// prompts and memo of the reference frame the rule predicts: the first frame, then with memory
// the last earlier frame in which every object was visible (the oracle's masks never overlap).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "psalm/eval/video.hpp"
#include "psalm/psalm/inference/video_tracking.hpp"

using namespace psalm;

namespace {

constexpr std::int64_t kH = 20, kW = 28;

/// A video of `frames` frames: object 1 a 5 x 6 box sliding right; object 2 a 4 x 4 box
/// that leaves the image after frame `leaves` (then re-enters two frames later) when >= 0.
VideoExample boxes_video(std::int64_t frames, std::int64_t leaves) {
  VideoExample v;
  v.name = "boxes";
  for (std::int64_t t = 0; t < frames; ++t) {
    Tensor<std::uint8_t> image = Tensor<std::uint8_t>::zeros(Shape{kH, kW, 3});  // (H0, W0, 3)
    Tensor<std::int32_t> ids = Tensor<std::int32_t>::zeros(Shape{kH, kW});       // (H0, W0)
    for (std::int64_t y = 2; y < 7; ++y)
      for (std::int64_t x = 1 + 2 * t; x < 7 + 2 * t && x < kW; ++x) ids.data()[y * kW + x] = 1;
    const bool gone = leaves >= 0 && t > leaves && t <= leaves + 2;
    if (!gone)
      for (std::int64_t y = 12; y < 16; ++y)
        for (std::int64_t x = 20; x < 24; ++x) ids.data()[y * kW + x] = 2;
    for (std::int64_t p = 0; p < kH * kW; ++p)
      image.data()[3 * p] = static_cast<std::uint8_t>(60 * ids.data()[p]);
    v.frames.push_back(image);
    v.annotations.push_back(ids);
  }
  return v;
}

bool all_visible(const VideoExample& v, std::int64_t t, std::int32_t k) {
  const Tensor<std::int32_t>& a = v.annotations[static_cast<std::size_t>(t)];
  for (std::int32_t id = 1; id <= k; ++id)
    if (std::find(a.data(), a.data() + a.numel(), id) == a.data() + a.numel()) return false;
  return true;
}

/// The ground truth of frame t as the tracker's inputs: queries 0..K-1 the objects (logits
/// +-8), query K empty; region k scores high on query k only.
VideoFrameAnswer<std::int64_t> oracle(const VideoExample& v, std::int64_t t, std::int32_t k) {
  const std::int64_t q = k + 1;
  VideoFrameAnswer<std::int64_t> a;
  a.masks = Tensor<float>(Shape{q, kH, kW});  // (Q, H0, W0)
  const Tensor<std::int32_t>& ids = v.annotations[static_cast<std::size_t>(t)];
  for (std::int64_t j = 0; j < q; ++j)
    for (std::int64_t p = 0; p < kH * kW; ++p)
      a.masks.data()[j * kH * kW + p] = ids.data()[p] == j + 1 && j < k ? 8.0f : -8.0f;
  a.region_logits = Tensor<float>(Shape{k, q});  // (K, Q)
  for (std::int64_t i = 0; i < k; ++i)
    for (std::int64_t j = 0; j < q; ++j) a.region_logits.data()[i * q + j] = i == j ? 5.0f : -5.0f;
  a.memo = t;
  return a;
}

}  // namespace

TEST_CASE(
    "track_videos: an oracle's answers come back as the annotations, prompted from the "
    "expected reference frames",
    "[inference][video]") {
  for (const bool memory : {true, false}) {
    INFO("with_memory " << memory);
    // Two videos side by side: 7 frames where object 2 is gone in frames 3 and 4, and 4 frames.
    const std::vector<VideoExample> videos{boxes_video(7, 2), boxes_video(4, -1)};
    std::vector<std::vector<std::int64_t>> asked(2);  // frames asked per video, in order
    std::int64_t calls = 0, finished = 0, progressed = 0;
    eval::VideoEvaluator evaluator;
    track_videos<std::int64_t>(
        [&](std::int64_t i) { return videos[static_cast<std::size_t>(i)]; }, 2,
        {.batch_size = 2, .tracking = {.with_memory = memory}},
        [&](const std::vector<VideoFrameRequest<std::int64_t>>& requests) {
          ++calls;
          std::vector<VideoFrameAnswer<std::int64_t>> out;
          for (const auto& q : requests) {
            const std::int64_t t = q.frame;
            REQUIRE(q.video != nullptr);
            asked[static_cast<std::size_t>(q.slot)].push_back(t);
            std::int64_t want = 0;  // the last earlier frame with every object visible
            if (memory)
              for (std::int64_t s = 0; s < t; ++s)
                if (all_visible(*q.video, s, 2)) want = s;
            CHECK(q.reference_frame == want);
            if (t == 0) {
              CHECK(q.reference == nullptr);
              CHECK(q.first == nullptr);
            } else {
              REQUIRE(q.reference != nullptr);
              REQUIRE(q.first != nullptr);
              CHECK(*q.reference == want);  // the memo of that frame
              CHECK(*q.first == 0);
            }
            // The prompts are the reference frame's masks (the annotation or the oracle's).
            REQUIRE(q.prompts.shape() == Shape{2, kH, kW});
            const Tensor<std::int32_t>& ref = q.video->annotations[static_cast<std::size_t>(want)];
            for (std::int64_t k = 0; k < 2; ++k)
              for (std::int64_t p = 0; p < kH * kW; ++p)
                REQUIRE(q.prompts.data()[k * kH * kW + p] == (ref.data()[p] == k + 1 ? 1 : 0));
            REQUIRE(q.first_prompts->shape() == Shape{2, kH, kW});
            out.push_back(oracle(*q.video, t, 2));
          }
          return out;
        },
        [&](std::int64_t index, const VideoExample& v,
            const std::vector<Tensor<std::int32_t>>& maps) {
          CHECK(index == finished++);
          REQUIRE(maps.size() == v.frames.size());
          std::vector<eval::LabelView> pred, gt;
          for (std::size_t t = 0; t < maps.size(); ++t) {
            CHECK(maps[t].to_vector() == v.annotations[t].to_vector());
            pred.push_back(label_view(maps[t]));
            gt.push_back(label_view(v.annotations[t]));
          }
          evaluator.add_sequence(v.name, pred, gt);
        },
        [&](std::int64_t done, std::int64_t total) {
          ++progressed;
          CHECK(done == 2);
          CHECK(total == 2);
        });
    CHECK(calls == 7);  // one batch per frame index of the longer video
    CHECK(asked[0] == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6});
    CHECK(asked[1] == std::vector<std::int64_t>{0, 1, 2, 3});
    CHECK(finished == 2);
    CHECK(progressed == 1);
    CHECK(evaluator.result().jf_mean == Approx(1.0));
  }
}

TEST_CASE("track_videos: bad videos and answers are errors", "[inference][video]") {
  const auto run = [](VideoExample v, std::size_t answers) {
    track_videos<int>(
        [&](std::int64_t) { return v; }, 1, {},
        [&](const std::vector<VideoFrameRequest<int>>& r) {
          std::vector<VideoFrameAnswer<int>> out;
          for (std::size_t i = 0; i < answers && i < r.size(); ++i) {
            const VideoFrameAnswer<std::int64_t> o = oracle(*r[i].video, r[i].frame, 2);
            out.push_back({o.region_logits, o.masks, 0});
          }
          return out;
        },
        [](std::int64_t, const VideoExample&, const std::vector<Tensor<std::int32_t>>&) {});
  };
  CHECK_NOTHROW(run(boxes_video(3, -1), 1));
  CHECK_THROWS_AS(run(boxes_video(3, -1), 0), Error);  // no answer
  VideoExample missing = boxes_video(3, -1);
  missing.annotations.pop_back();
  CHECK_THROWS_AS(run(missing, 1), Error);
  VideoExample gap = boxes_video(3, -1);  // ids 1 and 3: object 2 absent from the first frame
  for (auto& a : gap.annotations)
    for (std::int64_t p = 0; p < a.numel(); ++p)
      if (a.data()[p] == 2) a.data()[p] = 3;
  CHECK_THROWS_WITH(run(gap, 1), Catch::Contains("object 2 is not in the first annotation"));
  VideoExample empty = boxes_video(3, -1);
  empty.annotations[0] = Tensor<std::int32_t>::zeros(Shape{kH, kW});
  CHECK_THROWS_WITH(run(empty, 1), Catch::Contains("no object in its first annotation"));
}
