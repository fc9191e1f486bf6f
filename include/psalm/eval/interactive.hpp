// psalm/eval/interactive.hpp — interactive (visual-prompt) segmentation metrics on
// COCO-Interactive: mIoU (= PSALM's gIoU) and cIoU per prompt type (point, scribble, box, mask)
// and over all prompts, one sample per prompted instance, as PSALM's region_segmentation.py.
// Depends on: eval/referring.hpp. Test: tests/eval/test_interactive.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>
#include <string_view>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"
#include "psalm/eval/referring.hpp"

namespace psalm::eval {

enum class PromptType { point = 0, scribble = 1, box = 2, mask = 3 };
inline constexpr std::size_t kPromptTypeCount = 4;

inline const char* to_string(PromptType type) {
  switch (type) {
    case PromptType::point:
      return "point";
    case PromptType::scribble:
      return "scribble";
    case PromptType::box:
      return "box";
    case PromptType::mask:
      return "mask";
  }
  return "?";
}

/// Parses "point", "scribble", "box" or "mask" (PSALM's `region_mask_type` prefixes).
inline PromptType parse_prompt_type(std::string_view name) {
  for (std::size_t t = 0; t < kPromptTypeCount; ++t)
    if (name == to_string(static_cast<PromptType>(t))) return static_cast<PromptType>(t);
  fail("unknown prompt type '", name, "' (expected point, scribble, box or mask)");
}

struct InteractiveResult {
  std::string protocol;
  std::array<ReferringResult, kPromptTypeCount> per_type;  // indexed by PromptType
  ReferringResult overall;                                 // all prompts pooled

  const ReferringResult& of(PromptType type) const {
    return per_type[static_cast<std::size_t>(type)];
  }

  /// One line per prompt type that has samples, then the pooled line (mIoU = gIoU).
  std::string to_string() const {
    std::ostringstream s;
    s << protocol << "\n" << std::fixed << std::setprecision(3);
    s << "prompt      samples     mIoU     cIoU   (percent)\n";
    auto line = [&](const char* name, const ReferringResult& r) {
      s << std::left << std::setw(10) << name << std::right << std::setw(9) << r.samples
        << std::setw(9) << 100.0 * r.giou << std::setw(9) << 100.0 * r.ciou << "\n";
    };
    for (std::size_t t = 0; t < kPromptTypeCount; ++t)
      if (per_type[t].samples > 0) line(eval::to_string(static_cast<PromptType>(t)), per_type[t]);
    line("overall", overall);
    return s.str();
  }
};

/// One ReferringEvaluator per prompt type plus one over everything, all with the same protocol
/// (PSALM's by default: IoU = I/(U+1e-5), both empty -> 1, cIoU = sum I/(sum U+1e-10)).
/// ref: PSALM psalm/eval/region_segmentation.py (compute_metric: the top-scoring query per
/// region is compared with that instance's gt; every prompted instance is one sample).
class InteractiveEvaluator {
 public:
  explicit InteractiveEvaluator(ReferringProtocol protocol = ReferringProtocol::psalm())
      : overall_(protocol),
        per_type_{ReferringEvaluator(protocol), ReferringEvaluator(protocol),
                  ReferringEvaluator(protocol), ReferringEvaluator(protocol)} {}

  void reset() {
    overall_.reset();
    for (auto& e : per_type_) e.reset();
  }

  /// Adds one prompted instance: the prediction for that prompt and the instance's gt mask.
  Overlap add(PromptType type, const MaskView& pred, const MaskView& gt) {
    const auto t = static_cast<std::size_t>(type);
    PSALM_CHECK(t < kPromptTypeCount, "interactive evaluation: invalid prompt type ", t);
    const Overlap o = mask_overlap(pred, gt, overall_.protocol().gt_ignore_value);
    per_type_[t].add_overlap(o);
    overall_.add_overlap(o);
    return o;
  }

  InteractiveResult result() const {
    InteractiveResult r;
    r.protocol = describe_protocol();
    for (std::size_t t = 0; t < kPromptTypeCount; ++t) r.per_type[t] = per_type_[t].result();
    r.overall = overall_.result();
    return r;
  }

  std::string describe_protocol() const {
    return "interactive segmentation (PSALM region_segmentation): one sample per prompted "
           "instance, metrics per prompt type and pooled; mIoU is the gIoU of " +
           overall_.describe_protocol();
  }

 private:
  ReferringEvaluator overall_;
  std::array<ReferringEvaluator, kPromptTypeCount> per_type_;
};

}  // namespace psalm::eval
