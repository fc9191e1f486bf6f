// Tests for psalm/psalm/{special_tokens,conversation,prompt}.hpp: the rendered prompt text and
// its token ids for every prompt kind (COCO and open-vocabulary class lists with spaces and
// non-ASCII names, shuffled orders, sentences with punctuation and non-ASCII, 1..7 regions) and
// the labels of LLaVA conversation data, against transformers' tokenizer and a transcription of
// the official prompt code (tests/fixtures/psalm/prompts.json, tools/reference/
// psalm_prompt_fixtures.py); the seeded shuffle; model_max_length truncation; bad input.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "psalm/psalm/conversation.hpp"
#include "psalm/psalm/prompt.hpp"
#include "psalm/psalm/special_tokens.hpp"
#include "schema_fixture.hpp"

using namespace psalm;
using psalm::testing::ids_of;
using psalm::testing::schema_case;
using psalm::testing::schema_fixture;
using psalm::testing::schema_tokenizer;

namespace {

/// The C++ prompt text of a fixture case of kind class / referring / interactive.
PromptText prompt_of_case(const nlohmann::json& c) {
  const std::string kind = c.at("kind");
  if (kind == "class") {
    std::vector<std::string> names = c.at("class_names").get<std::vector<std::string>>();
    names.emplace_back("background");
    const auto order = c.at("prompt_order").get<std::vector<std::int64_t>>();
    return class_prompt_in_order(names, order, c.at("task_words").get<std::string>());
  }
  if (kind == "referring")
    return referring_prompt(c.at("sentences").get<std::vector<std::string>>());
  REQUIRE(kind == "interactive");
  return interactive_prompt(c.at("num_regions").get<std::int64_t>());
}

std::vector<ConversationTurn> turns_of_case(const nlohmann::json& c) {
  std::vector<ConversationTurn> turns;
  for (const auto& t : c.at("turns")) turns.push_back({t.at(0), t.at(1)});
  return turns;
}

}  // namespace

TEST_CASE("special tokens: markers, sentinels and PSALM's added tokens", "[psalm][prompt]") {
  for (const Marker m : kAllMarkers) REQUIRE(marker_of(sentinel_id(m)) == m);
  REQUIRE(sentinel_id(Marker::image) == -200);
  REQUIRE(sentinel_id(Marker::refer) == -204);
  REQUIRE_FALSE(marker_of(-100).has_value());
  REQUIRE_FALSE(marker_of(5).has_value());
  const auto& fx = schema_fixture();
  const SpecialTokenIds ids = special_token_ids(schema_tokenizer());
  REQUIRE(ids.seg_token_id == fx.at("seg_token_id").get<std::int64_t>());
  REQUIRE(ids.pad_token_id == fx.at("pad_token_id").get<std::int64_t>());
  REQUIRE(ids.ref_token_id == -1);
  REQUIRE(schema_tokenizer().vocab_size() == fx.at("vocab_size").get<std::int64_t>());
  const SpecialTokenIds with_ref = special_token_ids(schema_tokenizer(true));
  REQUIRE(with_ref.ref_token_id == 50297);
  REQUIRE(with_ref.seg_token_id == 50296);
  REQUIRE(schema_tokenizer(true).vocab_size() == 50298);
  REQUIRE(schema_tokenizer(true).encode("a [REF] b") ==
          std::vector<std::int32_t>{64, 220, 50297, 275});
}

