// Tests of psalm/io/tokenizer.hpp: the Phi-1.5 + PSALM tokenizer against Hugging Face
// `tokenizers` fixtures (tools/reference/tokenizer_fixtures.py -> tests/fixtures/tokenizer/),
// the PSALM token id table, decode, run-time added tokens, invalid UTF-8 and random bytes.
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "psalm/io/tokenizer.hpp"

namespace {

using psalm::io::AddedToken;
using psalm::io::PsalmTokenIds;
using psalm::io::Tokenizer;

const Tokenizer& psalm_tokenizer() {
  static const Tokenizer tok = Tokenizer::phi_1_5_psalm(PSALM_GPT2_DIR);
  return tok;
}

const nlohmann::json& cases() {
  static const nlohmann::json j = [] {
    std::ifstream in(PSALM_TEST_FIXTURES_DIR "/tokenizer/cases.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return j["cases"];
}

std::string random_bytes(std::mt19937& rng, std::size_t max_len) {
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(len(rng), '\0');
  for (char& c : s) c = static_cast<char>(byte(rng));
  return s;
}

std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 15];
    out += ' ';
  }
  return out;
}

}  // namespace

TEST_CASE("tokenizer: encode matches Hugging Face tokenizers on every fixture string",
          "[io][tokenizer]") {
  const Tokenizer& tok = psalm_tokenizer();
  REQUIRE(cases().size() >= 300);
  std::size_t checked = 0;
  for (const auto& c : cases()) {
    const std::string text = c["text"].get<std::string>();
    const std::vector<int32_t> expected = c["ids"].get<std::vector<int32_t>>();
    INFO("text: " << nlohmann::json(text).dump());
    CHECK(tok.encode(text) == expected);
    ++checked;
  }
  CHECK(checked == cases().size());
}

TEST_CASE("tokenizer: decode restores every fixture string and skips special tokens like HF",
          "[io][tokenizer]") {
  const Tokenizer& tok = psalm_tokenizer();
  for (const auto& c : cases()) {
    const std::string text = c["text"].get<std::string>();
    const std::vector<int32_t> ids = c["ids"].get<std::vector<int32_t>>();
    INFO("text: " << nlohmann::json(text).dump());
    CHECK(tok.decode(ids) == text);
    const std::string skipped = c.value("decoded_skip_special", text);
    CHECK(tok.decode(ids, /*skip_special_tokens=*/true) == skipped);
  }
}

TEST_CASE("tokenizer: PSALM token id table", "[io][tokenizer]") {
  const Tokenizer& tok = psalm_tokenizer();
  CHECK(tok.vocab_size() == PsalmTokenIds::vocab_size);
  CHECK(tok.id_of("<|endoftext|>") == 50256);
  CHECK(tok.id_of("[PAD]") == 50295);
  CHECK(tok.id_of("[SEG]") == 50296);
  for (int n = 31; n >= 2; --n) CHECK(tok.id_of(std::string(n, ' ')) == 50257 + (31 - n));
  for (int n = 9; n >= 2; --n) CHECK(tok.id_of(std::string(n, '\t')) == 50287 + (9 - n));
  CHECK(tok.is_special(50256));
  CHECK(tok.is_special(50295));
  CHECK_FALSE(tok.is_special(50296));
  CHECK_FALSE(tok.is_special(50286));
  CHECK(tok.token_of(50296) == "[SEG]");
  CHECK(tok.token_of(262) == "\xC4\xA0the");  // "Ġthe"
  CHECK(tok.id_of("\xC4\xA0the") == 262);
  CHECK_FALSE(tok.find_id("<image>").has_value());  // task markers are not tokens
  CHECK_THROWS_AS(tok.id_of("<image>"), psalm::Error);
  CHECK_THROWS_AS(tok.token_of(50297), psalm::Error);
  CHECK_THROWS_AS(tok.token_of(-1), psalm::Error);
  // The Phi-1.5 tokenizer without PSALM's additions ends at 50294.
  const Tokenizer phi = Tokenizer::phi_1_5(PSALM_GPT2_DIR);
  CHECK(phi.vocab_size() == 50295);
  CHECK_FALSE(phi.find_id("[SEG]").has_value());
  CHECK(phi.encode("a [SEG]") == std::vector<int32_t>{64, 685, 5188, 38, 60});
}

TEST_CASE("tokenizer: decode rejects unknown ids with psalm::Error", "[io][tokenizer]") {
  const Tokenizer& tok = psalm_tokenizer();
  const std::vector<int32_t> bad_high{15496, 50297};
  const std::vector<int32_t> bad_negative{-5};
  CHECK_THROWS_WITH(tok.decode(bad_high), Catch::Contains("unknown token id 50297"));
  CHECK_THROWS_AS(tok.decode(bad_negative), psalm::Error);
  CHECK(tok.decode(std::vector<int32_t>{}).empty());
}

