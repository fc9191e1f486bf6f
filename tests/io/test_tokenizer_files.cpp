// Tests of psalm/io/tokenizer_files.hpp: loading Hugging Face tokenizer folders in each layout
// (tokenizer.json with "a b" or ["a", "b"] merges; vocab.json + merges.txt + side files; GPT-2's
// encoder.json + vocab.bpe) gives the same ids as the preset, and bad files give psalm::Error.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "psalm/io/tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using psalm::io::Tokenizer;

const fs::path kGpt2 = PSALM_GPT2_DIR;

// A fresh temporary folder, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("psalm_tok_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
  }
};

json added_token_json(const std::string& content, int id, bool special) {
  return {{"id", id},        {"content", content},     {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", !special}, {"special", special}};
}

// The 41 added tokens of the PSALM tokenizer in tokenizer.json form.
json psalm_added_tokens() {
  json list = json::array();
  list.push_back(added_token_json("<|endoftext|>", 50256, true));
  int id = 50257;
  for (int n = 31; n >= 2; --n) list.push_back(added_token_json(std::string(n, ' '), id++, false));
  for (int n = 9; n >= 2; --n) list.push_back(added_token_json(std::string(n, '\t'), id++, false));
  list.push_back(added_token_json("[PAD]", 50295, true));
  list.push_back(added_token_json("[SEG]", 50296, false));
  return list;
}

json gpt2_tokenizer_json(bool pair_merges) {
  namespace tf = psalm::io::tokenizer_files;
  json vocab = tf::read_json(kGpt2 / "encoder.json");
  json merges = json::array();
  for (const auto& [a, b] : tf::read_merges_txt(kGpt2 / "vocab.bpe")) {
    if (pair_merges) {
      merges.push_back(json::array({a, b}));
    } else {
      merges.push_back(a + " " + b);
    }
  }
  return {{"version", "1.0"},
          {"added_tokens", psalm_added_tokens()},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "ByteLevel"},
            {"add_prefix_space", false},
            {"trim_offsets", true},
            {"use_regex", true}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", ""},
            {"end_of_word_suffix", ""},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"vocab", vocab},
            {"merges", merges}}}};
}

// Every fixture string encodes to the same ids with `tok` as with the preset.
void check_same_as_fixtures(const Tokenizer& tok) {
  std::ifstream in(PSALM_TEST_FIXTURES_DIR "/tokenizer/cases.json");
  REQUIRE(in.good());
  const json j = json::parse(in);
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"].get<std::string>();
    INFO("text: " << json(text).dump());
    REQUIRE(tok.encode(text) == c["ids"].get<std::vector<int32_t>>());
  }
}

}  // namespace

TEST_CASE("tokenizer files: tokenizer.json with string merges equals the PSALM preset",
          "[io][tokenizer]") {
  TempDir dir;
  dir.write("tokenizer.json", gpt2_tokenizer_json(false).dump());
  const Tokenizer tok = Tokenizer::from_folder(dir.path);
  CHECK(tok.vocab_size() == 50297);
  CHECK(tok.is_special(50295));
  check_same_as_fixtures(tok);
}

TEST_CASE("tokenizer files: tokenizer.json with [a, b] pair merges equals the PSALM preset",
          "[io][tokenizer]") {
  TempDir dir;
  dir.write("tokenizer.json", gpt2_tokenizer_json(true).dump());
  const Tokenizer tok = Tokenizer::from_tokenizer_json(dir.path / "tokenizer.json");
  CHECK(tok.vocab_size() == 50297);
  check_same_as_fixtures(tok);
}

TEST_CASE("tokenizer files: vocab.json + merges.txt + transformers side files", "[io][tokenizer]") {
  TempDir dir;
  fs::copy_file(kGpt2 / "encoder.json", dir.path / "vocab.json");
  fs::copy_file(kGpt2 / "vocab.bpe", dir.path / "merges.txt");
  // added_tokens.json holds the 40 tokens beyond GPT-2 (as the PSALM release does);
  // tokenizer_config.json's added_tokens_decoder gives flags; [PAD] is named special.
  json added = json::object();
  json decoder = json::object();
  for (const auto& t : psalm_added_tokens()) {
    if (t["id"].get<int>() > 50256) added[t["content"].get<std::string>()] = t["id"];
    if (t["content"] != "[PAD]") {
      decoder[std::to_string(t["id"].get<int>())] = {
          {"content", t["content"]},       {"lstrip", false},      {"rstrip", false},
          {"normalized", t["normalized"]}, {"single_word", false}, {"special", t["special"]}};
    }
  }
  dir.write("added_tokens.json", added.dump());
  dir.write("tokenizer_config.json", json{{"added_tokens_decoder", decoder},
                                          {"tokenizer_class", "CodeGenTokenizer"},
                                          {"eos_token", "<|endoftext|>"}}
                                         .dump());
  dir.write("special_tokens_map.json",
            json{{"bos_token", "<|endoftext|>"}, {"pad_token", {{"content", "[PAD]"}}}}.dump());
  const Tokenizer tok = Tokenizer::from_folder(dir.path);
  CHECK(tok.vocab_size() == 50297);
  CHECK(tok.is_special(50295));  // named special in special_tokens_map.json only
  CHECK(tok.is_special(50256));
  CHECK_FALSE(tok.is_special(50296));
  check_same_as_fixtures(tok);
}

