// psalm/data/semantic_folder.hpp — a semantic-segmentation folder pair as detectron2's
// load_sem_seg reads it (the layout FC-CLIP's preparation scripts write for ADE20K, PASCAL
// Context and PASCAL VOC): images and label maps paired by file stem, sorted; label value c is
// class c, one value means "ignore". Label maps are 8- or 16-bit gray or indexed PNGs, or
// uncompressed TIFFs (PASCAL Context 459). Host code. Depends on: io/image, data/tiff_labels.
// Test: tests/data/test_semantic_folder.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/tiff_labels.hpp"
#include "psalm/io/image.hpp"

namespace psalm::data {

// Letters: H W an image.

inline constexpr std::size_t kMaxFolderFiles = 1000000;

struct SemanticSample {
  std::filesystem::path image, labels;
};

namespace detail {

inline std::map<std::string, std::filesystem::path> files_by_stem(const std::filesystem::path& dir,
                                                                  const std::string& extension) {
  namespace fs = std::filesystem;
  std::error_code ec;
  PSALM_CHECK(fs::is_directory(dir, ec), dir.string(), ": folder not found");
  std::map<std::string, fs::path> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() != extension) continue;
    out.emplace(it->path().stem().string(), it->path());
    PSALM_CHECK(out.size() <= kMaxFolderFiles, dir.string(), ": more than ", kMaxFolderFiles,
                " files");
  }
  PSALM_CHECK(!ec, dir.string(), ": cannot list the folder: ", ec.message());
  return out;
}

}  // namespace detail

/// The samples of an image folder and a label folder: files `<stem><image_ext>` and
/// `<stem><label_ext>` paired by stem, sorted by stem. Files without a partner are left out
/// (detectron2 keeps the intersection too); no pair at all is an error.
/// ref: detectron2/data/datasets/coco.py (load_sem_seg).
inline std::vector<SemanticSample> read_semantic_folder(const std::filesystem::path& image_dir,
                                                        const std::filesystem::path& label_dir,
                                                        const std::string& image_ext = ".jpg",
                                                        const std::string& label_ext = ".png") {
  const auto images = detail::files_by_stem(image_dir, image_ext);
  const auto labels = detail::files_by_stem(label_dir, label_ext);
  std::vector<SemanticSample> out;
  for (const auto& [stem, path] : images) {
    const auto it = labels.find(stem);
    if (it != labels.end()) out.push_back({path, it->second});
  }
  PSALM_CHECK(!out.empty(), image_dir.string(), " and ", label_dir.string(), ": no image (",
              image_ext, ") has a label map (", label_ext, ") of the same name");
  return out;
}

/// The (H, W) label map of `sample`, which must be `height` x `width`.
inline Tensor<std::int32_t> load_semantic_labels(const SemanticSample& sample, std::int64_t height,
                                                 std::int64_t width) {
  const auto ext = sample.labels.extension();
  Tensor<std::int32_t> labels = ext == ".tif" || ext == ".tiff"
                                    ? load_tiff_labels(sample.labels)
                                    : io::load_label_png(sample.labels);  // (H, W)
  PSALM_CHECK(labels.size(0) == height && labels.size(1) == width, sample.labels.string(),
              ": label map of ", labels.size(0), " x ", labels.size(1), " but the image ",
              sample.image.string(), " is ", height, " x ", width);
  return labels;
}

}  // namespace psalm::data