TEST_CASE("tokenizer: tokens added at run time return their ids", "[io][tokenizer]") {
  Tokenizer tok = psalm_tokenizer();  // a copy: shares the BPE model, owns its added tokens
  CHECK(tok.add_token(AddedToken::plain("[SEG]")) == 50296);  // existing added token
  CHECK(tok.add_token(AddedToken::special_token("<|endoftext|>")) == 50256);
  const int32_t ref = tok.add_token(AddedToken::plain("[REF]"));
  CHECK(ref == 50297);
  CHECK(tok.vocab_size() == 50298);
  const std::vector<std::string> more{"<p>", "[REF]", "</p>"};
  CHECK(tok.add_tokens(more) == std::vector<int32_t>{50298, 50297, 50299});
  CHECK(tok.encode("x[REF]y") == std::vector<int32_t>{87, 50297, 88});
  CHECK(tok.decode(std::vector<int32_t>{87, 50297, 88}) == "x[REF]y");
  // A token of the model vocabulary keeps its id and is now split out before BPE.
  CHECK(tok.encode("hello") == std::vector<int32_t>{31373});
  CHECK(tok.encode("xhellox") == std::vector<int32_t>{87, 12758, 1140});
  CHECK(tok.add_token(AddedToken::plain("hello")) == 31373);
  CHECK(tok.encode("xhellox") == std::vector<int32_t>{87, 31373, 87});
  // The original is untouched.
  CHECK(psalm_tokenizer().vocab_size() == 50297);
  CHECK_FALSE(psalm_tokenizer().find_id("[REF]").has_value());
  CHECK_THROWS_AS(tok.add_token(AddedToken::plain("")), psalm::Error);
}

TEST_CASE("tokenizer: invalid UTF-8 bytes round-trip through encode and decode",
          "[io][tokenizer]") {
  const Tokenizer& tok = psalm_tokenizer();
  const std::vector<std::string> inputs{
      std::string("\xFF"),
      std::string("\xC0\xAF"),             // overlong '/'
      std::string("\xED\xA0\x80"),         // UTF-16 surrogate
      std::string("\xF4\x90\x80\x80"),     // above U+10FFFF
      std::string("abc\xE2\x82"),          // truncated euro sign
      std::string("caf\xE9 au lait"),      // Latin-1 'é'
      std::string("\x80\x80\x80 x \xBF"),  // lone continuation bytes
      std::string("[SEG]\xFE<|endoftext|>\xFF  \t\t\xC3"),
      std::string("\0\0 \0", 4),
  };
  for (const std::string& s : inputs) {
    INFO("bytes: " << hex(s));
    const std::vector<int32_t> ids = tok.encode(s);
    CHECK_FALSE(ids.empty());
    CHECK(tok.decode(ids) == s);
  }
  // Each invalid byte is one "other" character: it joins a run of punctuation and a leading
  // space, exactly like '!' would.
  const auto bang = tok.encode(" !!");
  const auto mixed = tok.encode(" !\xFF");
  REQUIRE(bang.size() == 1);
  CHECK(mixed.size() >= 1);
  CHECK(tok.decode(mixed) == " !\xFF");
}

TEST_CASE("tokenizer: encode never throws on random bytes and always round-trips",
          "[io][tokenizer]") {
  const Tokenizer& tok = psalm_tokenizer();
  std::mt19937 rng(1234);
  for (int i = 0; i < 3000; ++i) {
    const std::string s = random_bytes(rng, 64);
    std::vector<int32_t> ids;
    REQUIRE_NOTHROW(ids = tok.encode(s));
    for (const int32_t id : ids) REQUIRE((id >= 0 && id < tok.vocab_size()));
    REQUIRE(tok.decode(ids) == s);
  }
  // Long runs (the priority-queue merge path) of random bytes, letters and spaces.
  for (int i = 0; i < 20; ++i) {
    std::string s = random_bytes(rng, 4000);
    if (i % 3 == 1) s = std::string(3000 + i, 'a' + i % 26);
    if (i % 3 == 2) s = std::string(5000, ' ') + "x" + std::string(70, '\t');
    const auto ids = tok.encode(s);
    REQUIRE(tok.decode(ids) == s);
  }
}

TEST_CASE("tokenizer: encode from several threads gives the same ids as one thread",
          "[io][tokenizer]") {
  const Tokenizer tok = Tokenizer::phi_1_5_psalm(PSALM_GPT2_DIR);
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> expected;
  for (const auto& c : cases()) {
    texts.push_back(c["text"].get<std::string>());
    expected.push_back(c["ids"].get<std::vector<int32_t>>());
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = (std::size_t(t) * 37) % texts.size(), k = 0; k < texts.size();
             ++k, i = (i + 1) % texts.size()) {
          if (tok.encode(texts[i]) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
  CHECK(tok.model().cached_words() > 0);
}