TEST_CASE("tokenizer files: GPT-2 encoder.json + vocab.bpe folder is plain GPT-2",
          "[io][tokenizer]") {
  const Tokenizer tok = Tokenizer::from_folder(kGpt2);
  CHECK(tok.vocab_size() == 50257);
  CHECK(tok.added_tokens().size() == 0);
  // Without added tokens, runs of spaces and "<|endoftext|>" go through BPE.
  CHECK(tok.encode("a  b") == std::vector<int32_t>{64, 220, 275});
  CHECK(tok.encode("<|endoftext|>") != std::vector<int32_t>{50256});
  const Tokenizer same = Tokenizer::from_files(kGpt2 / "encoder.json", kGpt2 / "vocab.bpe");
  CHECK(same.encode("Hello world") == std::vector<int32_t>{15496, 995});
}

TEST_CASE("tokenizer files: malformed or unsupported files give psalm::Error naming the file",
          "[io][tokenizer]") {
  TempDir dir;
  auto load = [&](const json& j) {
    dir.write("tokenizer.json", j.dump());
    return Tokenizer::from_tokenizer_json(dir.path / "tokenizer.json");
  };
  const json tiny_model = {{"type", "BPE"},
                           {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}},
                           {"merges", json::array({"a b"})}};
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
  CHECK_NOTHROW(load({{"model", tiny_model}, {"pre_tokenizer", byte_level}}));
  CHECK(load({{"model", tiny_model}, {"pre_tokenizer", byte_level}}).encode("abab") ==
        std::vector<int32_t>{2, 2});

  dir.write("tokenizer.json", "{\"model\": ");
  CHECK_THROWS_WITH(Tokenizer::from_tokenizer_json(dir.path / "tokenizer.json"),
                    Catch::Contains("tokenizer.json") && Catch::Contains("invalid JSON"));
  json unigram = tiny_model;
  unigram["type"] = "Unigram";
  // ByteLevel add_prefix_space: each stretch of text gets a leading space if it has none.
  json gpt2 = gpt2_tokenizer_json(false);
  gpt2["pre_tokenizer"]["add_prefix_space"] = true;
  const Tokenizer spaced = load(gpt2);
  CHECK(spaced.encode("Hello world") == std::vector<int32_t>{18435, 995});
  CHECK(spaced.encode(" Hello") == std::vector<int32_t>{18435});
  CHECK(spaced.encode("[SEG]Hello") == std::vector<int32_t>{50296, 18435});
  CHECK_THROWS_WITH(load({{"model", unigram}, {"pre_tokenizer", byte_level}}),
                    Catch::Contains("is not BPE"));
  CHECK_THROWS_WITH(load({{"model", tiny_model},
                          {"pre_tokenizer", byte_level},
                          {"normalizer", {{"type", "NFC"}}}}),
                    Catch::Contains("normalizers are not supported"));
  CHECK_THROWS_WITH(load({{"model", tiny_model}, {"pre_tokenizer", {{"type", "Whitespace"}}}}),
                    Catch::Contains("'Whitespace' is not supported"));
  json bad_merge = tiny_model;
  bad_merge["merges"] = json::array({"a b c"});
  CHECK_THROWS_WITH(load({{"model", bad_merge}, {"pre_tokenizer", byte_level}}),
                    Catch::Contains("merge 1"));
  json unknown_merge = tiny_model;
  unknown_merge["merges"] = json::array({json::array({"a", "z"})});
  CHECK_THROWS_WITH(load({{"model", unknown_merge}, {"pre_tokenizer", byte_level}}),
                    Catch::Contains("not in the vocabulary"));
  json huge_id = tiny_model;
  huge_id["vocab"]["b"] = 1LL << 40;
  CHECK_THROWS_WITH(load({{"model", huge_id}, {"pre_tokenizer", byte_level}}),
                    Catch::Contains("outside"));
  json string_id = tiny_model;
  string_id["vocab"]["b"] = "1";
  CHECK_THROWS_AS(load({{"model", string_id}, {"pre_tokenizer", byte_level}}), psalm::Error);
  // An added token whose id disagrees with the vocabulary, or collides with another token.
  CHECK_THROWS_WITH(load({{"model", tiny_model},
                          {"pre_tokenizer", byte_level},
                          {"added_tokens", json::array({added_token_json("ab", 5, true)})}}),
                    Catch::Contains("vocabulary gives it id 2"));
  CHECK_THROWS_WITH(load({{"model", tiny_model},
                          {"pre_tokenizer", byte_level},
                          {"added_tokens", json::array({added_token_json("<x>", 1, true)})}}),
                    Catch::Contains("already uses"));
  json dropout = tiny_model;
  dropout["dropout"] = 0.1;
  CHECK_THROWS_WITH(load({{"model", dropout}, {"pre_tokenizer", byte_level}}),
                    Catch::Contains("dropout"));
  CHECK_THROWS_WITH(Tokenizer::from_folder(dir.path / "missing"),
                    Catch::Contains("is not a folder"));
  TempDir empty;
  CHECK_THROWS_WITH(Tokenizer::from_folder(empty.path), Catch::Contains("holds neither"));
  CHECK_THROWS_WITH(Tokenizer::phi_1_5(empty.path), Catch::Contains("holds no GPT-2"));
  CHECK_THROWS_WITH(Tokenizer::from_files(empty.path / "vocab.json", empty.path / "merges.txt"),
                    Catch::Contains("cannot open"));
}
