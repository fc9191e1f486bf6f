// psalm/train/referring_examples.hpp — RefCOCO / RefCOCO+ / RefCOCOg and gRefCOCO records as
// PSALM examples (task referring or gres): the image, the sentence, one target mask per
// referred annotation (none for a gRefCOCO no-target entry). Either one example per entry with
// all its sentences (upstream trains and evaluates its converted files this way: the prompt
// carries ' s1. s2.'; ref: PSALM psalm/train/train_datasets.py RefCOCO_dataset), or one per
// sentence (the usual RefCOCO protocol). Host code.
// Depends on: data/referring, psalm/example, train/example_images.
// Test: tests/data/test_referring.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/referring.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/train/example_images.hpp"

namespace psalm::train {

// Letters: H0 W0 the image, N targets.

enum class ReferringSentences : std::uint8_t {
  joined,       ///< one example per entry; the sentences joined (upstream's converted files)
  per_sentence  ///< one example per sentence
};

/// Example::sentence of several sentences such that the prompt builder's " " + s + "."
/// (psalm::referring_instruction of one string) gives upstream's ' s1. s2.': "s1. s2".
inline std::string join_sentences(const std::vector<std::string>& sentences) {
  std::string out;
  for (std::size_t s = 0; s < sentences.size(); ++s) out += (s == 0 ? "" : ". ") + sentences[s];
  return out;
}

/// Referring examples over converted (or joined original) records.
class ReferringSource {
 public:
  ReferringSource(std::vector<data::ReferringRecord> records, std::filesystem::path image_dir,
                  Task task = Task::referring,
                  ReferringSentences sentences = ReferringSentences::joined)
      : records_(std::move(records)),
        image_dir_(std::move(image_dir)),
        task_(task),
        mode_(sentences) {
    PSALM_CHECK(task == Task::referring || task == Task::gres, "ReferringSource: task ",
                to_string(task), " is not referring or gres");
    if (mode_ == ReferringSentences::per_sentence) {
      start_.reserve(records_.size() + 1);
      start_.push_back(0);
      for (const auto& r : records_)
        start_.push_back(start_.back() + static_cast<std::int64_t>(r.sentences.size()));
    }
  }

  std::int64_t size() const {
    return mode_ == ReferringSentences::joined ? static_cast<std::int64_t>(records_.size())
                                               : start_.back();
  }
  const std::vector<data::ReferringRecord>& records() const { return records_; }

  /// The record and sentence (or -1: all) of example `i`.
  std::pair<std::size_t, std::int64_t> locate(std::int64_t i) const {
    PSALM_CHECK(i >= 0 && i < size(), "ReferringSource: example ", i, " of ", size());
    if (mode_ == ReferringSentences::joined) return {static_cast<std::size_t>(i), -1};
    const auto it = std::upper_bound(start_.begin(), start_.end(), i) - 1;
    const auto r = static_cast<std::size_t>(it - start_.begin());
    return {r, i - *it};
  }

  Example example(std::int64_t i) const {
    const auto [r, s] = locate(i);
    const data::ReferringRecord& rec = records_[r];
    Example ex;
    ex.task = task_;
    ex.image = load_example_image(image_dir_ / rec.image_file, rec.height, rec.width,
                                  rec.context);  // (H0, W0, 3)
    ex.sentence =
        s < 0 ? join_sentences(rec.sentences) : rec.sentences[static_cast<std::size_t>(s)];
    std::vector<io::Rle> masks;
    for (const data::CocoAnnotationRecord& a : rec.anns) {
      // Upstream's referring evaluation reads every annotation of the entry, crowd or not.
      std::optional<io::Rle> m = data::annotation_rle(a, rec.height, rec.width);
      if (m) masks.push_back(std::move(*m));
    }
    ex.target_masks = stack_rles(masks, rec.height, rec.width);  // (N, H0, W0)
    return ex;
  }

 private:
  std::vector<data::ReferringRecord> records_;
  std::filesystem::path image_dir_;
  Task task_;
  ReferringSentences mode_;
  std::vector<std::int64_t> start_;  // per_sentence: first example of each record
};

/// RefCOCO / RefCOCO+ / RefCOCOg from a converted JSON file (`*_psalm.json`, `refcoco_val.json`).
inline ReferringSource refcoco_source(const std::filesystem::path& json,
                                      const std::filesystem::path& image_dir,
                                      ReferringSentences sentences = ReferringSentences::joined) {
  return ReferringSource(data::read_referring_json(json, data::ReferringKind::refcoco), image_dir,
                         Task::referring, sentences);
}

/// gRefCOCO from a converted JSON file (no-target entries give N = 0).
inline ReferringSource grefcoco_source(const std::filesystem::path& json,
                                       const std::filesystem::path& image_dir,
                                       ReferringSentences sentences = ReferringSentences::joined) {
  return ReferringSource(data::read_referring_json(json, data::ReferringKind::grefcoco), image_dir,
                         Task::gres, sentences);
}

}  // namespace psalm::train
