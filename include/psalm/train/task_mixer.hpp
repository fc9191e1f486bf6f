// psalm/train/task_mixer.hpp — which task each training batch holds (PSALM_SPEC §4.5, §8.7):
// the data stream serves blocks of `block` consecutive samples of one task, then moves on;
// with ratios, a smooth weighted round robin gives each task its share of the blocks. Every
// batch is single-task; a batch that would straddle two blocks takes the task of its first
// sample. The schedule is a pure function of the step, so a resumed run sees the same tasks
// and the same per-task sample indices. Depends on: core/error. Test:
// tests/train/test_task_mixer.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"

namespace psalm::train {

/// One batch's task and the index (within that task's stream) of its first sample.
struct MixedBatch {
  std::size_t task = 0;           ///< index into the mixer's task list
  std::int64_t first_sample = 0;  ///< samples of this task served before this batch
};

class TaskMixer {
 public:
  /// `ratios` has one positive weight per task; `block` samples per task turn; batches of
  /// `batch_size` samples.
  TaskMixer(std::vector<double> ratios, std::int64_t block, std::int64_t batch_size)
      : ratios_(std::move(ratios)), block_(block), batch_(batch_size) {
    PSALM_CHECK(!ratios_.empty(), "TaskMixer: no tasks");
    for (double r : ratios_)
      PSALM_CHECK(r > 0 && r < 1e6, "TaskMixer: task ratios must be positive, got ", r);
    PSALM_CHECK(block_ >= 1 && batch_ >= 1, "TaskMixer: block (", block_, ") and batch size (",
                batch_, ") must be positive");
  }

  std::size_t num_tasks() const { return ratios_.size(); }

  /// The task of turn `t` (each turn serves `block` samples): smooth weighted round robin
  /// (every task's credit grows by its ratio, the richest task serves and pays the total).
  std::size_t task_of_turn(std::int64_t turn) const {
    extend(turn);
    return turns_[static_cast<std::size_t>(turn)];
  }

  /// Batch `step`: its task and the per-task index of its first sample. Batches are cut from
  /// the sample stream of turns; a batch takes the task of the turn its first sample is in
  /// and then serves batch_size samples of that task.
  MixedBatch batch(std::int64_t step) const {
    PSALM_CHECK(step >= 0, "TaskMixer: negative step ", step);
    // Batches per turn: ceil(block / batch); the turn of the step is step / that.
    const std::int64_t per_turn = (block_ + batch_ - 1) / batch_;
    const std::int64_t turn = step / per_turn, within = step % per_turn;
    const std::size_t task = task_of_turn(turn);
    extend(turn);
    const std::int64_t before = served_before_[static_cast<std::size_t>(turn)];
    return {task, before + within * batch_};
  }

 private:
  void extend(std::int64_t turn) const {
    PSALM_CHECK(turn >= 0 && turn < (std::int64_t{1} << 40), "TaskMixer: turn ", turn,
                " out of range");
    if (credit_.empty()) {
      credit_.assign(ratios_.size(), 0.0);
      served_.assign(ratios_.size(), 0);
    }
    double total = 0;
    for (double r : ratios_) total += r;
    const std::int64_t per_turn = ((block_ + batch_ - 1) / batch_) * batch_;
    while (static_cast<std::int64_t>(turns_.size()) <= turn) {
      std::size_t best = 0;
      for (std::size_t k = 0; k < ratios_.size(); ++k) {
        credit_[k] += ratios_[k];
        if (credit_[k] > credit_[best]) best = k;
      }
      credit_[best] -= total;
      turns_.push_back(best);
      served_before_.push_back(served_[best]);
      served_[best] += per_turn;
    }
  }

  std::vector<double> ratios_;
  std::int64_t block_, batch_;
  // Memoised schedule (deterministic; grows with the largest step asked for).
  mutable std::vector<double> credit_;
  mutable std::vector<std::int64_t> served_;
  mutable std::vector<std::size_t> turns_;
  mutable std::vector<std::int64_t> served_before_;
};

}  // namespace psalm::train
