// psalm/train/davis_examples.hpp — DAVIS-2017 sequences for PSALM's zero-shot video object
// segmentation: per sequence the frames and index-map annotations on demand, the objects of the
// first frame (ids and masks: what psalm::VideoObjectTracker starts from), and the first frame
// as an interactive Example prompted by its own masks. An object that first appears after the
// first frame is not an object of the sequence (upstream's converter refuses such videos; the
// DAVIS toolkit scores only ids up to the first frame's largest). Host code.
// Depends on: data/davis, psalm/example, train/example_images. Test:
// tests/data/test_davis.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/davis.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/train/example_images.hpp"

namespace psalm::train {

// Letters: H W a frame, K objects.

/// The objects of a sequence's first frame.
struct VideoObjects {
  std::vector<std::int32_t> ids;            ///< (K) ascending annotation values
  std::vector<Tensor<std::uint8_t>> masks;  ///< (K) of (H, W) 0 / 1, the first frame's
};

class DavisSource {
 public:
  explicit DavisSource(data::DavisDataset dataset) : data_(std::move(dataset)) {}

  /// Sequences.
  std::int64_t size() const { return static_cast<std::int64_t>(data_.sequences.size()); }
  const data::DavisDataset& records() const { return data_; }
  const data::DavisSequence& sequence(std::int64_t i) const {
    PSALM_CHECK(i >= 0 && i < size(), "DavisSource: sequence ", i, " of ", size());
    return data_.sequences[static_cast<std::size_t>(i)];
  }
  std::int64_t frames(std::int64_t i) const {
    return static_cast<std::int64_t>(sequence(i).frames.size());
  }

  /// Frame t of sequence i, (H, W, 3).
  Tensor<std::uint8_t> frame(std::int64_t i, std::int64_t t) const {
    return data::load_davis_frame(sequence(i), static_cast<std::size_t>(t));
  }
  /// Whether frame t has an annotation (all frames of train / val; the first of test-dev).
  bool annotated(std::int64_t i, std::int64_t t) const {
    const auto& s = sequence(i);
    PSALM_CHECK(t >= 0 && t < frames(i), "DavisSource: frame ", t, " of ", frames(i));
    return !s.annotations[static_cast<std::size_t>(t)].empty();
  }
  /// The annotation of frame t, (H, W) object ids, at the frame's size `height` x `width`.
  Tensor<std::int32_t> annotation(std::int64_t i, std::int64_t t, std::int64_t height,
                                  std::int64_t width) const {
    return data::load_davis_annotation(sequence(i), static_cast<std::size_t>(t), height, width);
  }

  /// The first frame's objects: ids ascending (void and background excluded) and masks.
  VideoObjects objects(std::int64_t i) const {
    const Tensor<std::uint8_t> image = frame(i, 0);                                   // (H, W, 3)
    const Tensor<std::int32_t> ids = annotation(i, 0, image.size(0), image.size(1));  // (H, W)
    return objects_of(ids);
  }

  /// The first frame as an interactive example: every object prompted by its own mask (the
  /// reference the video scheme starts from) and targeted by it.
  Example first_frame_example(std::int64_t i) const {
    Example ex;
    ex.task = Task::interactive;
    ex.image = frame(i, 0);  // (H, W, 3)
    const Tensor<std::int32_t> ids =
        annotation(i, 0, ex.image.size(0), ex.image.size(1));  // (H, W)
    const std::vector<std::int32_t> objs = data::davis_objects(ids);
    ex.prompt_masks =
        label_masks(ids, std::vector<std::int64_t>(objs.begin(), objs.end()));  // (K, H, W)
    ex.target_masks = ex.prompt_masks.clone();                                  // (K, H, W)
    return ex;
  }

  /// Masks of `objects` in annotation `ids` (absent objects: empty masks), (K, H, W).
  static Tensor<std::uint8_t> object_masks(const Tensor<std::int32_t>& ids,
                                           const std::vector<std::int32_t>& objects) {
    return label_masks(ids, std::vector<std::int64_t>(objects.begin(), objects.end()));
  }

 private:
  static VideoObjects objects_of(const Tensor<std::int32_t>& ids) {
    VideoObjects out;
    out.ids = data::davis_objects(ids);
    const Tensor<std::uint8_t> all = object_masks(ids, out.ids);  // (K, H, W)
    for (std::size_t k = 0; k < out.ids.size(); ++k)
      out.masks.push_back(all.select(0, static_cast<std::int64_t>(k)).clone());
    return out;
  }

  data::DavisDataset data_;
};

/// DAVIS-2017 under `root` (JPEGImages / Annotations / ImageSets), one split, 480p.
inline DavisSource davis_source(const std::filesystem::path& root, const std::string& split = "val",
                                const std::string& resolution = "480p") {
  return DavisSource(data::read_davis(root, split, resolution));
}

}  // namespace psalm::train
