// psalm/eval/mask_view.hpp — MaskView and LabelView: non-owning views over row-major H x W
// buffers (binary masks as uint8, label / segment-id maps as int32) that the evaluators read.
// Depends on: core/error.hpp. Test: exercised by tests/eval/test_coco_instance.cpp and
// tests/eval/test_panoptic_quality.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/error.hpp"

namespace psalm::eval {

/// A binary mask: `data[y * width + x]`, nonzero = foreground. Does not own `data`.
struct MaskView {
  const std::uint8_t* data;
  std::int64_t height, width;

  std::int64_t size() const { return height * width; }
  bool at(std::int64_t y, std::int64_t x) const { return data[y * width + x] != 0; }
};

/// A label map (class ids or segment ids): `data[y * width + x]`. Does not own `data`.
struct LabelView {
  const std::int32_t* data;
  std::int64_t height, width;

  std::int64_t size() const { return height * width; }
  std::int32_t at(std::int64_t y, std::int64_t x) const { return data[y * width + x]; }
};

/// Throws psalm::Error unless the view has non-negative sizes and data for a non-empty area.
template <class View>
void check_view(const View& view, const char* what) {
  PSALM_CHECK(view.height >= 0 && view.width >= 0, what, ": negative size ", view.height, " x ",
              view.width);
  PSALM_CHECK(view.data != nullptr || view.height * view.width == 0, what, ": null data for a ",
              view.height, " x ", view.width, " view");
}

}  // namespace psalm::eval
