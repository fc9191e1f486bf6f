// psalm/io/tokenizer.hpp — the Phi-1.5 / GPT-2 byte-level BPE tokenizer PSALM uses.
// Loads Hugging Face tokenizer folders (or GPT-2's encoder.json + vocab.bpe), splits added
// tokens out of the text, pre-tokenizes like GPT-2, applies BPE merges; decodes ids to bytes.
// Any byte string encodes (invalid UTF-8 bytes round-trip). Depends on: psalm/core,
// bpe_*.hpp, tokenizer_added_tokens.hpp, tokenizer_files.hpp. Test: tests/io/test_tokenizer.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/bpe_model.hpp"
#include "psalm/io/bpe_pretokenize.hpp"
#include "psalm/io/tokenizer_added_tokens.hpp"
#include "psalm/io/tokenizer_files.hpp"

namespace psalm::io {

/// Ids of the Phi-1.5 + PSALM vocabulary (PSALM_SPEC.md §1.4).
struct PsalmTokenIds {
  static constexpr int32_t endoftext = 50256;        ///< "<|endoftext|>": bos = eos = unk
  static constexpr int32_t first_space_run = 50257;  ///< 31 spaces; 50286 = 2 spaces
  static constexpr int32_t first_tab_run = 50287;    ///< 9 tabs; 50294 = 2 tabs
  static constexpr int32_t pad = 50295;              ///< "[PAD]" (special)
  static constexpr int32_t seg = 50296;              ///< "[SEG]" (plain added token)
  static constexpr int32_t vocab_size = 50297;       ///< rows of the resized embedding
};

/// A byte-level BPE tokenizer with Hugging Face added-token semantics.
///
/// encode() is const and thread-safe (the BPE word cache is shared behind a shared mutex);
/// add_token() mutates and must not race with encode(). Copies share the BPE model and cache.
class Tokenizer {
 public:
  /// Builds from parts already read (see tokenizer_files.hpp).
  explicit Tokenizer(TokenizerSpec spec)
      : model_(std::make_shared<const bpe::BpeModel>(std::move(spec.vocab), spec.merges, spec.bpe)),
        add_prefix_space_(spec.add_prefix_space) {
    for (const auto& [token, id] : spec.added) insert_added(token, id);
  }

  /// A folder in Hugging Face layout (tokenizer.json, or vocab.json + merges.txt, plus the
  /// transformers side files); GPT-2's encoder.json / vocab.bpe names are accepted too.
  static Tokenizer from_folder(const std::filesystem::path& dir) {
    return Tokenizer(tokenizer_files::read_folder(dir));
  }
  /// A single tokenizer.json file.
  static Tokenizer from_tokenizer_json(const std::filesystem::path& path) {
    return Tokenizer(tokenizer_files::read_tokenizer_json(path));
  }
  /// Explicit vocabulary (token -> id JSON) and merges files, no added tokens.
  static Tokenizer from_files(const std::filesystem::path& vocab_json,
                              const std::filesystem::path& merges_txt,
                              bpe::BpeOptions options = {}) {
    TokenizerSpec spec;
    spec.vocab = tokenizer_files::read_vocab_json(vocab_json);
    spec.merges = tokenizer_files::read_merges_txt(merges_txt);
    spec.bpe = std::move(options);
    return Tokenizer(std::move(spec));
  }

  /// Phi-1.5's tokenizer (CodeGenTokenizer) from a folder holding the GPT-2 files
  /// (vocab.json + merges.txt or encoder.json + vocab.bpe): GPT-2's 50,257 ids with
  /// "<|endoftext|>" special, then the 38 whitespace tokens 50257-50294 (runs of 31 down to 2
  /// spaces, then 9 down to 2 tabs; normalized, not special), as CodeGen adds them.
  static Tokenizer phi_1_5(const std::filesystem::path& gpt2_dir) {
    namespace tf = tokenizer_files;
    const auto vocab = tf::first_existing(gpt2_dir, {"vocab.json", "encoder.json"});
    const auto merges = tf::first_existing(gpt2_dir, {"merges.txt", "vocab.bpe"});
    PSALM_CHECK(!vocab.empty() && !merges.empty(), "tokenizer: '", gpt2_dir.string(),
                "' holds no GPT-2 vocab.json/encoder.json + merges.txt/vocab.bpe");
    Tokenizer tok = from_files(vocab, merges);
    PSALM_CHECK(tok.model_->size() == PsalmTokenIds::endoftext + 1 &&
                    tok.model_->find("<|endoftext|>") == PsalmTokenIds::endoftext,
                "tokenizer: '", gpt2_dir.string(), "' is not the GPT-2 vocabulary (",
                tok.model_->size(), " ids, expected 50257 with <|endoftext|> = 50256)");
    // ref: Phi-1.5 tokenizer.json (CodeGen: include_whitespace(2..31), include_tabs(2..9)).
    AddedToken eot = AddedToken::special_token("<|endoftext|>");
    tok.insert_added(eot, PsalmTokenIds::endoftext);
    for (int n = 31; n >= 2; --n) tok.add_token(AddedToken::plain(std::string(n, ' ')));
    for (int n = 9; n >= 2; --n) tok.add_token(AddedToken::plain(std::string(n, '\t')));
    return tok;
  }

