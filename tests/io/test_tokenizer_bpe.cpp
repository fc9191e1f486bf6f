// Tests of the BPE building blocks: psalm/io/bpe_byte_map.hpp, bpe_pretokenize.hpp and
// bpe_model.hpp. Character classes are checked for every code point against the Hugging Face
// ByteLevel pre-tokenizer (tests/fixtures/tokenizer/char_classes.json).
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "psalm/io/bpe_byte_map.hpp"
#include "psalm/io/bpe_model.hpp"
#include "psalm/io/bpe_pretokenize.hpp"
#include "psalm/io/tokenizer_files.hpp"

namespace bpe = psalm::io::bpe;

namespace {

std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string> out;
  bpe::pretokenize(text, [&](std::string_view p) { out.emplace_back(p); });
  return out;
}

using Pieces = std::vector<std::string>;

}  // namespace

TEST_CASE("bpe byte map: 256 distinct characters, printable bytes map to themselves",
          "[io][tokenizer]") {
  const bpe::ByteMap& map = bpe::ByteMap::instance();
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = map.code_point(static_cast<unsigned char>(b));
    seen.insert(cp);
    CHECK(map.byte_of(cp) == b);
  }
  CHECK(seen.size() == 256);
  CHECK(map.code_point('A') == U'A');
  CHECK(map.code_point(0xE9) == U'\u00E9');
  CHECK(map.code_point(' ') == U'\u0120');   // 'Ġ'
  CHECK(map.code_point('\n') == U'\u010A');  // 'Ċ'
  CHECK(map.code_point(0x00) == U'\u0100');
  CHECK(map.code_point(0xAD) == U'\u0143');  // soft hyphen is the last unprintable byte
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  CHECK(map.decode(map.encode(all)) == all);
  CHECK_FALSE(map.decode("\xE4\xB8\xAD").has_value());  // '中' is not a byte character
  CHECK_FALSE(map.decode("\xFF").has_value());
}

TEST_CASE("bpe utf-8 decoder rejects overlongs, surrogates, truncation and > U+10FFFF",
          "[io][tokenizer]") {
  auto len = [](std::string_view s) {
    char32_t cp = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    return bpe::decode_utf8(p, p + s.size(), cp);
  };
  CHECK(len("a") == 1);
  CHECK(len("\xC3\xA9") == 2);
  CHECK(len("\xE2\x82\xAC") == 3);
  CHECK(len("\xF0\x9F\x98\x80") == 4);
  CHECK(len("\xC0\xAF") == 0);
  CHECK(len("\xE0\x80\xAF") == 0);
  CHECK(len("\xED\xA0\x80") == 0);
  CHECK(len("\xF4\x90\x80\x80") == 0);
  CHECK(len("\xE2\x82") == 0);
  CHECK(len("\x80") == 0);
  CHECK(len("\xFF") == 0);
}

TEST_CASE("bpe pretokenize: pieces follow the GPT-2 regex", "[io][tokenizer]") {
  CHECK(pieces("Hello world") == Pieces{"Hello", " world"});
  CHECK(pieces("Hello   world") == Pieces{"Hello", "  ", " world"});
  CHECK(pieces("a\n\nb") == Pieces{"a", "\n", "\n", "b"});
  CHECK(pieces("a \n b") == Pieces{"a", " \n", " b"});
  CHECK(pieces("x   ") == Pieces{"x", "   "});
  CHECK(pieces("I'm don't they'll we've you're he'd it's") ==
        Pieces{"I", "'m", " don", "'t", " they", "'ll", " we", "'ve", " you", "'re", " he", "'d",
               " it", "'s"});
  CHECK(pieces("I'M") == Pieces{"I", "'", "M"});
  CHECK(pieces("''s") == Pieces{"''", "s"});
  CHECK(pieces(" 's") == Pieces{" '", "s"});
  CHECK(pieces("abc123 456!!?") == Pieces{"abc", "123", " 456", "!!?"});
  CHECK(pieces("a\t b") == Pieces{"a", "\t", " b"});
  CHECK(pieces("a\tb") == Pieces{"a", "\t", "b"});
  CHECK(pieces("caf\xC3\xA9 na\xC3\xAFve") == Pieces{"caf\xC3\xA9", " na\xC3\xAFve"});
  CHECK(pieces("cafe\xCC\x81") == Pieces{"cafe", "\xCC\x81"});    // combining mark is "other"
  CHECK(pieces("a\xC2\xA0 b") == Pieces{"a", "\xC2\xA0", " b"});  // NBSP is whitespace
  CHECK(pieces("\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C") ==
        Pieces{"\xE4\xBD\xA0\xE5\xA5\xBD", "\xEF\xBC\x8C"});  // "你好，"
  CHECK(pieces(" \xFF\xFE!") == Pieces{" \xFF\xFE!"});        // invalid bytes are "other"
  CHECK(pieces("a\xFF"
               "b") == Pieces{"a", "\xFF", "b"});
  CHECK(pieces("").empty());
  // Pieces always concatenate back to the input, whatever the bytes.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 2000; ++i) {
    std::string s(static_cast<std::size_t>(i % 50), '\0');
    for (char& c : s)
      c = static_cast<char>(i % 2 ? byte(rng) : " \t\na'1\xC3\xA9!"[byte(rng) % 10]);
    std::string joined;
    for (const auto& p : pieces(s)) {
      REQUIRE_FALSE(p.empty());
      joined += p;
    }
    REQUIRE(joined == s);
  }
}

