// psalm/io/tokenizer_files.hpp — readers for Hugging Face tokenizer files (untrusted input).
// vocab.json / encoder.json, merges.txt / vocab.bpe, tokenizer.json (BPE model, ByteLevel
// pre-tokenizer, added_tokens), added_tokens.json, special_tokens_map.json and
// tokenizer_config.json (added_tokens_decoder). Every error names the file and the field. Files
// are read by io/read_file.hpp (regular files, at most kMaxTokenizerFileBytes) and JSON parsed
// strictly (io/json_config.hpp). Depends on: nlohmann-json, psalm/core/error.hpp,
// read_file.hpp, json_config.hpp, bpe_model.hpp, tokenizer_added_tokens.hpp.
// Test: tests/io/test_tokenizer_files.cpp.
#pragma once

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/bpe_model.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/io/read_file.hpp"
#include "psalm/io/tokenizer_added_tokens.hpp"

namespace psalm::io {

/// Everything needed to build a Tokenizer, as read from files.
struct TokenizerSpec {
  std::unordered_map<std::string, int32_t> vocab;  ///< spelled token -> id
  std::vector<std::pair<std::string, std::string>> merges;
  bpe::BpeOptions bpe;
  bool add_prefix_space = false;                      ///< ByteLevel pre-tokenizer option
  std::vector<std::pair<AddedToken, int32_t>> added;  ///< added tokens with their ids
};

namespace tokenizer_files {

namespace fs = std::filesystem;
using Json = nlohmann::json;

/// Whole file as bytes (a regular file of at most kMaxTokenizerFileBytes); errors name the path.
inline std::string read_file(const fs::path& path) {
  return io::read_file(path, kMaxTokenizerFileBytes, "tokenizer");
}

/// A tokenizer JSON file, strictly parsed (a key repeated in one object is an error).
inline Json read_json(const fs::path& path) { return read_json_file(path, kMaxTokenizerFileBytes); }

inline int32_t checked_id(const Json& value, const fs::path& path, const std::string& field) {
  PSALM_CHECK(value.is_number_integer(), "tokenizer: '", path.string(), "': ", field,
              " is not an integer id");
  const auto id = value.get<int64_t>();
  PSALM_CHECK(id >= 0 && id <= bpe::kMaxTokenId, "tokenizer: '", path.string(), "': ", field, " = ",
              id, " is outside [0, ", bpe::kMaxTokenId, "]");
  return static_cast<int32_t>(id);
}

/// A {"token": id, ...} object (vocab.json, added_tokens.json, tokenizer.json model.vocab).
inline std::unordered_map<std::string, int32_t> vocab_from_json(const Json& object,
                                                                const fs::path& path,
                                                                const std::string& field) {
  PSALM_CHECK(object.is_object(), "tokenizer: '", path.string(), "': ", field,
              " is not a JSON object of token -> id");
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(object.size());
  for (const auto& [token, id] : object.items()) {
    vocab.emplace(token, checked_id(id, path, field + "[\"" + token + "\"]"));
  }
  return vocab;
}

inline std::unordered_map<std::string, int32_t> read_vocab_json(const fs::path& path) {
  return vocab_from_json(read_json(path), path, "vocabulary");
}

/// Splits a merge "a b" into its two parts (exactly one space).
inline std::pair<std::string, std::string> split_merge(std::string_view line, const fs::path& path,
                                                       std::size_t index) {
  const auto space = line.find(' ');
  PSALM_CHECK(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
                  line.find(' ', space + 1) == std::string_view::npos,
              "tokenizer: '", path.string(), "': merge ", index + 1, " ('", line,
              "') is not two tokens separated by one space");
  return {std::string(line.substr(0, space)), std::string(line.substr(space + 1))};
}

/// merges.txt / vocab.bpe: an optional "#version" line, then one "a b" per line.
inline std::vector<std::pair<std::string, std::string>> read_merges_txt(const fs::path& path) {
  const std::string text = read_file(path);
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = eol + 1;
    if (first && line.starts_with("#version")) {
      first = false;
      continue;
    }
    first = false;
    if (line.empty()) continue;
    merges.push_back(split_merge(line, path, merges.size()));
  }
  return merges;
}

inline bool get_bool(const Json& object, const char* key, bool fallback, const fs::path& path) {
  if (!object.contains(key) || object[key].is_null()) return fallback;
  PSALM_CHECK(object[key].is_boolean(), "tokenizer: '", path.string(), "': '", key,
              "' is not a boolean");
  return object[key].get<bool>();
}

/// An AddedToken from its JSON form {"content", "single_word", "lstrip", "rstrip",
/// "normalized", "special"}; a plain string is a token with the given defaults.
inline AddedToken added_token_from_json(const Json& value, const fs::path& path, bool special) {
  AddedToken token;
  token.special = special;
  token.normalized = !special;
  if (value.is_string()) {
    token.content = value.get<std::string>();
    return token;
  }
  PSALM_CHECK(value.is_object() && value.contains("content") && value["content"].is_string(),
              "tokenizer: '", path.string(), "': an added token has no string 'content'");
  token.content = value["content"].get<std::string>();
  token.single_word = get_bool(value, "single_word", false, path);
  token.lstrip = get_bool(value, "lstrip", false, path);
  token.rstrip = get_bool(value, "rstrip", false, path);
  token.special = get_bool(value, "special", special, path);
  token.normalized = get_bool(value, "normalized", !token.special, path);
  return token;
}

// Checks that a ByteLevel pre-tokenizer (possibly inside a Sequence) is what the file asks for
// and reads its add_prefix_space.
inline void read_pre_tokenizer(const Json& pre, const fs::path& path, TokenizerSpec& spec) {
  PSALM_CHECK(pre.is_object() && pre.contains("type") && pre["type"].is_string(), "tokenizer: '",
              path.string(), "': pre_tokenizer has no 'type'");
  const auto type = pre["type"].get<std::string>();
  if (type == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array() &&
      pre["pretokenizers"].size() == 1) {
    read_pre_tokenizer(pre["pretokenizers"][0], path, spec);
    return;
  }
  PSALM_CHECK(type == "ByteLevel", "tokenizer: '", path.string(), "': pre_tokenizer type '", type,
              "' is not supported (only GPT-2 ByteLevel)");
  PSALM_CHECK(get_bool(pre, "use_regex", true, path), "tokenizer: '", path.string(),
              "': ByteLevel with use_regex = false is not supported");
  spec.add_prefix_space = get_bool(pre, "add_prefix_space", false, path);
}

/// tokenizer.json: a BPE model with a ByteLevel pre-tokenizer and no normalizer.
inline TokenizerSpec read_tokenizer_json(const fs::path& path) {
  const Json root = read_json(path);
  PSALM_CHECK(root.is_object() && root.contains("model") && root["model"].is_object(),
              "tokenizer: '", path.string(), "' has no 'model' object");
  const Json& model = root["model"];
  PSALM_CHECK(!model.contains("type") || model["type"] == "BPE", "tokenizer: '", path.string(),
              "': model type ", model.value("type", Json()).dump(), " is not BPE");
  PSALM_CHECK(!root.contains("normalizer") || root["normalizer"].is_null(), "tokenizer: '",
              path.string(), "': normalizers are not supported (GPT-2 has none)");
  TokenizerSpec spec;
  spec.vocab = vocab_from_json(model.value("vocab", Json()), path, "model.vocab");
  const Json merges = model.value("merges", Json::array());
  PSALM_CHECK(merges.is_array(), "tokenizer: '", path.string(), "': model.merges is not a list");
  spec.merges.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const Json& m = merges[i];
    if (m.is_string()) {
      spec.merges.push_back(split_merge(m.get<std::string>(), path, i));
    } else {
      PSALM_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                  "tokenizer: '", path.string(), "': model.merges[", i,
                  "] is neither \"a b\" nor [\"a\", \"b\"]");
      spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    }
  }
  const Json dropout = model.value("dropout", Json());
  PSALM_CHECK(dropout.is_null() || (dropout.is_number() && dropout.get<double>() == 0.0),
              "tokenizer: '", path.string(), "': BPE dropout is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Json v = model.value(key, Json());
    PSALM_CHECK(v.is_null() || (v.is_string() && v.get<std::string>().empty()), "tokenizer: '",
                path.string(), "': model.", key, " is not supported");
  }
  PSALM_CHECK(!get_bool(model, "byte_fallback", false, path), "tokenizer: '", path.string(),
              "': byte_fallback is not supported");
  spec.bpe.fuse_unk = get_bool(model, "fuse_unk", false, path);
  spec.bpe.ignore_merges = get_bool(model, "ignore_merges", false, path);
  if (model.contains("unk_token") && !model["unk_token"].is_null()) {
    PSALM_CHECK(model["unk_token"].is_string(), "tokenizer: '", path.string(),
                "': model.unk_token is not a string");
    spec.bpe.unk_token = model["unk_token"].get<std::string>();
  }
  if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null()) {
    read_pre_tokenizer(root["pre_tokenizer"], path, spec);
  } else {
    fail("tokenizer: '", path.string(), "' has no pre_tokenizer (only ByteLevel is supported)");
  }
  const Json added = root.value("added_tokens", Json::array());
  PSALM_CHECK(added.is_array(), "tokenizer: '", path.string(), "': added_tokens is not a list");
  for (std::size_t i = 0; i < added.size(); ++i) {
    PSALM_CHECK(added[i].is_object() && added[i].contains("id"), "tokenizer: '", path.string(),
                "': added_tokens[", i, "] has no id");
    spec.added.emplace_back(added_token_from_json(added[i], path, false),
                            checked_id(added[i]["id"], path, "added_tokens[].id"));
  }
  return spec;
}

