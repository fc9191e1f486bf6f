// psalm/io/tokenizer_added_tokens.hpp — added tokens, split out of raw text before BPE.
// Holds the tokens added on top of a BPE vocabulary (special or not) and finds them in text the
// way Hugging Face `tokenizers` does: leftmost-longest matches, first the non-normalized tokens
// on the raw text, then the normalized ones on the remaining pieces; lstrip / rstrip /
// single_word honoured. Depends on: psalm/core/error.hpp, bpe_pretokenize.hpp (classes).
// Test: tests/io/test_tokenizer_added.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/bpe_pretokenize.hpp"

namespace psalm::io {

/// A token added on top of the model vocabulary. Field names and defaults follow Hugging Face's
/// `AddedToken` (`added_tokens` entries of tokenizer.json).
struct AddedToken {
  std::string content;
  bool single_word = false;  ///< match only where no word character touches either side
  bool lstrip = false;       ///< the match swallows the whitespace on its left
  bool rstrip = false;       ///< the match swallows the whitespace on its right
  bool normalized = true;    ///< matched on normalized text (second pass)
  bool special = false;      ///< skipped by decode(..., skip_special_tokens = true)

  /// A special token as `add_special_tokens` makes it (not normalized).
  static AddedToken special_token(std::string content) {
    AddedToken t;
    t.content = std::move(content);
    t.normalized = false;
    t.special = true;
    return t;
  }
  /// An ordinary added token as `add_tokens` makes it (normalized, not special).
  static AddedToken plain(std::string content) {
    AddedToken t;
    t.content = std::move(content);
    return t;
  }
};

namespace detail {

/// A byte trie answering "longest token starting here". The root is a dense table; other
/// nodes keep their few children in a small vector.
class TokenTrie {
 public:
  TokenTrie() { root_.fill(-1); }

  void insert(std::string_view text, int32_t value) {
    PSALM_CHECK(!text.empty(), "added token: empty content");
    const auto first = static_cast<unsigned char>(text[0]);
    if (root_[first] < 0) {
      root_[first] = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
    }
    int32_t node = root_[first];
    for (std::size_t i = 1; i < text.size(); ++i) {
      const auto b = static_cast<unsigned char>(text[i]);
      int32_t child = child_of(node, b);
      if (child < 0) {
        child = static_cast<int32_t>(nodes_.size());
        nodes_[node].children.emplace_back(b, child);
        nodes_.emplace_back();
      }
      node = child;
    }
    nodes_[node].value = value;
  }

  bool empty() const { return nodes_.empty(); }

  /// Longest token starting at `pos`: (value, length), or value -1 when none starts there.
  std::pair<int32_t, std::size_t> longest_at(std::string_view text, std::size_t pos) const {
    int32_t node = root_[static_cast<unsigned char>(text[pos])];
    std::pair<int32_t, std::size_t> best{-1, 0};
    std::size_t i = pos + 1;
    while (node >= 0) {
      if (nodes_[node].value >= 0) best = {nodes_[node].value, i - pos};
      if (i == text.size()) break;
      node = child_of(node, static_cast<unsigned char>(text[i]));
      ++i;
    }
    return best;
  }

  /// Leftmost-longest match at or after `from`: (value, start, length); value -1 when none.
  std::tuple<int32_t, std::size_t, std::size_t> find(std::string_view text,
                                                     std::size_t from) const {
    for (std::size_t pos = from; pos < text.size(); ++pos) {
      if (root_[static_cast<unsigned char>(text[pos])] < 0) continue;
      const auto [value, len] = longest_at(text, pos);
      if (value >= 0) return {value, pos, len};
    }
    return {-1, text.size(), 0};
  }

