// psalm/train/data_sources.hpp — where the trainer's examples come from: per task an indexed
// source (index -> Example), conversations likewise, and held-out sources for evaluation; and
// those sources for the bundled synthetic scenes (training on one seed, held-out evaluation on
// another seed that training never sees), open-vocabulary scenes and videos for evaluation.
// Dataset readers plug in the same way.
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

/// The seed of the held-out synthetic scenes for a run trained on scenes of `training_seed`
/// (`psalm train`'s periodic evaluation and `psalm eval` use it, so their numbers compare).
inline std::uint64_t held_out_seed(std::uint64_t training_seed) { return training_seed + 1000003; }

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

/// Open-vocabulary evaluation: a classes task on held-out-split scenes, whose prompts name every
/// category (the held-out ones too), and the names of the held-out categories.
struct OpenVocabularySource {
  std::function<Example(std::int64_t)> examples;
  std::vector<std::string> held_out_classes;
};

/// `task` (panoptic, instance or semantic) on val-split scenes of `held_out_seed`, where objects
/// of the categories held out of training appear (options.scene.held_out_rate), every category
/// named in the prompt.
inline OpenVocabularySource synthetic_open_vocabulary(const SyntheticExampleOptions& options,
                                                      std::uint64_t held_out_seed,
                                                      Task task = Task::panoptic) {
  PSALM_CHECK(condition_kind(task) == ConditionKind::classes,
              "synthetic_open_vocabulary: ", to_string(task), " does not name classes");
  SyntheticExampleOptions o = options;
  o.scene.seed = held_out_seed;
  o.scene.split = data::synthetic::Split::val;
  o.include_held_out_classes = true;
  OpenVocabularySource out;
  out.examples = [task, o](std::int64_t i) {
    return synthetic_example(task, o, static_cast<std::uint64_t>(i));
  };
  for (const auto& c : data::synthetic::panoptic_categories())
    if (c.held_out) out.held_out_classes.push_back(c.name);
  return out;
}

/// Held-out videos (train-split scenes of `held_out_seed`, like the other held-out sources)
/// of `frames` frames with the generator's default motion.
inline std::function<VideoExample(std::int64_t)> synthetic_video_source(
    const SyntheticExampleOptions& options, std::uint64_t held_out_seed, int frames = 12) {
  data::synthetic::VideoOptions v;
  v.scene = options.scene;
  v.scene.seed = held_out_seed;
  v.scene.split = data::synthetic::Split::train;
  v.frames = frames;
  return [v](std::int64_t i) { return synthetic_video(v, static_cast<std::uint64_t>(i)); };
}

}  // namespace psalm::train
