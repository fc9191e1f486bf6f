// Tests of psalm/train/evaluate_conversation.hpp: answers are normalized before exact match; on
// a model rigged to say [SEG] at every step, exact match is 1 exactly where the reference is
// "[SEG][SEG][SEG]", token accuracy equals the share of [SEG] among the reference's targets
// (counted from the encoded labels), and chance is the majority answer's share per kind; the
// synthetic held-out conversations cover every question kind and their chance levels equal a
// count of the reference answers.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "psalm/train/evaluate_conversation.hpp"
#include "psalm/train/synthetic_examples.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;

TEST_CASE("evaluate_conversation: answers are compared without case, spaces and final periods",
          "[train][conversation]") {
  CHECK(train::normalized_answer(" A circle. ") == "a circle");
  CHECK(train::normalized_answer("Three..") == "three");
  CHECK(train::normalized_answer("red") == "red");
  CHECK(train::normalized_answer("a square") != train::normalized_answer("a circle"));
}

TEST_CASE("evaluate_conversation: exact match, token accuracy and chance on a rigged model",
          "[train][conversation]") {
  Segmenter seg = Segmenter::load(testing::seg_saying_model_folder());
  const std::int64_t seg_id = seg.config().seg_token_id;
  const Tensor<std::uint8_t> image = testing::two_shape_scene(48, 48);
  // Kind "mask" (3 examples): 2 answers "[SEG][SEG][SEG]", 1 "a circle."; kind "name": "a disc."
  const std::vector<ConversationExample> examples{
      {image, "Mask it.", "[SEG][SEG][SEG]"},
      {image, "Mask that.", "a circle."},
      {image, "Name it.", "a disc."},
      {image, "Mask this.", "[SEG][SEG][SEG]"},
  };
  const auto kind_of = [](const std::string& q) {
    return q.rfind("Mask", 0) == 0 ? std::string("mask") : std::string("name");
  };
  std::int64_t replies = 0;
  const train::EvaluationResult r = train::evaluate_conversation(
      seg, [&](std::int64_t i) { return examples.at(static_cast<std::size_t>(i)); }, 4,
      {.max_new_tokens = 3,
       .kind_of = kind_of,
       .on_reply = [&](std::int64_t, const ConversationExample&, const ChatReply& reply) {
         CHECK(reply.text == "[SEG][SEG][SEG]");
         ++replies;
       }});
  CHECK(replies == 4);
  CHECK(r.examples == 4);
  CHECK(r.metrics["exact_match"].get<double>() == Approx(0.5));
  CHECK(r.metrics["exact_match_mask"].get<double>() == Approx(2.0 / 3.0));
  CHECK(r.metrics["exact_match_name"].get<double>() == 0.0);
  // Chance: "[seg][seg][seg]" is the majority of kind mask (2 of 3), "a disc" of kind name.
  CHECK(r.metrics["chance_mask"].get<double>() == Approx(2.0 / 3.0));
  CHECK(r.metrics["chance_name"].get<double>() == 1.0);
  CHECK(r.metrics["chance"].get<double>() == Approx(0.75));
  // Token accuracy: the rigged model predicts [SEG] everywhere, so exactly the [SEG] targets hit.
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> want;  // kind -> (seg, targets)
  std::int64_t seg_targets = 0, targets = 0;
  for (const ConversationExample& ex : examples) {
    const EncodedConversation e = seg.encoder().encode(ex);
    for (const std::int64_t label : e.layout.labels) {
      if (label == kIgnoreIndex) continue;
      auto& w = want[kind_of(ex.user)];
      w.first += label == seg_id;
      ++w.second;
      seg_targets += label == seg_id;
      ++targets;
    }
  }
  REQUIRE(seg_targets == 6);
  CHECK(r.metrics["token_accuracy"].get<double>() ==
        Approx(static_cast<double>(seg_targets) / static_cast<double>(targets)));
  CHECK(r.metrics["token_accuracy_mask"].get<double>() ==
        Approx(static_cast<double>(want["mask"].first) / static_cast<double>(want["mask"].second)));
  CHECK(r.metrics["token_accuracy_name"].get<double>() == 0.0);
  CHECK_THAT(r.report, Catch::Matchers::Contains("mask") && Catch::Matchers::Contains("a disc"));
}

TEST_CASE("evaluate_conversation: synthetic conversations by kind, chance from the answers",
          "[train][conversation]") {
  Segmenter seg = Segmenter::load(testing::tiny_model_folder());
  train::SyntheticExampleOptions opt;
  opt.scene.height = opt.scene.width = 64;
  opt.scene.seed = 77;
  const std::int64_t n = 24;
  std::map<std::string, std::map<std::string, int>> answers;  // kind -> answer -> count
  for (std::int64_t i = 0; i < n; ++i) {
    const ConversationExample ex =
        train::synthetic_conversation(opt, static_cast<std::uint64_t>(i));
    const std::string kind = train::synthetic_question_kind(ex.user);
    CHECK(kind != "other");
    ++answers[kind][train::normalized_answer(ex.assistant)];
  }
  CHECK(answers.size() >= 3);
  const train::EvaluationResult r = train::evaluate_conversation(
      seg,
      [&](std::int64_t i) {
        return train::synthetic_conversation(opt, static_cast<std::uint64_t>(i));
      },
      n, {.max_new_tokens = 4, .kind_of = train::synthetic_question_kind});
  for (const auto& [kind, counts] : answers) {
    int top = 0, total = 0;
    for (const auto& [answer, c] : counts) top = std::max(top, c), total += c;
    INFO(kind);
    CHECK(r.metrics["chance_" + kind].get<double>() == Approx(static_cast<double>(top) / total));
    const double t = r.metrics["token_accuracy_" + kind].get<double>();
    CHECK((t >= 0.0 && t <= 1.0));
  }
  CHECK(train::synthetic_question_kind("What is this?") == "other");
}