// Special token names in special_tokens_map.json / tokenizer_config.json.
inline void collect_special(const Json& object, std::set<std::string>& names) {
  if (!object.is_object()) return;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                          "cls_token", "mask_token"}) {
    if (!object.contains(key)) continue;
    const Json& v = object[key];
    if (v.is_string()) names.insert(v.get<std::string>());
    if (v.is_object() && v.contains("content") && v["content"].is_string()) {
      names.insert(v["content"].get<std::string>());
    }
  }
  if (object.contains("additional_special_tokens") &&
      object["additional_special_tokens"].is_array()) {
    for (const Json& v : object["additional_special_tokens"]) {
      if (v.is_string()) names.insert(v.get<std::string>());
      if (v.is_object() && v.contains("content") && v["content"].is_string()) {
        names.insert(v["content"].get<std::string>());
      }
    }
  }
}

/// The transformers side files of a folder: added_tokens_decoder in tokenizer_config.json
/// (flags and ids), added_tokens.json (content -> id) and the special token names. Tokens
/// already in `spec.added` keep their entry.
inline void read_side_files(const fs::path& dir, TokenizerSpec& spec) {
  std::set<std::string> special;
  Json config;
  if (fs::exists(dir / "tokenizer_config.json")) {
    config = read_json(dir / "tokenizer_config.json");
    collect_special(config, special);
  }
  if (fs::exists(dir / "special_tokens_map.json")) {
    collect_special(read_json(dir / "special_tokens_map.json"), special);
  }
  std::set<std::string> known;
  for (const auto& [token, id] : spec.added) known.insert(token.content);
  if (config.is_object() && config.contains("added_tokens_decoder")) {
    const fs::path path = dir / "tokenizer_config.json";
    const Json& decoder = config["added_tokens_decoder"];
    PSALM_CHECK(decoder.is_object(), "tokenizer: '", path.string(),
                "': added_tokens_decoder is not an object");
    for (const auto& [key, value] : decoder.items()) {
      int64_t id = -1;
      try {
        std::size_t used = 0;
        id = std::stoll(key, &used);
        if (used != key.size()) id = -1;
      } catch (const std::exception&) {
        id = -1;
      }
      PSALM_CHECK(id >= 0 && id <= bpe::kMaxTokenId, "tokenizer: '", path.string(),
                  "': added_tokens_decoder key '", key, "' is not a token id");
      const bool named_special = value.is_object() && value.contains("content") &&
                                 value["content"].is_string() &&
                                 special.contains(value["content"].get<std::string>());
      AddedToken token = added_token_from_json(value, path, named_special);
      if (known.insert(token.content).second) spec.added.emplace_back(token, int32_t(id));
    }
  }
  if (fs::exists(dir / "added_tokens.json")) {
    const fs::path path = dir / "added_tokens.json";
    const auto table = vocab_from_json(read_json(path), path, "added_tokens");
    std::vector<std::pair<int32_t, std::string>> by_id;
    for (const auto& [content, id] : table) by_id.emplace_back(id, content);
    std::sort(by_id.begin(), by_id.end());
    for (const auto& [id, content] : by_id) {
      if (!known.insert(content).second) continue;
      AddedToken token = special.contains(content) ? AddedToken::special_token(content)
                                                   : AddedToken::plain(content);
      spec.added.emplace_back(token, id);
    }
  }
  // Special tokens named only in the maps: registered with their vocabulary id.
  for (const std::string& name : special) {
    if (known.contains(name)) continue;
    const auto it = spec.vocab.find(name);
    PSALM_CHECK(it != spec.vocab.end(), "tokenizer: special token '", name, "' of '", dir.string(),
                "' is neither in the vocabulary nor in the added tokens");
    spec.added.emplace_back(AddedToken::special_token(name), it->second);
    known.insert(name);
  }
}

