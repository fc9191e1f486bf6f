// psalm/train/coco_examples.hpp — COCO panoptic and COCO instances as PSALM examples, one per
// image, indexed and loaded on demand (size(), example(i)): the class list is the file's
// categories in file order ("background" is the prompt builder's), targets are the non-crowd
// segments / annotations in file order with their class indices (ref: PSALM
// psalm/model/datasets_mapper/coco_panoptic_mapper.py and coco_instance_mapper.py drop
// `iscrowd` ones). Host code.
// Depends on: data/coco_panoptic, data/coco_instances, psalm/example, train/example_images.
// Test: tests/data/test_coco_panoptic.cpp, test_coco_instances.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/coco_instances.hpp"
#include "psalm/data/coco_panoptic.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/train/example_images.hpp"

namespace psalm::train {

// Letters: H0 W0 the image, N targets.

namespace detail {

template <class Categories>
void set_class_list(Example& ex, const Categories& categories) {
  for (const data::CocoCategoryRecord& c : categories) {
    ex.class_names.push_back(c.name);
    ex.class_is_thing.push_back(c.isthing ? 1 : 0);
  }
}

}  // namespace detail

/// COCO panoptic: annotation i's image, the 133 (or the file's) categories, and per task
///  - panoptic: every non-crowd segment (stuff and things), in segments_info order;
///  - instance: the non-crowd segments of thing categories;
///  - semantic: one mask per category present (crowd segments included, as the semantic PNGs
///    FC-CLIP derives from the panoptic ones), in category order.
/// Segments with no pixel in the PNG are kept (empty masks), as upstream.
class CocoPanopticSource {
 public:
  CocoPanopticSource(data::CocoPanoptic panoptic, std::filesystem::path image_dir,
                     std::filesystem::path png_dir, Task task = Task::panoptic)
      : data_(std::move(panoptic)),
        image_dir_(std::move(image_dir)),
        png_dir_(std::move(png_dir)),
        task_(task) {
    PSALM_CHECK(condition_kind(task) == ConditionKind::classes, "CocoPanopticSource: task ",
                to_string(task), " is not a class-list task (panoptic, instance, semantic)");
  }

  std::int64_t size() const { return static_cast<std::int64_t>(data_.annotations.size()); }
  const data::CocoPanoptic& records() const { return data_; }

  Example example(std::int64_t i) const {
    PSALM_CHECK(i >= 0 && i < size(), "CocoPanopticSource: example ", i, " of ", size());
    const data::PanopticAnnotationRecord& a = data_.annotations[static_cast<std::size_t>(i)];
    const data::CocoImageRecord& im =
        data_.images[static_cast<std::size_t>(data_.image_index(a.image_id))];
    Example ex;
    ex.task = task_;
    ex.image = load_example_image(image_dir_ / im.file_name, im.height, im.width,
                                  a.context);  // (H0, W0, 3)
    detail::set_class_list(ex, data_.categories);
    const Tensor<std::int32_t> ids =
        data::load_panoptic_ids(png_dir_ / a.file_name, a, im.height, im.width);  // (H0, W0)
    std::vector<std::int64_t> values;
    if (task_ == Task::semantic) {
      // One mask per category: relabel segment ids to class indices first.
      std::map<std::int64_t, std::int64_t> cls;  // segment id -> class index
      for (const data::PanopticSegmentRecord& s : a.segments)
        cls[s.id] = data_.category_index(s.category_id);
      Tensor<std::int32_t> labels(Shape{im.height, im.width});  // (H0, W0)
      std::vector<bool> present(data_.categories.size(), false);
      for (std::int64_t p = 0; p < im.height * im.width; ++p) {
        const std::int32_t id = ids.data()[p];
        const std::int64_t c = id == 0 ? -1 : cls.at(id);
        labels.data()[p] = static_cast<std::int32_t>(c);
        if (c >= 0) present[static_cast<std::size_t>(c)] = true;
      }
      for (std::size_t c = 0; c < present.size(); ++c)
        if (present[c]) values.push_back(static_cast<std::int64_t>(c));
      ex.target_masks = label_masks(labels, values);  // (N, H0, W0)
      ex.target_labels = values;
      return ex;
    }
    for (const data::PanopticSegmentRecord& s : a.segments) {
      if (s.iscrowd) continue;
      const std::int64_t c = data_.category_index(s.category_id);
      if (task_ == Task::instance && !data_.categories[static_cast<std::size_t>(c)].isthing)
        continue;
      values.push_back(s.id);
      ex.target_labels.push_back(c);
    }
    ex.target_masks = label_masks(ids, values);  // (N, H0, W0)
    return ex;
  }

 private:
  data::CocoPanoptic data_;
  std::filesystem::path image_dir_, png_dir_;
  Task task_;
};

/// COCO instances: image i (every image of the file, those without annotations included:
/// they give N = 0), the file's categories, the non-crowd annotations with a non-empty mask,
/// in file order (detectron2's filter_empty_instances drops empty ones upstream).
class CocoInstancesSource {
 public:
  CocoInstancesSource(data::CocoInstances instances, std::filesystem::path image_dir)
      : data_(std::move(instances)), image_dir_(std::move(image_dir)) {}

  std::int64_t size() const { return static_cast<std::int64_t>(data_.images.size()); }
  const data::CocoInstances& records() const { return data_; }

  Example example(std::int64_t i) const {
    PSALM_CHECK(i >= 0 && i < size(), "CocoInstancesSource: example ", i, " of ", size());
    const data::CocoImageRecord& im = data_.images[static_cast<std::size_t>(i)];
    Example ex;
    ex.task = Task::instance;
    ex.image = load_example_image(image_dir_ / im.file_name, im.height, im.width,  // (H0, W0, 3)
                                  data_.source + ": images[" + std::to_string(i) + "]");
    detail::set_class_list(ex, data_.categories);
    std::vector<io::Rle> masks;
    for (std::size_t k : data_.image_annotations[static_cast<std::size_t>(i)]) {
      const data::CocoAnnotationRecord& a = data_.annotations[k];
      if (a.iscrowd) continue;
      std::optional<io::Rle> rle = data::annotation_rle(a, im.height, im.width);
      if (!rle || io::rle_area(*rle) == 0) continue;  // no valid polygon, or an empty mask
      masks.push_back(std::move(*rle));
      ex.target_labels.push_back(data_.category_index(a.category_id));
    }
    ex.target_masks = stack_rles(masks, im.height, im.width);  // (N, H0, W0)
    return ex;
  }

 private:
  data::CocoInstances data_;
  std::filesystem::path image_dir_;
};

/// COCO panoptic from its JSON, the image folder and the PNG folder.
inline CocoPanopticSource coco_panoptic_source(const std::filesystem::path& json,
                                               const std::filesystem::path& image_dir,
                                               const std::filesystem::path& png_dir,
                                               Task task = Task::panoptic) {
  return CocoPanopticSource(data::read_coco_panoptic(json), image_dir, png_dir, task);
}

/// COCO instances from its JSON and the image folder.
inline CocoInstancesSource coco_instances_source(const std::filesystem::path& json,
                                                 const std::filesystem::path& image_dir) {
  return CocoInstancesSource(data::read_coco_instances(json), image_dir);
}

}  // namespace psalm::train
