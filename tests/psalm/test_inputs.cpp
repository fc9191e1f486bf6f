// Tests of psalm/psalm/inputs.hpp (with example.hpp and language_loss.hpp): examples in image
// pixels become consistent model inputs for every task (layouts, resized targets, visual-prompt
// points inside their prompts), collated batches run through a model, conversations carry
// labels only on the answer, and bad examples are clear errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include "psalm/psalm/inputs.hpp"
#include "psalm/psalm/language_loss.hpp"
#include "schema_fixture.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;

namespace {

/// A 40 x 50 image with a filled rectangle as its one object.
Example rectangle_example(Task task) {
  Example ex;
  ex.task = task;
  ex.image = Tensor<std::uint8_t>::zeros(Shape{40, 50, 3});
  Tensor<std::uint8_t> object = Tensor<std::uint8_t>::zeros(Shape{1, 40, 50});
  for (std::int64_t y = 10; y < 30; ++y)
    for (std::int64_t x = 5; x < 25; ++x) object.data()[y * 50 + x] = 1;
  ex.target_masks = object;
  if (condition_kind(task) == ConditionKind::classes) {
    ex.class_names = {"square", "traffic light"};
    ex.class_is_thing = {1, 1};
    ex.target_labels = {0};
  } else if (condition_kind(task) == ConditionKind::referring) {
    ex.sentence = "the square on the left";
  } else {
    Tensor<std::uint8_t> prompt = Tensor<std::uint8_t>::zeros(Shape{1, 40, 50});
    for (std::int64_t y = 15; y < 20; ++y)
      for (std::int64_t x = 10; x < 15; ++x) prompt.data()[y * 50 + x] = 1;
    ex.prompt_masks = prompt;
  }
  return ex;
}

std::int64_t count_ones(const Tensor<float>& t) {
  const auto v = t.to_vector();
  return std::count(v.begin(), v.end(), 1.0f);
}

}  // namespace

TEST_CASE("inputs: every task encodes to a consistent example", "[psalm][inputs]") {
  const PsalmConfig config = testing::small_config();
  const InputEncoder encoder(config, testing::schema_tokenizer());
  for (Task task : kAllTasks) {
    INFO(to_string(task));
    const EncodedExample e = encoder.encode(rectangle_example(task));
    CHECK(e.pixels.shape() == Shape{3, 64, 64});
    CHECK(e.geometry.valid_height == 51);  // 40 x 50 -> long side 64: round(40 * 1.28) = 51
    CHECK(e.geometry.valid_width == 64);
    REQUIRE(e.targets.count() == 1);
    // The 20 x 20 object scaled by 1.28 (nearest): about 25.6 x 25.6 pixels.
    CHECK(count_ones(e.targets.masks) >= 24 * 24);
    CHECK(count_ones(e.targets.masks) <= 27 * 27);
    const auto& src = e.layout.source;
    CHECK(std::count(src.begin(), src.end(), TokenSource::mask_token) == config.num_mask_tokens);
    CHECK(std::count(src.begin(), src.end(), TokenSource::image) == config.num_image_tokens());
    switch (condition_kind(task)) {
      case ConditionKind::classes:
        CHECK(e.layout.num_classes == 3);  // + background
        CHECK(e.targets.labels == std::vector<std::int64_t>{0});
        break;
      case ConditionKind::referring:
        CHECK(std::count(e.layout.refer_mask.begin(), e.layout.refer_mask.end(), 1) >= 6);
        break;
      case ConditionKind::regions: {
        REQUIRE(e.region_points.shape() == Shape{1, config.region_num_points, 2});
        // Every pooling point lies on the prompt (rows 15..19, cols 10..14 scaled by 1.28).
        const auto p = e.region_points.to_vector();
        for (std::size_t i = 0; i < p.size(); i += 2) {
          CHECK(p[i] * 64 >= 12.0f);
          CHECK(p[i] * 64 < 20.0f);
          CHECK(p[i + 1] * 64 >= 19.0f);
          CHECK(p[i + 1] * 64 < 26.0f);
        }
        break;
      }
    }
  }
}

TEST_CASE("inputs: shuffled class prompts keep canonical class indices", "[psalm][inputs]") {
  const PsalmConfig config = testing::small_config();
  const InputEncoder encoder(config, testing::schema_tokenizer());
  const Example ex = rectangle_example(Task::panoptic);
  const SequenceLayout plain = encoder.layout_of(ex);
  bool moved = false;
  for (std::uint64_t stream = 0; stream < 8; ++stream) {
    const SequenceLayout shuffled =
        encoder.layout_of(ex, {.shuffle_classes = true, .seed = 3, .stream = stream});
    moved = moved || shuffled.prompt_order != plain.prompt_order;
    // The tokens of canonical class c are the same words, wherever the class sits.
    for (std::int64_t c = 1; c <= 3; ++c) {
      std::vector<std::int64_t> a, b;
      for (std::size_t i = 0; i < plain.class_index.size(); ++i)
        if (plain.class_index[i] == c) a.push_back(plain.token_ids[i]);
      for (std::size_t i = 0; i < shuffled.class_index.size(); ++i)
        if (shuffled.class_index[i] == c) b.push_back(shuffled.token_ids[i]);
      CHECK(a == b);
    }
  }
  CHECK(moved);
}

