// tools/commands/score_files.hpp — reading evaluation inputs for `psalm score` from standard
// layouts: folders of mask / label PNGs matched by file name, DAVIS sequence folders, and
// COCO panoptic JSON + PNG folders. Every error names the file or folder it is about, once;
// a folder that is absent (or a file) is an error, never an empty set.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "psalm/data/annotation_json.hpp"
#include "psalm/eval/mask_view.hpp"
#include "psalm/eval/panoptic_quality.hpp"
#include "psalm/io/image.hpp"
#include "psalm/io/json_config.hpp"

namespace psalm::cli {

namespace fs = std::filesystem;

/// Throws unless `dir` is an existing folder; `option` names where it came from.
inline void require_folder(const fs::path& dir, const std::string& option) {
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (!fs::exists(st)) throw Error(option + " " + dir.string() + ": no such folder");
  if (!fs::is_directory(st)) throw Error(option + " " + dir.string() + ": is a file, not a folder");
}

/// The .png files directly in `dir` (which must be a folder), sorted by name.
inline std::vector<fs::path> png_files(const fs::path& dir, const std::string& option) {
  require_folder(dir, option);
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".png") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// The sub-folders of `dir` (which must be a folder), sorted by name.
inline std::vector<fs::path> sub_folders(const fs::path& dir, const std::string& option) {
  require_folder(dir, option);
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// A binary mask and a view of it.
struct LoadedMask {
  Tensor<std::uint8_t> pixels;  // (H, W) 0/1
  eval::MaskView view() const { return {pixels.data(), pixels.size(0), pixels.size(1)}; }
};

/// The prediction mask at `path`, or an empty mask of the ground truth's size when no file of
/// that name exists (the folder itself must exist: require_folder). Anything else at `path`
/// (a folder, a device) is an error.
inline LoadedMask load_mask_or_empty(const fs::path& path, std::int64_t height,
                                     std::int64_t width) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec)))
    return {Tensor<std::uint8_t>::zeros({height, width})};
  LoadedMask m{io::load_binary_mask(path).contiguous()};
  if (m.pixels.size(0) != height || m.pixels.size(1) != width)
    throw Error(path.string() + ": mask is " + std::to_string(m.pixels.size(0)) + "x" +
                std::to_string(m.pixels.size(1)) + " but the ground truth is " +
                std::to_string(height) + "x" + std::to_string(width));
  return m;
}

/// A label map (class ids, indexed ids) and a view of it.
struct LoadedLabels {
  Tensor<std::int32_t> ids;  // (H, W)
  eval::LabelView view() const { return {ids.data(), ids.size(0), ids.size(1)}; }
};

inline LoadedLabels load_labels(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec)))
    throw Error(path.string() + ": missing (every ground-truth file needs a prediction)");
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

/// Reads a COCO panoptic JSON strictly: ids, category ids and areas must be integers (1.5 is
/// an error, not 1), flags 0 / 1 or booleans; errors name the file and the key path.
inline PanopticJson read_panoptic_json(const fs::path& path, bool need_categories) {
  const nlohmann::json j = data::read_annotation_json(path);
  const std::string src = path.string();
  const auto field = [&](const nlohmann::json& object, const std::string& where,
                         const char* key) -> const nlohmann::json& {
    if (!object.is_object()) fail(src, ": \"", where, "\" must be an object");
    const auto it = object.find(key);
    if (it == object.end()) fail(src, ": missing key \"", where, ".", key, "\"");
    return *it;
  };
  const auto integer = [&](const nlohmann::json& object, const std::string& where,
                           const char* key) {
    return io::json_as<std::int64_t>(field(object, where, key), src, where + "." + key);
  };
  const auto flag = [&](const nlohmann::json& object, const std::string& where, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return false;
    if (it->is_boolean()) return it->get<bool>();
    const auto v = io::json_as<std::int64_t>(*it, src, where + "." + key);
    if (v != 0 && v != 1) fail(src, ": key \"", where, ".", key, "\" must be 0 or 1, got ", v);
    return v == 1;
  };
  PanopticJson out;
  if (!j.is_object()) fail(src, ": not COCO panoptic JSON (the top level must be an object)");
  if (need_categories) {
    const auto& cats = field(j, "", "categories");
    if (!cats.is_array()) fail(src, ": \"categories\" must be a list");
    for (std::size_t i = 0; i < cats.size(); ++i) {
      const std::string where = "categories[" + std::to_string(i) + "]";
      out.categories.push_back({integer(cats[i], where, "id"), flag(cats[i], where, "isthing"),
                                cats[i].value("name", std::string())});
    }
  }
  const auto& anns = field(j, "", "annotations");
  if (!anns.is_array()) fail(src, ": \"annotations\" must be a list");
  for (std::size_t i = 0; i < anns.size(); ++i) {
    const std::string where = "annotations[" + std::to_string(i) + "]";
    const auto& a = anns[i];
    PanopticJson::Entry e{
        io::json_as<std::string>(field(a, where, "file_name"), src, where + ".file_name"), {}};
    const fs::path name(e.file_name);
    bool plain =
        !e.file_name.empty() && name.is_relative() && e.file_name.find('\0') == std::string::npos;
    for (const auto& part : name) plain = plain && part != ".." && part != ".";
    if (!plain)
      fail(src, ": \"", where, ".file_name\" = \"", e.file_name,
           "\" is not a plain file name inside the PNG folder");
    const auto& infos = field(a, where, "segments_info");
    if (!infos.is_array()) fail(src, ": \"", where, ".segments_info\" must be a list");
    for (std::size_t k = 0; k < infos.size(); ++k) {
      const std::string sw = where + ".segments_info[" + std::to_string(k) + "]";
      eval::PanopticSegment seg{integer(infos[k], sw, "id"), integer(infos[k], sw, "category_id"),
                                flag(infos[k], sw, "iscrowd"), std::nullopt};
      if (infos[k].contains("area") && !infos[k]["area"].is_null())
        seg.area = integer(infos[k], sw, "area");
      e.segments.push_back(seg);
    }
    const auto id = integer(a, where, "image_id");
    if (!out.images.emplace(id, std::move(e)).second)
      fail(src, ": image_id ", id, " appears twice (", where, ")");
  }
  return out;
}

/// Segment ids of an RGB panoptic PNG (id = R + 256 G + 256^2 B).
inline LoadedLabels load_panoptic_png(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec)))
    throw Error(path.string() + ": missing panoptic PNG");
  io::ImageLoadOptions rgb;
  rgb.channels = 3;
  return {io::panoptic_ids_from_rgb(io::load_image(path, rgb)).contiguous()};
}

}  // namespace psalm::cli
