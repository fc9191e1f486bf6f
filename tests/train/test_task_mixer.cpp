// Tests of psalm/train/task_mixer.hpp: blocks of one task, shares by ratio, per-task sample
// indices that never repeat or skip, and the same schedule however it is queried.
#include <catch2/catch.hpp>

#include <map>

#include "psalm/train/task_mixer.hpp"

using psalm::train::TaskMixer;

TEST_CASE("task mixer: equal ratios take turns, 16 samples each", "[train][mixer]") {
  const TaskMixer mixer({1, 1, 1, 1}, 16, 4);
  for (std::int64_t step = 0; step < 64; ++step) {
    const auto b = mixer.batch(step);
    CHECK(b.task == static_cast<std::size_t>((step / 4) % 4));  // 4 batches of 4 per turn
    CHECK(b.first_sample == (step / 16) * 16 + (step % 4) * 4);
  }
}

TEST_CASE("task mixer: ratios give shares; indices are contiguous per task", "[train][mixer]") {
  const TaskMixer mixer({2, 1, 1}, 16, 8);
  std::map<std::size_t, std::int64_t> next, batches;
  for (std::int64_t step = 0; step < 400; ++step) {
    const auto b = mixer.batch(step);
    CHECK(b.first_sample == next[b.task]);  // no sample skipped or repeated
    next[b.task] += 8;
    ++batches[b.task];
  }
  CHECK(batches[0] == 200);
  CHECK(batches[1] == 100);
  CHECK(batches[2] == 100);
  // Asking out of order gives the same answers (resume starts mid-stream).
  const TaskMixer fresh({2, 1, 1}, 16, 8);
  CHECK(fresh.batch(399).first_sample == mixer.batch(399).first_sample);
  CHECK(fresh.batch(5).task == mixer.batch(5).task);
}

TEST_CASE("task mixer: a batch larger than a block serves whole batches", "[train][mixer]") {
  const TaskMixer mixer({1, 1}, 16, 6);  // ceil(16 / 6) = 3 batches per turn
  CHECK(mixer.batch(0).task == mixer.batch(2).task);
  CHECK(mixer.batch(3).task != mixer.batch(0).task);
  CHECK(mixer.batch(6).first_sample == 18);
  CHECK_THROWS(TaskMixer({}, 16, 4));
  CHECK_THROWS(TaskMixer({1, 0}, 16, 4));
}