// utf8proc carries an older Unicode version than the Oniguruma regex inside `tokenizers`:
// code points assigned only in later versions are "other" (unassigned) for us. Every code
// point assigned in utf8proc's Unicode version must agree; the rest are counted.
TEST_CASE("bpe classify: every assigned code point has the class the HF ByteLevel regex gives it",
          "[io][tokenizer]") {
  std::ifstream in(PSALM_TEST_FIXTURES_DIR "/tokenizer/char_classes.json");
  REQUIRE(in.good());
  const auto j = nlohmann::json::parse(in);
  const std::map<std::string, bpe::CharClass> names{{"letter", bpe::CharClass::letter},
                                                    {"number", bpe::CharClass::number},
                                                    {"space", bpe::CharClass::space},
                                                    {"other", bpe::CharClass::other}};
  std::size_t total = 0;
  std::size_t newer_unicode = 0;
  std::vector<std::string> mismatches;
  for (const auto& r : j["ranges"]) {
    const auto first = r[0].get<char32_t>();
    const auto last = r[1].get<char32_t>();
    const bpe::CharClass want = names.at(r[2].get<std::string>());
    for (char32_t cp = first; cp <= last; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      ++total;
      if (bpe::classify(cp) == want) continue;
      if (utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_CN) {
        ++newer_unicode;
      } else if (mismatches.size() < 20) {
        mismatches.push_back(std::to_string(static_cast<uint32_t>(cp)));
      }
    }
  }
  CHECK(total == 0x110000 - 0x800);
  INFO("first mismatching code points: " << nlohmann::json(mismatches).dump());
  CHECK(mismatches.empty());
  INFO("utf8proc Unicode " << utf8proc_unicode_version() << ": " << newer_unicode
                           << " code points assigned only in a later Unicode version");
  // 5,004 with utf8proc's Unicode 15.0 against tokenizers 0.23.3 (Unicode 16 letters/numbers).
  CHECK(newer_unicode <= 5004);
}

TEST_CASE("bpe model: the quadratic and the priority-queue merge loops agree", "[io][tokenizer]") {
  namespace tf = psalm::io::tokenizer_files;
  const bpe::BpeModel model(tf::read_vocab_json(PSALM_GPT2_DIR "/encoder.json"),
                            tf::read_merges_txt(PSALM_GPT2_DIR "/vocab.bpe"));
  CHECK(model.size() == 50257);
  CHECK(model.merge_count() == 50000);
  std::mt19937 rng(99);
  const std::string alphabet = "etaoinshrdlu ETAOIN0123456789.,'-\xC3\xA9\xE4\xB8\xAD";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  for (int i = 0; i < 3000; ++i) {
    std::string word(1 + static_cast<std::size_t>(i) % bpe::BpeModel::kShortWord, '\0');
    for (char& c : word) c = alphabet[pick(rng)];
    std::vector<int32_t> a, b;
    model.merge_short(word, a);
    model.merge_long(word, b);
    REQUIRE(a == b);
    std::string back;
    for (const int32_t id : a) back += model.bytes(id);
    REQUIRE(back == word);
  }
  std::vector<int32_t> ids;
  model.merge_short(" hello", ids);
  CHECK(ids == std::vector<int32_t>{23748});
  ids.clear();
  model.merge_word(std::string(100000, 'a'), ids);  // long path stays fast and exact
  std::string back;
  for (const int32_t id : ids) back += model.bytes(id);
  CHECK(back == std::string(100000, 'a'));
}

TEST_CASE("bpe model: merges that leave the vocabulary are rejected", "[io][tokenizer]") {
  std::unordered_map<std::string, int32_t> vocab{{"a", 0}, {"b", 1}, {"ab", 2}};
  CHECK_NOTHROW(bpe::BpeModel(vocab, {{"a", "b"}}));
  CHECK_THROWS_WITH(bpe::BpeModel(vocab, {{"a", "c"}}), Catch::Contains("not in the vocabulary"));
  CHECK_THROWS_WITH(bpe::BpeModel(vocab, {{"b", "a"}}), Catch::Contains("produces 'ba'"));
  CHECK_THROWS_WITH(bpe::BpeModel({{"a", 0}, {"b", 0}}, {}), Catch::Contains("used by two"));
  CHECK_THROWS_AS(bpe::BpeModel({{"a", -1}}, {}), psalm::Error);
  // Bytes outside the vocabulary are dropped without an unk token, as in HF.
  const bpe::BpeModel small(vocab, {{"a", "b"}});
  std::vector<int32_t> ids;
  small.merge_word("abxab", ids);
  CHECK(ids == std::vector<int32_t>{2, 2});
}