  /// The tokenizer PSALM trains and evaluates with: phi_1_5() plus "[PAD]" (special, 50295,
  /// added as pad token) and "[SEG]" (plain added token, 50296). The task markers <image>,
  /// <seg>, <cls>, <region>, <refer> are not tokens (PSALM_SPEC.md §1.4).
  static Tokenizer phi_1_5_psalm(const std::filesystem::path& gpt2_dir) {
    Tokenizer tok = phi_1_5(gpt2_dir);
    const int32_t pad = tok.add_token(AddedToken::special_token("[PAD]"));
    const int32_t seg = tok.add_token(AddedToken::plain("[SEG]"));
    PSALM_CHECK(pad == PsalmTokenIds::pad && seg == PsalmTokenIds::seg &&
                    tok.vocab_size() == PsalmTokenIds::vocab_size,
                "tokenizer: PSALM token ids came out as [PAD]=", pad, " [SEG]=", seg);
    return tok;
  }

  /// Token ids of `text` (any bytes), without bos/eos (add_special_tokens=False).
  std::vector<int32_t> encode(std::string_view text) const {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    encode_into(text, ids);
    return ids;
  }

  /// Appends the ids of `text` to `out`.
  void encode_into(std::string_view text, std::vector<int32_t>& out) const {
    added_.split(
        text, [&](std::string_view piece) { encode_ordinary(piece, out); },
        [&](int32_t id) { out.push_back(id); });
  }

  /// Ids of `text` with added tokens ignored (plain BPE over the whole text).
  void encode_ordinary(std::string_view text, std::vector<int32_t>& out) const {
    if (add_prefix_space_ && !text.empty() && text.front() != ' ') {
      std::string prefixed;
      prefixed.reserve(text.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(text);
      bpe::pretokenize(prefixed, [&](std::string_view w) { model_->encode_word(w, out); });
      return;
    }
    bpe::pretokenize(text, [&](std::string_view w) { model_->encode_word(w, out); });
  }

  /// The bytes that `ids` stand for. Unknown ids throw psalm::Error. Model tokens decode to
  /// their raw bytes (so invalid UTF-8 given to encode comes back unchanged), added tokens to
  /// their content; no clean-up of spaces.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const {
    std::string out;
    out.reserve(ids.size() * 4);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const int32_t id = ids[i];
      if (const AddedToken* t = added_.token(id)) {
        if (!(skip_special_tokens && t->special)) out += t->content;
        continue;
      }
      PSALM_CHECK(model_->has_id(id), "tokenizer: decode: unknown token id ", id, " at position ",
                  i, " (vocabulary size ", vocab_size(), ")");
      out += model_->bytes(id);
    }
    return out;
  }

  /// Id of a token given in its vocabulary spelling ("Ġthe", "[SEG]", "  "), if any.
  /// Added tokens are looked up first, as Hugging Face does.
  std::optional<int32_t> find_id(std::string_view token) const {
    if (auto id = added_.find(token)) return id;
    return model_->find(token);
  }

  /// Id of a token; throws psalm::Error when there is none.
  int32_t id_of(std::string_view token) const {
    const auto id = find_id(token);
    PSALM_CHECK(id.has_value(), "tokenizer: no token '", token, "' in the vocabulary");
    return *id;
  }

  /// Vocabulary spelling of an id (byte-level form for model tokens: "Ġthe"); throws psalm::Error
  /// for an unknown id.
  const std::string& token_of(int32_t id) const {
    if (const AddedToken* t = added_.token(id)) return t->content;
    PSALM_CHECK(model_->has_id(id), "tokenizer: unknown token id ", id, " (vocabulary size ",
                vocab_size(), ")");
    return model_->spelling(id);
  }

  /// Adds a token (Hugging Face add_tokens / add_special_tokens semantics) and returns its id:
  /// an existing added token keeps its id (its flags are replaced), a token of the model
  /// vocabulary keeps the model id (and is from now on split out before BPE), a new token
  /// gets the next free id.
  int32_t add_token(const AddedToken& token) {
    PSALM_CHECK(!token.content.empty(), "tokenizer: cannot add an empty token");
    int32_t id = 0;
    if (const auto existing = find_id(token.content)) {
      id = *existing;
    } else {
      id = std::max(model_->size(), added_.max_id() + 1);
      PSALM_CHECK(id <= bpe::kMaxTokenId, "tokenizer: too many tokens");
    }
    insert_added(token, id);
    return id;
  }

  /// Adds plain (normalized, non-special) tokens; returns their ids in order.
  std::vector<int32_t> add_tokens(std::span<const std::string> contents) {
    std::vector<int32_t> ids;
    ids.reserve(contents.size());
    for (const std::string& c : contents) ids.push_back(add_token(AddedToken::plain(c)));
    return ids;
  }

  /// Number of ids: largest id + 1 (len(tokenizer) in transformers when ids are contiguous).
  int32_t vocab_size() const { return std::max(model_->size(), added_.max_id() + 1); }

  /// True when `id` is a special added token (skipped by decode(ids, true)).
  bool is_special(int32_t id) const {
    const AddedToken* t = added_.token(id);
    return t != nullptr && t->special;
  }

  const AddedVocabulary& added_tokens() const { return added_; }
  const bpe::BpeModel& model() const { return *model_; }

 private:
  void insert_added(const AddedToken& token, int32_t id) {
    if (const auto model_id = model_->find(token.content)) {
      PSALM_CHECK(*model_id == id, "tokenizer: added token '", token.content, "' has id ", id,
                  " but the vocabulary gives it id ", *model_id);
    } else {
      PSALM_CHECK(!model_->has_id(id), "tokenizer: added token '", token.content, "' has id ", id,
                  ", which the vocabulary already uses for '", model_->spelling(id), "'");
    }
    added_.insert(token, id);
  }

  std::shared_ptr<const bpe::BpeModel> model_;
  AddedVocabulary added_;
  bool add_prefix_space_ = false;
};

}  // namespace psalm::io
