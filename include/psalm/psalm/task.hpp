// psalm/psalm/task.hpp — the tasks one PSALM model performs and which condition head each one
// drives (PSALM_SPEC §2.6: panoptic -> class names, referring -> the sentence, interactive ->
// regions). Every batch holds samples of one task. Depends on: core/error.
// Test: tests/psalm/test_sequence.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "psalm/core/error.hpp"

namespace psalm {

/// What a sample asks the model for. `panoptic`, `instance` and `semantic` share one prompt
/// (a class list; the official code words all three "Panoptic Segmentation") and differ only in
/// post-processing; `gres` is referring with zero, one or several targets.
enum class Task : std::uint8_t { panoptic, instance, semantic, referring, gres, interactive };

/// The kind of condition embedding a task's logits are computed against.
enum class ConditionKind : std::uint8_t {
  classes,    ///< one embedding per class name (softmax over classes, "background" last)
  referring,  ///< one embedding of the referring sentence (a sigmoid logit per query)
  regions     ///< one embedding per visual prompt (a sigmoid logit per region and query)
};

inline constexpr std::array<Task, 6> kAllTasks{Task::panoptic,  Task::instance, Task::semantic,
                                               Task::referring, Task::gres,     Task::interactive};

inline ConditionKind condition_kind(Task task) {
  switch (task) {
    case Task::panoptic:
    case Task::instance:
    case Task::semantic:
      return ConditionKind::classes;
    case Task::referring:
    case Task::gres:
      return ConditionKind::referring;
    case Task::interactive:
      return ConditionKind::regions;
  }
  fail("condition_kind: unknown task ", static_cast<int>(task));
}

inline const char* to_string(Task task) {
  switch (task) {
    case Task::panoptic:
      return "panoptic";
    case Task::instance:
      return "instance";
    case Task::semantic:
      return "semantic";
    case Task::referring:
      return "referring";
    case Task::gres:
      return "gres";
    case Task::interactive:
      return "interactive";
  }
  return "unknown";
}

/// "panoptic", "instance", "semantic", "referring", "gres" or "interactive".
inline Task parse_task(std::string_view name) {
  for (Task t : kAllTasks)
    if (name == to_string(t)) return t;
  fail("unknown task \"", std::string(name),
       "\" (expected panoptic, instance, semantic, referring, gres or interactive)");
}

}  // namespace psalm
