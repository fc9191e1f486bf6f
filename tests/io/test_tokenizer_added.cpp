// Tests of psalm/io/tokenizer_added_tokens.hpp: splitting added tokens out of text with
// Hugging Face semantics (leftmost-longest, two passes, lstrip / rstrip / single_word), checked
// against `tokenizers` (tests/fixtures/tokenizer/added_tokens.json) and on hand-made cases.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "psalm/io/tokenizer.hpp"
#include "psalm/io/tokenizer_added_tokens.hpp"

namespace {

using psalm::io::AddedToken;
using psalm::io::AddedVocabulary;

// (text, id) pairs; id -1 for a stretch of ordinary text.
std::vector<std::pair<std::string, int>> split(const AddedVocabulary& v, std::string_view text) {
  std::vector<std::pair<std::string, int>> out;
  v.split(
      text, [&](std::string_view s) { out.emplace_back(std::string(s), -1); },
      [&](int32_t id) { out.emplace_back("", id); });
  return out;
}

using Split = std::vector<std::pair<std::string, int>>;

}  // namespace

TEST_CASE("added tokens: leftmost match wins, then the longest at that position",
          "[io][tokenizer]") {
  AddedVocabulary v;
  v.insert(AddedToken::plain("ab"), 1);
  v.insert(AddedToken::plain("abc"), 2);
  v.insert(AddedToken::plain("bcd"), 3);
  CHECK(split(v, "abcd") == Split{{"", 2}, {"d", -1}});
  CHECK(split(v, "xbcdab") == Split{{"x", -1}, {"", 3}, {"", 1}});
  CHECK(split(v, "") == Split{});
  CHECK(split(v, "zzz") == Split{{"zzz", -1}});
}

TEST_CASE("added tokens: non-normalized tokens are found first, on the raw text",
          "[io][tokenizer]") {
  AddedVocabulary v;
  v.insert(AddedToken::plain("ab"), 1);          // normalized: second pass
  v.insert(AddedToken::special_token("bc"), 2);  // not normalized: first pass
  CHECK(split(v, "abc") == Split{{"a", -1}, {"", 2}});
  CHECK(split(v, "ab bc ab") == Split{{"", 1}, {" ", -1}, {"", 2}, {" ", -1}, {"", 1}});
}

TEST_CASE("added tokens: lstrip, rstrip and single_word as in HF's own examples",
          "[io][tokenizer]") {
  AddedVocabulary v;
  AddedToken mask = AddedToken::plain("<mask>");
  mask.lstrip = mask.rstrip = mask.single_word = true;
  v.insert(mask, 7);
  // ref: huggingface/tokenizers added_vocabulary.rs test_lstrip_unicode_space.
  CHECK(split(v, "Hi <mask> there\t<mask>\t<mask>\xE2\x80\x80") ==
        Split{{"Hi", -1}, {"", 7}, {"there", -1}, {"", 7}, {"", 7}});
  AddedVocabulary w;
  AddedToken single = AddedToken::plain("<mask>");
  single.single_word = true;
  w.insert(single, 3);
  CHECK(split(w, "<mask> My name <mask> A<mask> <mask>ony <mask>") ==
        Split{{"", 3}, {" My name ", -1}, {"", 3}, {" A<mask> <mask>ony ", -1}, {"", 3}});
  // A combining mark is a word character; '-' and ',' are not.
  CHECK(split(w, "<mask>, <mask>- \xE2\x97\x8C\xCC\xB0<mask>") ==
        Split{{"", 3}, {", ", -1}, {"", 3}, {"- \xE2\x97\x8C\xCC\xB0<mask>", -1}});
}

TEST_CASE("added tokens: ids match HF tokenizers for lstrip/rstrip/single_word/normalized mixes",
          "[io][tokenizer]") {
  std::ifstream in(PSALM_TEST_FIXTURES_DIR "/tokenizer/added_tokens.json");
  REQUIRE(in.good());
  const auto j = nlohmann::json::parse(in);
  const auto base =
      psalm::io::Tokenizer::from_files(PSALM_GPT2_DIR "/encoder.json", PSALM_GPT2_DIR "/vocab.bpe");
  std::size_t checked = 0;
  for (const auto& config : j["configs"]) {
    psalm::io::Tokenizer tok = base;
    CHECK(tok.add_token(AddedToken::special_token("<|endoftext|>")) == 50256);
    for (const auto& spec : config["tokens"]) {
      AddedToken t;
      t.content = spec["content"].get<std::string>();
      t.single_word = spec["single_word"].get<bool>();
      t.lstrip = spec["lstrip"].get<bool>();
      t.rstrip = spec["rstrip"].get<bool>();
      t.normalized = spec["normalized"].get<bool>();
      t.special = spec["special"].get<bool>();
      CHECK(tok.add_token(t) == spec["id"].get<int32_t>());
    }
    for (const auto& c : config["texts"]) {
      const std::string text = c["text"].get<std::string>();
      INFO("text: " << nlohmann::json(text).dump());
      CHECK(tok.encode(text) == c["ids"].get<std::vector<int32_t>>());
      ++checked;
    }
  }
  CHECK(checked >= 25);
}

TEST_CASE("added tokens: bad registrations are errors", "[io][tokenizer]") {
  AddedVocabulary v;
  v.insert(AddedToken::plain("x"), 10);
  CHECK_THROWS_AS(v.insert(AddedToken::plain(""), 11), psalm::Error);
  CHECK_THROWS_WITH(v.insert(AddedToken::plain("y"), 10), Catch::Contains("already belongs"));
  CHECK_THROWS_WITH(v.insert(AddedToken::plain("x"), 12), Catch::Contains("already has id 10"));
  CHECK_THROWS_AS(v.insert(AddedToken::plain("z"), -3), psalm::Error);
  AddedToken flagged = AddedToken::plain("x");
  flagged.special = true;
  v.insert(flagged, 10);  // same content, same id: flags replaced
  REQUIRE(v.token(10) != nullptr);
  CHECK(v.token(10)->special);
  CHECK(v.size() == 1);
}
