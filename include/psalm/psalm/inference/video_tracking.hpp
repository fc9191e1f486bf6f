// psalm/psalm/inference/video_tracking.hpp — the DAVIS scheme (PSALM_SPEC §5.6) over whole
// videos, apart from any model. Host code: the tracker's masks are CPU tensors. Per video a
// VideoObjectTracker starts from the first frame's annotation; every frame, in order, is handed
// to a `segment` callback together with its prompts (one mask region per object, from the
// tracker's reference frame) and what the callback kept of that reference frame (a "memo": a
// model keeps the frame's image tokens); the callback's region logits and masks go back into
// the tracker. Several videos advance side by side, so a callback can run one batch per frame
// index. Evaluation (train/evaluate_video) and tools drive the model through it; tests drive it
// with an oracle.
// Depends on: psalm/example (VideoExample), inference/video_objects.
// Test: tests/psalm/test_video_tracking.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/psalm/inference/video_objects.hpp"

namespace psalm {

// Letters: F frames, K objects, Q queries, H0 W0 a frame.

/// One frame to segment: frame `frame` of `video`, prompted with the regions `prompts` of
/// `reference_frame` (the frame itself for the first frame, otherwise an earlier one).
template <class Memo>
struct VideoFrameRequest {
  const VideoExample* video = nullptr;
  std::int64_t slot = 0;  ///< the video's place among those advancing together
  std::int64_t frame = 0;
  std::int64_t reference_frame = 0;
  Tensor<std::uint8_t> prompts;     ///< (K, H0, W0) 0 / 1, one per object in id order
  const Memo* reference = nullptr;  ///< the reference frame's memo; null when it is `frame`
  const Tensor<std::uint8_t>* first_prompts = nullptr;  ///< (K, H0, W0) the first annotation
  const Memo* first = nullptr;  ///< the first frame's memo; null on the first frame itself
};

/// The callback's answer for one request.
template <class Memo>
struct VideoFrameAnswer {
  Tensor<float> region_logits;  ///< (K, Q)
  Tensor<float> masks;          ///< (Q, H0, W0) mask logits at the frame's own size
  Memo memo;                    ///< kept while this frame is the first frame or a reference
};

struct VideoTrackingOptions {
  std::int64_t batch_size = 1;  ///< videos advancing side by side
  VideoObjectOptions tracking{};
};

namespace detail {

/// (K) masks (H0, W0) -> (K, H0, W0).
inline Tensor<std::uint8_t> stack_planes(const std::vector<Tensor<std::uint8_t>>& planes) {
  const std::int64_t h = planes.front().size(0), w = planes.front().size(1);
  Tensor<std::uint8_t> out(Shape{static_cast<std::int64_t>(planes.size()), h, w});  // (K, H0, W0)
  for (std::size_t k = 0; k < planes.size(); ++k)
    out.select(0, static_cast<std::int64_t>(k)).assign(planes[k]);
  return out;
}

}  // namespace detail

/// Checks a video and returns its first frame's objects: masks (K) of (H0, W0) for the ids
/// 1..K, K the largest id of the first annotation (as the DAVIS toolkit counts objects); every
/// one of them must be present there.
inline std::pair<std::vector<Tensor<std::uint8_t>>, std::vector<std::int32_t>> first_frame_objects(
    const VideoExample& v) {
  PSALM_CHECK(v.num_frames() >= 1 && v.annotations.size() == v.frames.size(), "video '", v.name,
              "' has ", v.frames.size(), " frames and ", v.annotations.size(), " annotations");
  const std::int64_t h = v.frames[0].size(0), w = v.frames[0].size(1);
  for (std::size_t t = 0; t < v.frames.size(); ++t) {
    PSALM_CHECK(v.frames[t].rank() == 3 && v.frames[t].size(0) == h && v.frames[t].size(1) == w &&
                    v.frames[t].size(2) == 3,
                "video '", v.name, "' frame ", t, " is ", v.frames[t].shape(), ", expected (", h,
                ", ", w, ", 3) like frame 0");
    PSALM_CHECK(v.annotations[t].rank() == 2 && v.annotations[t].size(0) == h &&
                    v.annotations[t].size(1) == w,
                "video '", v.name, "' annotation ", t, " is ", v.annotations[t].shape(),
                ", expected (", h, ", ", w, ")");
  }
  const Tensor<std::int32_t> first = v.annotations[0].contiguous();  // (H0, W0)
  const std::int32_t* a = first.data();
  const std::int32_t k = h * w > 0 ? *std::max_element(a, a + h * w) : 0;
  PSALM_CHECK(k >= 1, "video '", v.name, "' has no object in its first annotation");
  std::vector<Tensor<std::uint8_t>> masks;
  std::vector<std::int32_t> ids;
  for (std::int32_t id = 1; id <= k; ++id) {
    Tensor<std::uint8_t> m(Shape{h, w});  // (H0, W0)
    bool any = false;
    for (std::int64_t p = 0; p < h * w; ++p) {
      m.data()[p] = a[p] == id ? 1 : 0;
      any = any || a[p] == id;
    }
    PSALM_CHECK(any, "video '", v.name, "': object ", id,
                " is not in the first annotation (objects must be numbered 1..K)");
    masks.push_back(std::move(m));
    ids.push_back(id);
  }
  return {std::move(masks), std::move(ids)};
}

/// Tracks the objects of `count` videos from `source` (index -> VideoExample): videos advance
/// `batch_size` at a time, frame by frame; `segment(requests)` answers every request of one frame
/// index (one per unfinished video, in video order); `done(index, video, index_maps)` receives
/// each video with its predicted index maps (F) of (H0, W0) (VideoFramePrediction::index_map:
/// object ids painted in id order), after all its frames; `progress(done, total)`
/// after each group. A frame's memo is kept while the frame is the first frame or the tracker's
/// reference.
template <class Memo>
void track_videos(const std::function<VideoExample(std::int64_t)>& source, std::int64_t count,
                  const VideoTrackingOptions& options,
                  const std::function<std::vector<VideoFrameAnswer<Memo>>(
                      const std::vector<VideoFrameRequest<Memo>>&)>& segment,
                  const std::function<void(std::int64_t, const VideoExample&,
                                           const std::vector<Tensor<std::int32_t>>&)>& done,
                  const std::function<void(std::int64_t, std::int64_t)>& progress = {}) {
  PSALM_CHECK(count >= 0, "track_videos: negative video count ", count);
  PSALM_CHECK(options.batch_size >= 1, "track_videos: batch size must be positive, got ",
              options.batch_size);
  struct Running {
    VideoExample video;
    Tensor<std::uint8_t> first_prompts;  // (K, H0, W0)
    VideoObjectTracker tracker;
    std::optional<Memo> first, reference;
    std::vector<Tensor<std::int32_t>> index_maps;  // (F) of (H0, W0)
  };
  for (std::int64_t start = 0; start < count; start += options.batch_size) {
    const std::int64_t end = std::min(count, start + options.batch_size);
    std::vector<Running> videos;
    std::int64_t frames = 0;
    for (std::int64_t i = start; i < end; ++i) {
      VideoExample v = source(i);
      if (v.name.empty()) v.name = "video_" + std::to_string(i);
      auto [masks, ids] = first_frame_objects(v);
      Tensor<std::uint8_t> first = detail::stack_planes(masks);  // (K, H0, W0)
      VideoObjectTracker tracker(std::move(masks), std::move(ids), options.tracking);
      frames = std::max(frames, v.num_frames());
      videos.push_back({std::move(v), std::move(first), std::move(tracker), {}, {}, {}});
    }
    for (std::int64_t t = 0; t < frames; ++t) {
      std::vector<Running*> active;
      std::vector<VideoFrameRequest<Memo>> requests;
      for (std::size_t s = 0; s < videos.size(); ++s) {
        Running& r = videos[s];
        if (t >= r.video.num_frames()) continue;
        VideoFrameRequest<Memo> q;
        q.video = &r.video;
        q.slot = static_cast<std::int64_t>(s);
        q.frame = t;
        q.reference_frame = r.tracker.reference_frame();
        q.prompts = detail::stack_planes(r.tracker.reference_masks());  // (K, H0, W0)
        q.reference = q.reference_frame == t ? nullptr : &*r.reference;
        q.first_prompts = &r.first_prompts;
        q.first = t == 0 ? nullptr : &*r.first;
        requests.push_back(std::move(q));
        active.push_back(&r);
      }
      std::vector<VideoFrameAnswer<Memo>> answers = segment(requests);
      PSALM_CHECK(answers.size() == requests.size(), "track_videos: ", requests.size(),
                  " frames asked, ", answers.size(), " answered");
      for (std::size_t b = 0; b < active.size(); ++b) {
        Running& r = *active[b];
        VideoFrameAnswer<Memo>& a = answers[b];
        r.index_maps.push_back(r.tracker.step(t, a.region_logits, a.masks).index_map);
        if (t == 0) r.first = a.memo;
        if (r.tracker.reference_frame() == t) r.reference = std::move(a.memo);
      }
    }
    for (std::size_t s = 0; s < videos.size(); ++s)
      done(start + static_cast<std::int64_t>(s), videos[s].video, videos[s].index_maps);
    if (progress) progress(end, count);
  }
}

}  // namespace psalm