TEST_CASE("inputs: collated batches run through the model", "[psalm][inputs]") {
  const PsalmConfig config = testing::small_config();
  const InputEncoder encoder(config, testing::schema_tokenizer());
  nn::InitRng rng{5};
  PsalmModel<float> model(config, rng);
  for (Task task : {Task::panoptic, Task::referring, Task::interactive}) {
    INFO(to_string(task));
    std::vector<EncodedExample> examples{encoder.encode(rectangle_example(task)),
                                         encoder.encode(rectangle_example(task))};
    const EncodedBatch batch = collate(examples);
    CHECK(batch.inputs.pixels.shape() == Shape{2, 3, 64, 64});
    CHECK(batch.targets.size() == 2);
    const PsalmOutput<float> out = model(batch.inputs);
    CHECK(out.last().masks.shape() == Shape{2, config.num_mask_tokens, 32, 32});  // res2: patch 2
  }
  std::vector<EncodedExample> mixed{encoder.encode(rectangle_example(Task::panoptic)),
                                    encoder.encode(rectangle_example(Task::referring))};
  CHECK_THROWS_WITH(collate(mixed), Catch::Contains("one task"));
}

TEST_CASE("inputs: conversations label only the answer; the loss runs", "[psalm][inputs]") {
  const PsalmConfig config = testing::small_config();
  const InputEncoder encoder(config, testing::schema_tokenizer());
  ConversationExample ex;
  ex.image = Tensor<std::uint8_t>::zeros(Shape{30, 30, 3});
  ex.user = "What is in the image?";
  ex.assistant = "A red circle.";
  const EncodedConversation e = encoder.encode(ex);
  const auto& lab = e.layout.labels;
  const auto labelled =
      std::count_if(lab.begin(), lab.end(), [](auto v) { return v != kIgnoreIndex; });
  const auto answer = testing::schema_tokenizer().encode(" A red circle. <|endoftext|>").size();
  CHECK(labelled == static_cast<std::int64_t>(answer));
  nn::InitRng rng{1};
  PsalmModel<float> model(config, rng);
  const std::vector<EncodedConversation> batch{e};
  const PsalmBatch<float> inputs = collate(std::span<const EncodedConversation>(batch));
  const Var<float> loss = next_token_loss(model.language_logits(inputs), inputs.sequence.labels);
  CHECK(std::isfinite(loss.value().item()));
  CHECK(loss.value().item() > 5.0f);  // about log(50297) = 10.8 for random weights
}

TEST_CASE("inputs: tied word embeddings: no lm_head entry, logits through embed_tokens",
          "[psalm][inputs]") {
  PsalmConfig tied = testing::small_config();
  tied.phi.tie_word_embeddings = true;
  const InputEncoder encoder(tied, testing::schema_tokenizer());
  ConversationExample ex;
  ex.image = Tensor<std::uint8_t>::zeros(Shape{30, 30, 3});
  ex.user = "What is in the image?";
  ex.assistant = "A red circle.";
  const std::vector<EncodedConversation> batch{encoder.encode(ex)};
  const PsalmBatch<float> inputs = collate(std::span<const EncodedConversation>(batch));

  nn::InitRng rng{3};
  PsalmModel<float> model(tied, rng);
  bool has_head = false;
  for (const auto& [name, p] : model.named_parameters()) has_head |= name.starts_with("lm_head");
  CHECK_FALSE(has_head);

  // The same weights untied, lm_head.weight a copy of embed_tokens.weight: identical logits.
  PsalmConfig untied_config = tied;
  untied_config.phi.tie_word_embeddings = false;
  nn::InitRng rng2{3};
  PsalmModel<float> untied(untied_config, rng2);
  auto untied_params = untied.named_parameters();
  for (const auto& [name, p] : model.named_parameters())
    for (auto& [n2, p2] : untied_params)
      if (n2 == name) p2.value().assign(p.value());
  untied.lm_head.weight.value().assign(model.model.phi.embed_tokens.weight.value());
  const Var<float> logits = model.language_logits(inputs);      // (1, L, V)
  const Var<float> reference = untied.language_logits(inputs);  // (1, L, V)
  CHECK(logits.value().to_vector() == reference.value().to_vector());

  // The loss reaches embed_tokens through both of its uses.
  autograd::backward(next_token_loss(logits, inputs.sequence.labels));
  REQUIRE(model.model.phi.embed_tokens.weight.grad().defined());
  const auto g = model.model.phi.embed_tokens.weight.grad().to_vector();
  const auto nonzero_rows = [&] {
    std::int64_t rows = 0;
    const std::int64_t d = tied.phi.hidden_size;
    for (std::size_t r = 0; r < g.size() / d; ++r)
      rows +=
          std::any_of(g.begin() + r * d, g.begin() + (r + 1) * d, [](float v) { return v != 0; });
    return rows;
  }();
  CHECK(nonzero_rows == tied.phi.vocab_size);  // every row is an output class, not only the inputs

  tied.phi.lm_head_bias = true;
  CHECK_THROWS_WITH(tied.validate(), Catch::Contains("lm_head_bias"));
}

TEST_CASE("inputs: bad examples are clear errors", "[psalm][inputs]") {
  const InputEncoder encoder(testing::small_config(), testing::schema_tokenizer());
  Example ex = rectangle_example(Task::panoptic);
  ex.target_labels = {7};
  CHECK_THROWS_WITH(encoder.encode(ex), Catch::Contains("outside the 2 class names"));
  ex = rectangle_example(Task::referring);
  ex.sentence.clear();
  CHECK_THROWS_WITH(encoder.encode(ex), Catch::Contains("needs a sentence"));
  ex = rectangle_example(Task::interactive);
  ex.prompt_masks = Tensor<std::uint8_t>::zeros(Shape{1, 10, 10});
  CHECK_THROWS_WITH(encoder.encode(ex), Catch::Contains("like the image"));
  PsalmConfig wrong = testing::small_config();
  wrong.seg_token_id = 7;
  CHECK_THROWS_WITH(InputEncoder(wrong, testing::schema_tokenizer()), Catch::Contains("[SEG]"));
}
