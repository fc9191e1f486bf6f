// psalm/train/interactive_examples.hpp — COCO-Interactive records as PSALM examples (task
// interactive): per image, every non-crowd, non-empty instance with a usable prompt is a region,
// prompted by one of its stored prompt masks (training: a type drawn uniformly among its
// non-empty ones, seeded by (seed, example index); evaluation: the one type asked for), the
// point and scribble masks grown into discs of radius 10 and 5 px, and its own mask as the
// target, in annotation order. ref: PSALM psalm/model/datasets_mapper/coco_instance_mapper.py.
// Host code. Depends on: data/coco_interactive, psalm/example, psalm/visual_prompt,
// train/example_images. Test: tests/data/test_coco_interactive.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/core/rng.hpp"
#include "psalm/data/coco_interactive.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/psalm/visual_prompt.hpp"
#include "psalm/train/example_images.hpp"

namespace psalm::train {

// Letters: H0 W0 the image, K regions.

static_assert(static_cast<int>(VisualPromptKind::point) == 0 &&
                  static_cast<int>(VisualPromptKind::scribble) == 1 &&
                  static_cast<int>(VisualPromptKind::box) == 2 &&
                  static_cast<int>(VisualPromptKind::mask) == 3,
              "data::kVisualPromptKeys follows VisualPromptKind's order");

struct InteractiveOptions {
  /// Evaluation: the one prompt type used (upstream --region_mask_type); an instance without a
  /// non-empty prompt of that type is left out. nullopt: training's random choice.
  std::optional<VisualPromptKind> prompt_type;
  std::uint64_t seed = 0;        ///< training: the draw of example i uses (seed, i)
  VisualPromptOptions dilation;  ///< point / scribble disc radii (10 / 5 px)
};

class InteractiveSource {
 public:
  InteractiveSource(std::vector<data::InteractiveRecord> records, std::filesystem::path image_dir,
                    InteractiveOptions options = {})
      : records_(std::move(records)), image_dir_(std::move(image_dir)), options_(options) {}

  std::int64_t size() const { return static_cast<std::int64_t>(records_.size()); }
  const std::vector<data::InteractiveRecord>& records() const { return records_; }

  /// The prompt type example `i` uses for its annotation `a` (-1: none usable), and why.
  int prompt_choice(std::int64_t i, std::size_t a) const {
    const data::InteractiveRecord& rec = records_[static_cast<std::size_t>(i)];
    const data::CocoAnnotationRecord& ann = rec.anns[a];
    std::vector<int> usable;
    for (std::size_t t = 0; t < data::kVisualPromptTypes; ++t) {
      if (options_.prompt_type && static_cast<std::size_t>(*options_.prompt_type) != t) continue;
      const auto& p = ann.visual_prompts[t];
      if (p && io::rle_area(*p) > 0) usable.push_back(static_cast<int>(t));
    }
    if (usable.empty()) return -1;
    if (usable.size() == 1) return usable[0];
    const CounterRng rng{options_.seed, static_cast<std::uint64_t>(i)};
    const auto pick = static_cast<std::size_t>(rng.uniform_double(a) * usable.size());
    return usable[std::min(pick, usable.size() - 1)];
  }

  Example example(std::int64_t i) const {
    PSALM_CHECK(i >= 0 && i < size(), "InteractiveSource: example ", i, " of ", size());
    const data::InteractiveRecord& rec = records_[static_cast<std::size_t>(i)];
    const std::int64_t h = rec.height, w = rec.width;
    Example ex;
    ex.task = Task::interactive;
    ex.image = load_example_image(image_dir_ / rec.image_file, h, w, rec.context);  // (H0, W0, 3)
    std::vector<io::Rle> prompts, targets;
    std::vector<int> kinds;
    for (std::size_t a = 0; a < rec.anns.size(); ++a) {
      const data::CocoAnnotationRecord& ann = rec.anns[a];
      if (ann.iscrowd) continue;
      const int kind = prompt_choice(i, a);
      if (kind < 0) continue;
      std::optional<io::Rle> target = data::annotation_rle(ann, h, w);
      if (!target || io::rle_area(*target) == 0) continue;  // upstream drops such instances
      const io::Rle& p = *ann.visual_prompts[static_cast<std::size_t>(kind)];
      PSALM_CHECK(p.height == h && p.width == w, ann.context, ": field \"",
                  data::kVisualPromptKeys[static_cast<std::size_t>(kind)], "\" has size [",
                  p.height, ", ", p.width, "] but the image is ", h, " x ", w);
      prompts.push_back(p);
      kinds.push_back(kind);
      targets.push_back(std::move(*target));
    }
    ex.prompt_masks = stack_rles(prompts, h, w);  // (K, H0, W0)
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      const auto kind = static_cast<VisualPromptKind>(kinds[k]);
      if (kind != VisualPromptKind::point && kind != VisualPromptKind::scribble) continue;
      const std::int64_t radius = kind == VisualPromptKind::point
                                      ? options_.dilation.point_radius
                                      : options_.dilation.scribble_radius;
      std::vector<std::uint8_t> grown(static_cast<std::size_t>(h * w), 0);
      std::uint8_t* m = ex.prompt_masks.data() + static_cast<std::int64_t>(k) * h * w;
      psalm::detail::dilate_disc(m, grown.data(), h, w, radius);
      std::copy(grown.begin(), grown.end(), m);
    }
    ex.target_masks = stack_rles(targets, h, w);  // (K, H0, W0)
    return ex;
  }

 private:
  std::vector<data::InteractiveRecord> records_;
  std::filesystem::path image_dir_;
  InteractiveOptions options_;
};

/// COCO-Interactive from its JSON (converted list or COCO dict) and the image folder.
inline InteractiveSource coco_interactive_source(const std::filesystem::path& json,
                                                 const std::filesystem::path& image_dir,
                                                 InteractiveOptions options = {}) {
  return InteractiveSource(data::read_coco_interactive(json), image_dir, options);
}

}  // namespace psalm::train