/// First existing file among `names` in `dir`, or an empty path.
inline fs::path first_existing(const fs::path& dir, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (fs::exists(dir / name)) return dir / name;
  }
  return {};
}

/// A Hugging Face tokenizer folder: tokenizer.json when present, otherwise vocab.json (or
/// encoder.json) plus merges.txt (or vocab.bpe); then the transformers side files.
inline TokenizerSpec read_folder(const fs::path& dir) {
  PSALM_CHECK(fs::is_directory(dir), "tokenizer: '", dir.string(), "' is not a folder");
  TokenizerSpec spec;
  if (fs::exists(dir / "tokenizer.json")) {
    spec = read_tokenizer_json(dir / "tokenizer.json");
  } else {
    const fs::path vocab = first_existing(dir, {"vocab.json", "encoder.json"});
    const fs::path merges = first_existing(dir, {"merges.txt", "vocab.bpe"});
    PSALM_CHECK(!vocab.empty() && !merges.empty(), "tokenizer: '", dir.string(),
                "' holds neither tokenizer.json nor vocab.json/encoder.json + "
                "merges.txt/vocab.bpe");
    spec.vocab = read_vocab_json(vocab);
    spec.merges = read_merges_txt(merges);
  }
  read_side_files(dir, spec);
  return spec;
}

}  // namespace tokenizer_files
}  // namespace psalm::io
