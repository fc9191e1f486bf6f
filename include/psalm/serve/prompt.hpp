// psalm/serve/prompt.hpp — prompts from outside, read once for every front end: the rules that
// turn a sentence, a class list (with its stuff classes) or visual prompts into a
// psalm::SegmentPrompt, used by `psalm segment`'s flags (tools/commands/segment.hpp), and the
// JSON prompt schema of `psalm serve` (docs/serve.md) read under limits. Every refusal is a
// FieldError naming the field ("regions[1].box", "--text").
// Host code. Depends on: psalm/segmenter.hpp (SegmentPrompt), psalm/visual_prompt.hpp,
// io/rle.hpp. Test: tests/serve/test_prompt.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "psalm/core/error.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/psalm/task.hpp"
#include "psalm/psalm/visual_prompt.hpp"

namespace psalm::serve {

/// Bad input in one field: what() is "<field> <message>" ("text is empty").
class FieldError : public Error {
 public:
  FieldError(std::string field, const std::string& message)
      : Error(field + " " + message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

/// How much one prompt may ask for (a server bounds the work a request can cause).
struct PromptLimits {
  std::size_t max_text_bytes = 2000;  ///< a sentence, and each class name
  std::size_t max_classes = 200;      ///< names in a class list
  std::size_t max_regions = 32;       ///< visual prompts in an interactive prompt
  std::size_t max_points = 4096;      ///< vertices of one scribble
};

namespace detail {

inline std::string trimmed(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

inline std::string single_quoted(std::string_view s) {
  constexpr std::size_t kShown = 60;
  return "'" + std::string(s.substr(0, kShown)) + (s.size() > kShown ? "...'" : "'");
}

}  // namespace detail

/// "person, car ,tree" -> {"person", "car", "tree"} (each trimmed; blank items kept as "").
inline std::vector<std::string> split_names(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    out.push_back(detail::trimmed(text.substr(start, comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

/// What a class list asks for: "panoptic", "instance" or "semantic"; `field` names the source.
inline Task class_task(std::string_view name, const std::string& field) {
  if (name == "panoptic" || name == "instance" || name == "semantic") return parse_task(name);
  throw FieldError(field,
                   "must be panoptic, instance or semantic, got " + detail::single_quoted(name));
}

/// A referring (or, with `gres`, generalized referring) prompt; a blank or over-long sentence
/// is refused.
inline SegmentPrompt sentence_prompt(std::string text, bool gres, const std::string& field,
                                     std::size_t max_bytes = PromptLimits{}.max_text_bytes) {
  if (detail::trimmed(text).empty()) throw FieldError(field, "is empty");
  if (text.size() > max_bytes)
    throw FieldError(field, "is " + std::to_string(text.size()) + " bytes, more than the " +
                                std::to_string(max_bytes) + " allowed");
  return gres ? SegmentPrompt::gres(std::move(text)) : SegmentPrompt::referring(std::move(text));
}

/// A class-list prompt for `task` (panoptic, instance or semantic): names trimmed, blank ones
/// dropped; the names listed in `stuff` are stuff classes (merged per class in panoptic), the
/// others things. Which stuff names must appear is the caller's rule (a command line's --stuff
/// spans several lists).
inline SegmentPrompt class_list_prompt(const std::vector<std::string>& names, Task task,
                                       const std::vector<std::string>& stuff,
                                       const std::string& field, const PromptLimits& limits = {}) {
  if (condition_kind(task) != ConditionKind::classes)
    throw FieldError(field, std::string("belongs to a class-list task, not ") + to_string(task));
  std::vector<std::string> kept;
  std::vector<std::uint8_t> thing;
  for (const std::string& n : names) {
    std::string name = detail::trimmed(n);
    if (name.empty()) continue;
    if (name.size() > limits.max_text_bytes)
      throw FieldError(field, "holds a class name of " + std::to_string(name.size()) +
                                  " bytes, more than the " + std::to_string(limits.max_text_bytes) +
                                  " allowed");
    bool is_stuff = false;
    for (const std::string& s : stuff) is_stuff = is_stuff || detail::trimmed(s) == name;
    thing.push_back(is_stuff ? 0 : 1);
    kept.push_back(std::move(name));
  }
  if (kept.empty()) throw FieldError(field, "lists no class name");
  if (kept.size() > limits.max_classes)
    throw FieldError(field, "lists " + std::to_string(kept.size()) + " classes, more than the " +
                                std::to_string(limits.max_classes) + " allowed");
  return SegmentPrompt::class_list(std::move(kept), task, std::move(thing));
}

namespace detail {

inline void require(bool ok, const std::string& field, const std::string& message) {
  if (!ok) throw FieldError(field, message);
}

inline std::string json_type(const nlohmann::json& j) { return j.type_name(); }

inline std::string string_field(const nlohmann::json& j, const std::string& field) {
  require(j.is_string(), field, "must be a string, got " + json_type(j));
  return j.get<std::string>();
}

/// `count` finite numbers (0: any count, at least one).
inline std::vector<double> numbers(const nlohmann::json& j, std::size_t count,
                                   const std::string& field, const std::string& shape) {
  require(j.is_array() && (count == 0 ? !j.empty() : j.size() == count), field,
          "must be " + shape + ", got " + j.dump().substr(0, 80));
  std::vector<double> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    require(j[i].is_number() && std::isfinite(j[i].get<double>()),
            field + "[" + std::to_string(i) + "]", "must be a finite number, got " + j[i].dump());
    out.push_back(j[i].get<double>());
  }
  return out;
}

/// One element of "regions": an object with exactly one of point, box, scribble, mask.
inline VisualPrompt region_from_json(const nlohmann::json& j, const std::string& field,
                                     std::int64_t height, std::int64_t width,
                                     const PromptLimits& limits) {
  require(j.is_object() && j.size() == 1, field,
          "must be an object with one of point, box, scribble or mask, e.g. {\"point\": [x, y]}");
  const std::string key = j.begin().key();
  const nlohmann::json& value = j.begin().value();
  const std::string f = field + "." + key;
  if (key == "point") {
    const auto v = numbers(value, 2, f, "[x, y]");
    return VisualPrompt::point(v[0], v[1]);
  }
  if (key == "box") {
    const auto v = numbers(value, 4, f, "[x0, y0, x1, y1]");
    return VisualPrompt::box(v[0], v[1], v[2], v[3]);
  }
  if (key == "scribble") {
    require(value.is_array() && !value.empty(), f, "must be a list of [x, y] points");
    require(value.size() <= limits.max_points, f,
            "has " + std::to_string(value.size()) + " points, more than the " +
                std::to_string(limits.max_points) + " allowed");
    std::vector<PromptPoint> pts;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const auto v = numbers(value[i], 2, f + "[" + std::to_string(i) + "]", "[x, y]");
      pts.push_back({v[0], v[1]});
    }
    return VisualPrompt::scribble(std::move(pts));
  }
  if (key == "mask") {
    // The size is checked before anything is decoded: a mask is the image's size.
    require(value.is_object() && value.contains("size") && value["size"].is_array() &&
                value["size"].size() == 2 && value["size"][0].is_number_integer() &&
                value["size"][1].is_number_integer(),
            f, "must be a COCO RLE {\"size\": [height, width], \"counts\": ...}");
    const auto h = value["size"][0].get<std::int64_t>(), w = value["size"][1].get<std::int64_t>();
    require(h == height && w == width, f + ".size",
            "is [" + std::to_string(h) + ", " + std::to_string(w) + "] but the image is [" +
                std::to_string(height) + ", " + std::to_string(width) + "]");
    io::Rle rle;
    try {
      rle = io::rle_from_json(value);
    } catch (const Error& e) {
      throw FieldError(f, std::string("is not a valid RLE: ") + e.what());
    }
    Tensor<std::uint8_t> mask(Shape{h, w});  // (H0, W0)
    io::rle_decode_into(rle, mask.data());
    return VisualPrompt::from_mask(std::move(mask));
  }
  throw FieldError(
      field, "has unknown kind " + single_quoted(key) + " (expected point, box, scribble or mask)");
}

}  // namespace detail

/// A prompt of `psalm serve`'s JSON schema (docs/serve.md) for an image of height x width:
///   {"task": "referring" | "gres", "text": "the red square"}
///   {"task": "panoptic" | "instance" | "semantic", "classes": ["a", "b"] or "a, b",
///    "stuff": ["b"]}
///   {"task": "interactive", "regions": [{"point": [x, y]}, {"box": [x0, y0, x1, y1]},
///                                      {"scribble": [[x, y], ...]}, {"mask": COCO RLE}]}
/// Coordinates are pixels of the image (x = column, y = row). Unknown fields, missing ones,
/// wrong types and anything over `limits` are FieldErrors naming the field; whether a visual
/// prompt lies inside the image is Segmenter::example_of's check.
inline SegmentPrompt prompt_from_json(const nlohmann::json& j, std::int64_t height,
                                      std::int64_t width, const PromptLimits& limits = {}) {
  using detail::require;
  require(j.is_object(), "prompt", "must be a JSON object, got " + detail::json_type(j));
  require(j.contains("task"), "task",
          "is missing (referring, gres, panoptic, instance, semantic or interactive)");
  const std::string task_name = detail::string_field(j["task"], "task");
  Task task = Task::referring;
  try {
    task = parse_task(task_name);
  } catch (const Error&) {
    throw FieldError("task",
                     "must be referring, gres, panoptic, instance, semantic or "
                     "interactive, got " +
                         detail::single_quoted(task_name));
  }
  // Unknown fields first: a misspelt "txt" is named as such, not as a missing "text".
  const ConditionKind kind = condition_kind(task);
  const std::vector<std::string> allowed =
      kind == ConditionKind::referring ? std::vector<std::string>{"task", "text"}
      : kind == ConditionKind::classes ? std::vector<std::string>{"task", "classes", "stuff"}
                                       : std::vector<std::string>{"task", "regions"};
  for (const auto& item : j.items()) {
    bool known = false;
    for (const std::string& a : allowed) known = known || item.key() == a;
    require(known, item.key(), std::string("is not a field of a ") + to_string(task) + " prompt");
  }
  SegmentPrompt out;
  switch (kind) {
    case ConditionKind::referring:
      require(j.contains("text"), "text",
              std::string("is missing (a ") + to_string(task) + " prompt needs a sentence)");
      out = sentence_prompt(detail::string_field(j["text"], "text"), task == Task::gres, "text",
                            limits.max_text_bytes);
      break;
    case ConditionKind::classes: {
      require(j.contains("classes"), "classes",
              std::string("is missing (a ") + to_string(task) + " prompt needs class names)");
      const nlohmann::json& c = j["classes"];
      std::vector<std::string> names;
      if (c.is_string()) {
        require(c.get_ref<const std::string&>().size() <=
                    limits.max_classes * (limits.max_text_bytes + 2),
                "classes", "is too long");
        names = split_names(c.get<std::string>());
      } else {
        require(c.is_array(), "classes",
                "must be a list of names or a comma-separated string, got " + detail::json_type(c));
        require(c.size() <= limits.max_classes, "classes",
                "lists " + std::to_string(c.size()) + " classes, more than the " +
                    std::to_string(limits.max_classes) + " allowed");
        for (std::size_t i = 0; i < c.size(); ++i)
          names.push_back(detail::string_field(c[i], "classes[" + std::to_string(i) + "]"));
      }
      std::vector<std::string> stuff;
      if (j.contains("stuff")) {
        const nlohmann::json& s = j["stuff"];
        if (s.is_string()) {
          stuff = split_names(s.get<std::string>());
        } else {
          require(s.is_array() && s.size() <= limits.max_classes, "stuff",
                  "must be a list of names from classes");
          for (std::size_t i = 0; i < s.size(); ++i)
            stuff.push_back(detail::string_field(s[i], "stuff[" + std::to_string(i) + "]"));
        }
      }
      out = class_list_prompt(names, task, stuff, "classes", limits);
      for (const std::string& s : stuff) {
        const std::string name = detail::trimmed(s);
        bool found = false;
        for (const std::string& n : out.classes) found = found || n == name;
        require(name.empty() || found, "stuff",
                "names " + detail::single_quoted(name) + ", which classes does not hold");
      }
      break;
    }
    case ConditionKind::regions: {
      require(j.contains("regions"), "regions",
              "is missing (an interactive prompt needs visual prompts)");
      const nlohmann::json& r = j["regions"];
      require(r.is_array() && !r.empty(), "regions", "must be a non-empty list of visual prompts");
      require(r.size() <= limits.max_regions, "regions",
              "holds " + std::to_string(r.size()) + " visual prompts, more than the " +
                  std::to_string(limits.max_regions) + " allowed");
      std::vector<VisualPrompt> regions;
      for (std::size_t i = 0; i < r.size(); ++i)
        regions.push_back(detail::region_from_json(r[i], "regions[" + std::to_string(i) + "]",
                                                   height, width, limits));
      out = SegmentPrompt::interactive(std::move(regions));
      break;
    }
  }
  return out;
}

}  // namespace psalm::serve
