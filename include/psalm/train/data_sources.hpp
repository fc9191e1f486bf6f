// psalm/train/data_sources.hpp — where the trainer's examples come from: per task an indexed
// source (index -> Example), conversations likewise, and held-out sources for evaluation; and
// those sources for the bundled synthetic scenes (training on one seed, held-out evaluation on
// another seed that training never sees). Dataset readers plug in the same way.
// Depends on: psalm/example, train/synthetic_examples. Test: tests/train/test_trainer.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "psalm/psalm/example.hpp"
#include "psalm/train/synthetic_examples.hpp"

namespace psalm::train {

struct DataSources {
  std::map<std::string, std::function<Example(std::int64_t)>> train;
  std::function<ConversationExample(std::int64_t)> conversations;
  std::map<std::string, std::function<Example(std::int64_t)>> held_out;
};

/// The synthetic scenes of `options` for every task in `tasks` ("conversation" included),
/// held-out evaluation on `held_out_seed` (train-split scenes: no open-vocabulary objects).
inline DataSources synthetic_sources(const SyntheticExampleOptions& options,
                                     const std::vector<std::string>& tasks,
                                     std::uint64_t held_out_seed) {
  PSALM_CHECK(held_out_seed != options.scene.seed,
              "synthetic_sources: the held-out seed must differ from the training seed");
  DataSources d;
  SyntheticExampleOptions held_out = options;
  held_out.scene.seed = held_out_seed;
  held_out.scene.split = data::synthetic::Split::train;
  for (const std::string& name : tasks) {
    if (name == "conversation") {
      d.conversations = [options](std::int64_t i) {
        return synthetic_conversation(options, static_cast<std::uint64_t>(i));
      };
      continue;
    }
    const Task task = parse_task(name);
    d.train[name] = [task, options](std::int64_t i) {
      return synthetic_example(task, options, static_cast<std::uint64_t>(i));
    };
    d.held_out[name] = [task, held_out](std::int64_t i) {
      return synthetic_example(task, held_out, static_cast<std::uint64_t>(i));
    };
  }
  return d;
}

}  // namespace psalm::train
