// psalm/train/semantic_examples.hpp — a semantic-segmentation folder (ADE20K-150, PASCAL
// Context 59 / 459, PASCAL VOC 20 as FC-CLIP prepares them, or a user's own) as PSALM examples
// (task semantic): the image, the dataset's whole class list, one target mask per class present
// (ignore-label pixels left out), in label order. Host code.
// Depends on: data/semantic_folder, data/open_vocabulary, psalm/example, train/example_images.
// Test: tests/data/test_semantic_folder.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/open_vocabulary.hpp"
#include "psalm/data/semantic_folder.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/train/example_images.hpp"

namespace psalm::train {

// Letters: H0 W0 the image, N classes present.

class SemanticFolderSource {
 public:
  SemanticFolderSource(std::vector<data::SemanticSample> samples, data::ClassList classes)
      : samples_(std::move(samples)), classes_(std::move(classes)) {
    PSALM_CHECK(!classes_.names.empty() && classes_.is_thing.size() == classes_.names.size(),
                "SemanticFolderSource: a class list needs names and as many thing flags");
  }

  std::int64_t size() const { return static_cast<std::int64_t>(samples_.size()); }
  const std::vector<data::SemanticSample>& samples() const { return samples_; }
  const data::ClassList& classes() const { return classes_; }

  Example example(std::int64_t i) const {
    PSALM_CHECK(i >= 0 && i < size(), "SemanticFolderSource: example ", i, " of ", size());
    const data::SemanticSample& s = samples_[static_cast<std::size_t>(i)];
    Example ex;
    ex.task = Task::semantic;
    io::ImageLoadOptions opt;
    opt.channels = 3;
    ex.image = io::load_image(s.image, opt);  // (H0, W0, 3)
    const std::int64_t h = ex.image.size(0), w = ex.image.size(1);
    ex.class_names = classes_.names;
    ex.class_is_thing = classes_.is_thing;
    const Tensor<std::int32_t> labels = data::load_semantic_labels(s, h, w);  // (H0, W0)
    const auto c = static_cast<std::int64_t>(classes_.names.size());
    std::vector<bool> present(static_cast<std::size_t>(c), false);
    const std::int32_t* l = labels.data();
    for (std::int64_t p = 0; p < h * w; ++p) {
      if (l[p] == classes_.ignore_label) continue;
      PSALM_CHECK(l[p] >= 0 && l[p] < c, s.labels.string(), ": pixel (", p / w, ", ", p % w,
                  ") has label ", l[p], " but the class list has ", c, " classes (ignore ",
                  classes_.ignore_label, ")");
      present[static_cast<std::size_t>(l[p])] = true;
    }
    for (std::int64_t k = 0; k < c; ++k)
      if (present[static_cast<std::size_t>(k)]) ex.target_labels.push_back(k);
    ex.target_masks = label_masks(labels, ex.target_labels);  // (N, H0, W0)
    return ex;
  }

 private:
  std::vector<data::SemanticSample> samples_;
  data::ClassList classes_;
};

/// An open-vocabulary evaluation set from its image and label folders (FC-CLIP's layout:
/// e.g. ADEChallengeData2016/images/validation + annotations_detectron2/validation).
/// PASCAL Context 459's label maps are .tif files, the others .png.
inline SemanticFolderSource open_vocabulary_source(data::OpenVocabularySet set,
                                                   const std::filesystem::path& image_dir,
                                                   const std::filesystem::path& label_dir) {
  const std::string ext = set == data::OpenVocabularySet::pascal_context_459 ? ".tif" : ".png";
  return SemanticFolderSource(data::read_semantic_folder(image_dir, label_dir, ".jpg", ext),
                              data::open_vocabulary_classes(set));
}

}  // namespace psalm::train
