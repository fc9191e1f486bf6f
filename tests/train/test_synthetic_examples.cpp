// Tests of psalm/train/synthetic_examples.hpp: every task yields consistent examples
// (shapes, labels inside the class list, prompts paired with targets), deterministically,
// and the held-out categories stay out of training class lists.
#include <catch2/catch.hpp>

#include <algorithm>

#include "psalm/train/synthetic_examples.hpp"

using namespace psalm;

namespace {

std::int64_t ones(const Tensor<std::uint8_t>& masks, std::int64_t n) {
  const std::int64_t plane = masks.size(1) * masks.size(2);
  return std::count(masks.data() + n * plane, masks.data() + (n + 1) * plane, std::uint8_t{1});
}

}  // namespace

TEST_CASE("synthetic examples: every task is consistent and deterministic", "[train][synthetic]") {
  train::SyntheticExampleOptions opt;
  opt.scene.height = 96;
  opt.scene.width = 128;
  for (Task task : kAllTasks) {
    INFO(to_string(task));
    for (std::uint64_t i = 0; i < 6; ++i) {
      const Example ex = train::synthetic_example(task, opt, i);
      REQUIRE(ex.image.shape() == Shape{96, 128, 3});
      REQUIRE(ex.target_masks.rank() == 3);
      REQUIRE(ex.target_masks.size(1) == 96);
      for (std::int64_t n = 0; n < ex.num_targets(); ++n) CHECK(ones(ex.target_masks, n) > 0);
      switch (condition_kind(task)) {
        case ConditionKind::classes:
          CHECK(ex.class_names.size() == 16);  // 12 shapes + 6 stuff - 2 held-out shapes
          CHECK(std::find(ex.class_names.begin(), ex.class_names.end(), "heart") ==
                ex.class_names.end());
          REQUIRE(static_cast<std::int64_t>(ex.target_labels.size()) == ex.num_targets());
          for (auto l : ex.target_labels)
            CHECK((l >= 0 && l < static_cast<std::int64_t>(ex.class_names.size())));
          CHECK(ex.num_targets() >= 2);  // at least one thing and one stuff region
          break;
        case ConditionKind::referring:
          CHECK_FALSE(ex.sentence.empty());
          if (task == Task::referring) CHECK(ex.num_targets() == 1);
          break;
        case ConditionKind::regions:
          REQUIRE(ex.num_regions() == ex.num_targets());
          for (std::int64_t k = 0; k < ex.num_regions(); ++k) CHECK(ones(ex.prompt_masks, k) > 0);
          break;
      }
      const Example again = train::synthetic_example(task, opt, i);
      CHECK(again.sentence == ex.sentence);
      CHECK(again.target_masks.to_vector() == ex.target_masks.to_vector());
      CHECK(again.image.to_vector() == ex.image.to_vector());
    }
  }
}

TEST_CASE("synthetic examples: gres includes no-target and multi-target expressions",
          "[train][synthetic]") {
  train::SyntheticExampleOptions opt;
  int none = 0, several = 0;
  for (std::uint64_t i = 0; i < 40; ++i) {
    const std::int64_t n = train::synthetic_example(Task::gres, opt, i).num_targets();
    none += n == 0;
    several += n >= 2;
  }
  CHECK(none > 0);
  CHECK(several > 0);
}

TEST_CASE("synthetic examples: open-vocabulary class lists name the held-out categories",
          "[train][synthetic]") {
  const auto all = train::synthetic_class_list(true), seen = train::synthetic_class_list(false);
  CHECK(all.names.size() == 18);
  CHECK(seen.names.size() == 16);
  CHECK(std::find(all.names.begin(), all.names.end(), "moon") != all.names.end());
}