TEST_CASE("conversation: llava_phi renders like conv_llava_phi.get_prompt", "[psalm][prompt]") {
  const ConversationTemplate conv = ConversationTemplate::llava_phi();
  const std::string one = conv.render("U", "A");
  REQUIRE(one == "[INST] <<SYS>>\n" + conv.system + "\n<</SYS>>\n\nU [/INST] A <|endoftext|>");
  const std::vector<ConversationTurn> two{{"U1", "A1"}, {"U2", "A2"}};
  REQUIRE(conv.render(two) == "[INST] <<SYS>>\n" + conv.system +
                                  "\n<</SYS>>\n\nU1 [/INST] A1 <|endoftext|><|endoftext|>[INST] U2 "
                                  "[/INST] A2 <|endoftext|>");
  const std::vector<ConversationTurn> open{{"U", ""}};
  REQUIRE(conv.render(open) == "[INST] <<SYS>>\n" + conv.system + "\n<</SYS>>\n\nU [/INST]");
  REQUIRE_THROWS_AS(conv.render(std::vector<ConversationTurn>{}), Error);
  REQUIRE_THROWS_AS(conv.render(std::vector<ConversationTurn>{{"", "A"}}), Error);
}

TEST_CASE("conversation: image_first moves <image> as preprocess_multimodal does",
          "[psalm][prompt]") {
  REQUIRE(image_first("no image here  ") == "no image here  ");
  REQUIRE(image_first("Describe this <image> in detail.") == "<image>\nDescribe this  in detail.");
  REQUIRE(image_first("<image>\nWhat is it?") == "<image>\nWhat is it?");
  REQUIRE(image_first("  Q?\n<image>  ") == "<image>\nQ?");
  REQUIRE(image_first("<image>") == "<image>");
  // Python's str.strip() strips Unicode whitespace too (U+3000, U+00A0, U+2028, U+0085).
  REQUIRE(image_first("\u3000<image> x\u00a0\u2028\u0085") == "<image>\nx");
  REQUIRE(image_first("<image>x\u200b") == "<image>\nx\u200b");  // ZWSP is not whitespace
  REQUIRE(image_first("<image>a<image>b") == "<image>\nab");
}

TEST_CASE("prompt: text and token ids of every prompt kind match the official code",
          "[psalm][prompt]") {
  const io::Tokenizer& tok = schema_tokenizer();
  int checked = 0;
  for (const auto& c : schema_fixture().at("cases")) {
    const std::string kind = c.at("kind");
    if (kind == "conversation") continue;
    INFO("case " << c.at("name").get<std::string>());
    const PromptText text = prompt_of_case(c);
    REQUIRE(text.text == c.at("text").get<std::string>());
    const PromptIds ids = tokenize_prompt(tok, text);
    REQUIRE(ids.ids == ids_of(c.at("ids")));
    REQUIRE(ids.labels.empty());
    if (kind == "class") {
      REQUIRE(ids.class_name_ids ==
              c.at("class_name_ids").get<std::vector<std::vector<std::int64_t>>>());
      REQUIRE(ids.prompt_order == ids_of(c.at("prompt_order")));
    } else {
      REQUIRE(ids.class_name_ids.empty());
    }
    if (kind == "referring") {
      REQUIRE(text.refer_text == c.at("instruction").get<std::string>());
      REQUIRE(ids.refer_ids == ids_of(c.at("refer_ids")));
    } else {
      REQUIRE(ids.refer_ids.empty());
    }
    ++checked;
  }
  REQUIRE(checked == 13);
}

TEST_CASE("prompt: class_prompt appends background and keeps canonical order unshuffled",
          "[psalm][prompt]") {
  const auto& c = schema_case("panoptic_coco");
  const auto names = c.at("class_names").get<std::vector<std::string>>();
  const PromptText p = class_prompt(names);
  REQUIRE(p.text == c.at("text").get<std::string>());
  REQUIRE(p.class_names.size() == names.size() + 1);
  REQUIRE(p.class_names.back() == "background");
  REQUIRE(p.prompt_order == ids_of(c.at("prompt_order")));  // identity
  ClassPromptOptions no_bg;
  no_bg.append_background = false;
  REQUIRE(class_prompt(names, no_bg).class_names.size() == names.size());
  ClassPromptOptions semantic;
  semantic.task_words = "Semantic Segmentation";
  const auto& s = schema_case("semantic_wording");
  REQUIRE(class_prompt(s.at("class_names").get<std::vector<std::string>>(), semantic).text ==
          s.at("text").get<std::string>());
}

