// tools/commands/score_files.hpp — reading evaluation inputs for `psalm score` from standard
// layouts: folders of mask / label PNGs matched by file name, DAVIS sequence folders, and
// COCO panoptic JSON + PNG folders. Every error names the file it is about.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "psalm/eval/mask_view.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/io/image.hpp"

namespace psalm::cli {

namespace fs = std::filesystem;

/// The .png files directly in `dir`, sorted by name; an error if `dir` is not a folder.
inline std::vector<fs::path> png_files(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(dir.string() + ": not a folder");
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".png") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// The sub-folders of `dir`, sorted by name.
inline std::vector<fs::path> sub_folders(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(dir.string() + ": not a folder");
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// A binary mask and a view of it; an absent prediction file reads as an empty mask of the
/// ground truth's size.
struct LoadedMask {
  Tensor<std::uint8_t> pixels;  // (H, W) 0/1
  eval::MaskView view() const { return {pixels.data(), pixels.size(0), pixels.size(1)}; }
};

inline LoadedMask load_mask_or_empty(const fs::path& path, std::int64_t height, std::int64_t width) {
  if (!fs::exists(path)) return {Tensor<std::uint8_t>::zeros({height, width})};
  LoadedMask m{io::load_binary_mask(path).contiguous()};
  if (m.pixels.size(0) != height || m.pixels.size(1) != width)
    throw Error(path.string() + ": mask is " + std::to_string(m.pixels.size(0)) + "x" +
                std::to_string(m.pixels.size(1)) + " but the ground truth is " + std::to_string(height) +
                "x" + std::to_string(width));
  return m;
}

/// A label map (class ids, indexed ids) and a view of it.
struct LoadedLabels {
  Tensor<std::int32_t> ids;  // (H, W)
  eval::LabelView view() const { return {ids.data(), ids.size(0), ids.size(1)}; }
};

inline LoadedLabels load_labels(const fs::path& path) {
  if (!fs::exists(path)) throw Error(path.string() + ": missing (every ground-truth file needs a prediction)");
  return {io::load_label_png(path).contiguous()};
}

/// COCO panoptic JSON: categories and, per image id, the PNG name and segments_info.
struct PanopticJson {
  std::vector<eval::PanopticCategory> categories;
  struct Entry {
    std::string file_name;
    std::vector<eval::PanopticSegment> segments;
  };
  std::map<std::int64_t, Entry> images;
};

inline PanopticJson read_panoptic_json(const fs::path& path, bool need_categories) {
  const nlohmann::json j = read_json_file(path);
  const std::string src = path.string();
  PanopticJson out;
  try {
    if (need_categories) {
      for (const auto& c : j.at("categories"))
        out.categories.push_back({c.at("id").get<std::int64_t>(), c.value("isthing", 0) != 0,
                                  c.value("name", std::string())});
    }
    for (const auto& a : j.at("annotations")) {
      PanopticJson::Entry e{a.at("file_name").get<std::string>(), {}};
      for (const auto& s : a.at("segments_info")) {
        eval::PanopticSegment seg{s.at("id").get<std::int64_t>(), s.at("category_id").get<std::int64_t>(),
                                  s.value("iscrowd", 0) != 0, std::nullopt};
        if (s.contains("area")) seg.area = s.at("area").get<std::int64_t>();
        e.segments.push_back(seg);
      }
      const auto id = a.at("image_id").get<std::int64_t>();
      if (!out.images.emplace(id, std::move(e)).second)
        throw Error("image_id " + std::to_string(id) + " appears twice");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(src + ": not COCO panoptic JSON: " + e.what());
  } catch (const Error& e) {
    throw Error(src + ": " + e.what());
  }
  return out;
}

/// Segment ids of an RGB panoptic PNG (id = R + 256 G + 256^2 B).
inline LoadedLabels load_panoptic_png(const fs::path& path) {
  if (!fs::exists(path)) throw Error(path.string() + ": missing panoptic PNG");
  io::ImageLoadOptions rgb;
  rgb.channels = 3;
  return {io::panoptic_ids_from_rgb(io::load_image(path, rgb)).contiguous()};
}

}  // namespace psalm::cli