 private:
  struct Node {
    int32_t value = -1;
    std::vector<std::pair<unsigned char, int32_t>> children;
  };
  int32_t child_of(int32_t node, unsigned char b) const {
    for (const auto& [byte, child] : nodes_[node].children) {
      if (byte == b) return child;
    }
    return -1;
  }
  std::array<int32_t, 256> root_{};
  std::vector<Node> nodes_;
};

/// Start of the last character before `pos` (UTF-8 aware; an invalid byte is one character).
inline std::size_t previous_char_start(std::string_view text, std::size_t pos, char32_t& cp,
                                       bool& valid) {
  std::size_t k = pos - 1;
  while (k > 0 && pos - k < 4 && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const int n = bpe::decode_utf8(p + k, p + pos, cp);
  valid = n > 0 && k + std::size_t(n) == pos;
  return valid ? k : pos - 1;
}

/// Rust regex `\w`: alphabetic, marks, decimal digits, connector punctuation, joiners.
/// Approximated with general categories (L*, M*, Nd, Nl, Pc, U+200C/U+200D and the
/// letter-like symbols U+24B6-24E9, U+1F130-1F189 that Unicode calls alphabetic).
inline bool is_word_char(char32_t cp) {
  if (cp == 0x200C || cp == 0x200D || (cp >= 0x24B6 && cp <= 0x24E9) ||
      (cp >= 0x1F130 && cp <= 0x1F189)) {
    return true;
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

inline bool is_space_char(char32_t cp) { return bpe::classify(cp) == bpe::CharClass::space; }

}  // namespace detail

/// The added tokens of a tokenizer and the splitting of text around them.
class AddedVocabulary {
 public:
  /// Registers `token` under `id` (the caller picks the id). Re-adding a content keeps its id
  /// and takes the new flags. Throws when `id` already belongs to another added token.
  void insert(const AddedToken& token, int32_t id) {
    PSALM_CHECK(!token.content.empty(), "added token: empty content (id ", id, ")");
    PSALM_CHECK(id >= 0, "added token '", token.content, "': negative id ", id);
    if (const auto it = by_content_.find(token.content); it != by_content_.end()) {
      PSALM_CHECK(it->second == id, "added token '", token.content, "' already has id ", it->second,
                  ", not ", id);
      tokens_[index_of(id)] = token;
    } else {
      PSALM_CHECK(!by_id_.contains(id), "added token '", token.content, "': id ", id,
                  " already belongs to '", tokens_[index_of(id)].content, "'");
      by_content_.emplace(token.content, id);
      by_id_.emplace(id, static_cast<int32_t>(tokens_.size()));
      tokens_.push_back(token);
      ids_.push_back(id);
    }
    rebuild();
  }

  std::optional<int32_t> find(std::string_view content) const {
    const auto it = by_content_.find(std::string(content));
    if (it == by_content_.end()) return std::nullopt;
    return it->second;
  }
  const AddedToken* token(int32_t id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &tokens_[it->second];
  }
  /// Largest added id, or -1 when there are none.
  int32_t max_id() const {
    int32_t m = -1;
    for (const int32_t id : ids_) m = std::max(m, id);
    return m;
  }
  std::size_t size() const { return tokens_.size(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const std::vector<int32_t>& ids() const { return ids_; }

  /// Splits `text`: calls `on_text(std::string_view)` for the stretches between added tokens
  /// (never empty) and `on_token(int32_t id)` for each added token found, in order.
  template <class OnText, class OnToken>
  void split(std::string_view text, OnText&& on_text, OnToken&& on_token) const {
    if (raw_trie_.empty() && normalized_trie_.empty()) {
      if (!text.empty()) on_text(text);
      return;
    }
    split_with(
        raw_trie_, text,
        [&](std::string_view piece) { split_with(normalized_trie_, piece, on_text, on_token); },
        on_token);
  }

 private:
  int32_t index_of(int32_t id) const { return by_id_.at(id); }

  void rebuild() {
    raw_trie_ = detail::TokenTrie();
    normalized_trie_ = detail::TokenTrie();
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
      (tokens_[i].normalized ? normalized_trie_ : raw_trie_)
          .insert(tokens_[i].content, static_cast<int32_t>(i));
    }
  }

  // One pass of Hugging Face's find_matches over `sentence` with one trie.
  // ref: huggingface/tokenizers tokenizers/src/tokenizer/added_vocabulary.rs (find_matches).
  // Difference: after an rstrip match the next search starts after the swallowed whitespace,
  // so pieces never overlap (HF can emit overlapping pieces in that corner case).
  template <class OnText, class OnToken>
  void split_with(const detail::TokenTrie& trie, std::string_view sentence, OnText&& on_text,
                  OnToken&& on_token) const {
    if (trie.empty()) {
      if (!sentence.empty()) on_text(sentence);
      return;
    }
    std::size_t start_offset = 0;  // end of the last emitted token
    std::size_t search = 0;
    const auto* bytes = reinterpret_cast<const unsigned char*>(sentence.data());
    const auto* end = bytes + sentence.size();
    while (search < sentence.size()) {
      auto [index, start, len] = trie.find(sentence, search);
      if (index < 0) break;
      std::size_t stop = start + len;
      search = stop;
      const AddedToken& tok = tokens_[index];
      if (tok.single_word) {
        bool word_before = false;
        bool word_after = false;
        if (start > 0) {
          char32_t cp = 0;
          bool valid = false;
          detail::previous_char_start(sentence, start, cp, valid);
          word_before = valid && detail::is_word_char(cp);
        }
        if (stop < sentence.size()) {
          char32_t cp = 0;
          word_after = bpe::decode_utf8(bytes + stop, end, cp) > 0 && detail::is_word_char(cp);
        }
        if (word_before || word_after) continue;
      }
      if (tok.lstrip) {
        std::size_t k = start;
        while (k > start_offset) {
          char32_t cp = 0;
          bool valid = false;
          const std::size_t prev = detail::previous_char_start(sentence, k, cp, valid);
          if (!valid || !detail::is_space_char(cp) || prev < start_offset) break;
          k = prev;
        }
        start = k;
      }
      if (tok.rstrip) {
        while (stop < sentence.size()) {
          char32_t cp = 0;
          const int n = bpe::decode_utf8(bytes + stop, end, cp);
          if (n == 0 || !detail::is_space_char(cp)) break;
          stop += std::size_t(n);
        }
        search = stop;
      }
      if (start_offset < start) on_text(sentence.substr(start_offset, start - start_offset));
      on_token(ids_[index]);
      start_offset = stop;
    }
    if (start_offset < sentence.size()) on_text(sentence.substr(start_offset));
  }

  std::vector<AddedToken> tokens_;
  std::vector<int32_t> ids_;
  std::unordered_map<std::string, int32_t> by_content_;
  std::unordered_map<int32_t, int32_t> by_id_;  // id -> index into tokens_
  detail::TokenTrie raw_trie_;
  detail::TokenTrie normalized_trie_;
};

}  // namespace psalm::io