TEST_CASE("prompt: class shuffling is a seeded uniform permutation recorded as prompt_order",
          "[psalm][prompt]") {
  const auto& c = schema_case("panoptic_coco_shuffled");
  const auto names = c.at("class_names").get<std::vector<std::string>>();
  ClassPromptOptions opt;
  opt.shuffle = true;
  opt.seed = 42;
  const PromptText a = class_prompt(names, opt);
  REQUIRE(a.prompt_order.size() == names.size() + 1);
  REQUIRE(std::set<std::int64_t>(a.prompt_order.begin(), a.prompt_order.end()).size() ==
          names.size() + 1);
  REQUIRE(class_prompt(names, opt).prompt_order == a.prompt_order);  // seeded
  for (std::size_t i = 0; i < a.class_names.size(); ++i) {
    const auto canon = static_cast<std::size_t>(a.prompt_order[i]);
    REQUIRE(a.class_names[i] == (canon < names.size() ? names[canon] : "background"));
  }
  std::vector<std::string> all = names;
  all.emplace_back("background");
  REQUIRE(class_prompt_in_order(all, a.prompt_order).text == a.text);
  opt.stream = 1;
  REQUIRE(class_prompt(names, opt).prompt_order != a.prompt_order);
  opt.stream = 0;
  opt.seed = 43;
  REQUIRE(class_prompt(names, opt).prompt_order != a.prompt_order);
  // Unbiased: over 6000 seeds each of the 6 orders of 3 classes appears 1000 +- 4.5 sigma.
  std::map<std::vector<std::int64_t>, int> counts;
  for (std::uint64_t seed = 0; seed < 6000; ++seed)
    ++counts[random_permutation(3, CounterRng{seed, 7})];
  REQUIRE(counts.size() == 6);
  for (const auto& [order, n] : counts) {
    INFO("order " << order[0] << order[1] << order[2]);
    REQUIRE(std::abs(n - 1000) < 4.5 * std::sqrt(6000.0 * (1.0 / 6) * (5.0 / 6)));
  }
  REQUIRE(random_permutation(0, CounterRng{}).empty());
  REQUIRE(random_permutation(1, CounterRng{}) == std::vector<std::int64_t>{0});
}

TEST_CASE("prompt: conversation data gets LLaVA labels as MM_Conv_Dataset (phi branch)",
          "[psalm][prompt]") {
  const io::Tokenizer& tok = schema_tokenizer();
  int checked = 0, mismatches = 0;
  for (const auto& c : schema_fixture().at("cases")) {
    if (c.at("kind") != "conversation") continue;
    INFO("case " << c.at("name").get<std::string>());
    const std::vector<ConversationTurn> turns = turns_of_case(c);
    std::vector<ConversationTurn> placed = turns;
    for (auto& t : placed) t.user = image_first(t.user), t.assistant = image_first(t.assistant);
    REQUIRE(ConversationTemplate::llava_phi().render(placed) == c.at("text").get<std::string>());
    const PromptIds p = conversation_prompt(tok, turns);
    REQUIRE(p.ids == ids_of(c.at("ids")));
    REQUIRE(p.labels == ids_of(c.at("labels")));
    const bool mismatch = c.at("mismatch").get<bool>();
    mismatches += mismatch ? 1 : 0;
    if (!mismatch) {  // the answers are targets, the system prompt and user parts are not
      REQUIRE(p.labels.front() == kIgnoreIndex);
      REQUIRE(p.labels.back() == io::PsalmTokenIds::endoftext);
    }
    ++checked;
  }
  REQUIRE(checked == 6);
  REQUIRE(mismatches == 1);  // the answer holding "[/INST] " falls back to all IGNORE
}

TEST_CASE("prompt: truncation cuts text only and refuses to cut a marker", "[psalm][prompt]") {
  const io::Tokenizer& tok = schema_tokenizer();
  const std::vector<ConversationTurn> turns{{"<image>\nDescribe.", "A long answer here."}};
  PromptIds conv = conversation_prompt(tok, turns);
  const PromptIds whole = conv;
  truncate_prompt(conv, 10000);
  REQUIRE(conv.ids == whole.ids);
  const std::int64_t keep = static_cast<std::int64_t>(whole.ids.size()) - 3;
  truncate_prompt(conv, keep);
  REQUIRE(conv.ids.size() == static_cast<std::size_t>(keep));
  REQUIRE(conv.labels.size() == static_cast<std::size_t>(keep));
  REQUIRE(std::equal(conv.ids.begin(), conv.ids.end(), whole.ids.begin()));
  // The <image> sentinel sits early: cutting before it fails with a clear message.
  PromptIds short_conv = whole;
  REQUIRE_THROWS_WITH(truncate_prompt(short_conv, 10), Catch::Contains("<image>"));
  // Segmentation prompts end with <seg>: any cut drops the mask tokens.
  PromptIds seg = tokenize_prompt(tok, interactive_prompt(3));
  const auto n = static_cast<std::int64_t>(seg.ids.size());
  REQUIRE_NOTHROW(truncate_prompt(seg, n));
  REQUIRE_THROWS_WITH(truncate_prompt(seg, n - 3), Catch::Contains("<seg>"));
  REQUIRE(seg.ids.size() == static_cast<std::size_t>(n));  // unchanged after the error
  REQUIRE_NOTHROW(truncate_prompt(seg, n - 2));            // the trailing " <|endoftext|>" may go
  REQUIRE(seg.ids.back() == kSegSentinel);
  REQUIRE_THROWS_AS(truncate_prompt(seg, 0), Error);
}

TEST_CASE("prompt: bad input is a clear error", "[psalm][prompt]") {
  const io::Tokenizer& tok = schema_tokenizer();
  REQUIRE_THROWS_AS(interactive_prompt(0), Error);
  REQUIRE_THROWS_AS(referring_prompt(std::vector<std::string>{}), Error);
  const std::vector<std::string> with_empty{"cat", ""};
  REQUIRE_THROWS_WITH(class_prompt(with_empty), Catch::Contains("empty"));
  ClassPromptOptions none;
  none.append_background = false;
  REQUIRE_THROWS_AS(class_prompt(std::vector<std::string>{}, none), Error);
  const std::vector<std::string> names{"cat", "dog"};
  REQUIRE_THROWS_AS(class_prompt_in_order(names, std::vector<std::int64_t>{0, 0}), Error);
  REQUIRE_THROWS_AS(class_prompt_in_order(names, std::vector<std::int64_t>{0}), Error);
  PromptText p = class_prompt(names);
  p.class_names.pop_back();
  REQUIRE_THROWS_WITH(tokenize_prompt(tok, p), Catch::Contains("<cls>"));
  PromptText r = interactive_prompt(1);
  r.refer_text = "stray sentence";
  REQUIRE_THROWS_WITH(tokenize_prompt(tok, r), Catch::Contains("<refer>"));
}

TEST_CASE("prompt: markers split the text exactly as re.split does", "[psalm][prompt]") {
  const io::Tokenizer& tok = schema_tokenizer();
  const auto ids = tokenize_with_markers(tok, "<image><seg>a<cls>, <region><refer>b<seg>");
  const std::vector<std::int64_t> want{-200, -201, 64, -202, 11, 220, -203, -204, 65, -201};
  REQUIRE(ids == want);
  const std::array<Marker, 1> only_image{Marker::image};
  const auto partial = tokenize_with_markers(tok, "x<image><seg>", only_image);
  REQUIRE(partial.front() == 87);
  REQUIRE(partial[1] == -200);
  REQUIRE(partial.size() > 3);  // "<seg>" stays text
  REQUIRE(tokenize_with_markers(tok, "").empty());
}
