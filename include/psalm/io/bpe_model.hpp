// psalm/io/bpe_model.hpp — byte-level BPE: a vocabulary, ranked merges and a word cache.
// Turns one pre-token (raw bytes) into vocabulary ids by applying merges lowest rank first,
// leftmost first among equal ranks, as Hugging Face `tokenizers` does. The cache is shared and
// thread-safe (a shared mutex). Depends on: psalm/core/error.hpp, bpe_byte_map.hpp.
// Test: tests/io/test_tokenizer_bpe.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <queue>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/bpe_byte_map.hpp"

namespace psalm::io::bpe {

/// Largest token id accepted from a file (bounds the id tables a hostile file can ask for).
inline constexpr int32_t kMaxTokenId = (1 << 24) - 1;

/// Open-addressing map from a pair of ids to (rank, merged id).
class MergeTable {
 public:
  struct Value {
    int32_t rank;
    int32_t id;
  };

  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    keys_.assign(cap, kEmpty);
    values_.assign(cap, Value{0, 0});
    mask_ = cap - 1;
    size_ = 0;
  }

  /// Inserts (a, b) -> value unless the pair is present; returns false when it was.
  bool insert(int32_t a, int32_t b, Value v) {
    if (2 * (size_ + 1) > keys_.size()) grow();
    const uint64_t key = pack(a, b);
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return false;
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        values_[i] = v;
        ++size_;
        return true;
      }
    }
  }

  const Value* find(int32_t a, int32_t b) const {
    if (keys_.empty()) return nullptr;
    const uint64_t key = pack(a, b);
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

  std::size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pack(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint64_t(uint32_t(b));
  }
  std::size_t slot(uint64_t key) const {
    key ^= key >> 29;
    key *= 0xBF58476D1CE4E5B9ull;
    key ^= key >> 32;
    return static_cast<std::size_t>(key) & mask_;
  }
  void grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<Value> old_values = std::move(values_);
    reserve(std::max<std::size_t>(8, old_keys.size()));
    for (std::size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != kEmpty) {
        insert(int32_t(old_keys[i] >> 32), int32_t(old_keys[i] & 0xFFFFFFFFu), old_values[i]);
      }
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<Value> values_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

/// Options of the BPE model that matter for GPT-2-style vocabularies.
struct BpeOptions {
  std::optional<std::string> unk_token;  ///< spelling of the unknown token; none for GPT-2
  bool fuse_unk = false;                 ///< merge consecutive unknowns into one
  bool ignore_merges = false;            ///< a pre-token found whole in the vocab is one token
  std::size_t cache_capacity = 100000;   ///< words cached; 0 disables the cache
  std::size_t max_cached_word_bytes = 256;
};

/// Vocabulary (spelled form -> id), merges and the byte -> initial id table.
class BpeModel {
 public:
  /// `vocab`: spelled token -> id; `merges`: pairs of spelled tokens, highest priority first.
  /// Throws psalm::Error when a merge names a token (or produces one) outside the vocabulary.
  BpeModel(std::unordered_map<std::string, int32_t> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options = {})
      : vocab_(std::move(vocab)), options_(std::move(options)) {
    const ByteMap& bytes = ByteMap::instance();
    int32_t max_id = -1;
    for (const auto& [token, id] : vocab_) {
      PSALM_CHECK(id >= 0 && id <= kMaxTokenId, "bpe vocabulary: id ", id, " of token '", token,
                  "' is outside [0, ", kMaxTokenId, "]");
      max_id = std::max(max_id, id);
    }
    id_to_token_.assign(std::size_t(max_id + 1), std::string());
    id_present_.assign(std::size_t(max_id + 1), false);
    id_to_bytes_.assign(std::size_t(max_id + 1), std::string());
    for (const auto& [token, id] : vocab_) {
      PSALM_CHECK(!id_present_[id], "bpe vocabulary: id ", id, " is used by two tokens ('",
                  id_to_token_[id], "' and '", token, "')");
      id_present_[id] = true;
      id_to_token_[id] = token;
      // Tokens spelled outside the byte alphabet decode to their own UTF-8 text, as the
      // Hugging Face ByteLevel decoder does.
      id_to_bytes_[id] = bytes.decode(token).value_or(token);
    }
    for (int b = 0; b < 256; ++b) {
      const auto it = vocab_.find(bytes.spelling(static_cast<unsigned char>(b)));
      byte_to_id_[b] = it == vocab_.end() ? -1 : it->second;
    }
    if (options_.unk_token) {
      const auto it = vocab_.find(*options_.unk_token);
      PSALM_CHECK(it != vocab_.end(), "bpe: unk_token '", *options_.unk_token,
                  "' is not in the vocabulary");
      unk_id_ = it->second;
    }
    merges_.reserve(merges.size());
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const auto& [a, b] = merges[rank];
      const auto ia = vocab_.find(a);
      const auto ib = vocab_.find(b);
      PSALM_CHECK(ia != vocab_.end() && ib != vocab_.end(), "bpe merges: line ", rank + 1, " ('", a,
                  " ", b, "') names a token that is not in the vocabulary");
      const auto im = vocab_.find(a + b);
      PSALM_CHECK(im != vocab_.end(), "bpe merges: line ", rank + 1, " ('", a, " ", b,
                  "') produces '", a + b, "', which is not in the vocabulary");
      // A repeated pair keeps its first (best) rank, as a dictionary built in order would.
      merges_.insert(ia->second, ib->second,
                     MergeTable::Value{static_cast<int32_t>(rank), im->second});
    }
  }

  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  /// Appends the ids of one pre-token (raw bytes) to `out`, using the cache.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const {
    const bool cacheable =
        options_.cache_capacity > 0 && word.size() <= options_.max_cached_word_bytes;
    if (cacheable) {
      std::shared_lock lock(cache_mutex_);
      const auto it = cache_.find(word);
      if (it != cache_.end()) {
        out.insert(out.end(), cache_ids_.begin() + it->second.first,
                   cache_ids_.begin() + it->second.first + it->second.second);
        return;
      }
    }
    const std::size_t first = out.size();
    merge_word(word, out);
    if (cacheable) {
      std::unique_lock lock(cache_mutex_);
      if (cache_.size() < options_.cache_capacity && !cache_.contains(word)) {
        const auto offset = static_cast<uint32_t>(cache_ids_.size());
        cache_ids_.insert(cache_ids_.end(), out.begin() + std::ptrdiff_t(first), out.end());
        cache_.emplace(std::string(word),
                       std::pair<uint32_t, uint32_t>{offset, uint32_t(out.size() - first)});
      }
    }
  }

  /// Appends the ids of one pre-token to `out` without the cache.
  void merge_word(std::string_view word, std::vector<int32_t>& out) const {
    if (options_.ignore_merges) {
      const auto it = vocab_.find(ByteMap::instance().encode(word));
      if (it != vocab_.end()) {
        out.push_back(it->second);
        return;
      }
    }
    if (word.size() <= kShortWord) {
      merge_short(word, out);
    } else {
      merge_long(word, out);
    }
  }

  /// Quadratic merge loop over a small array: fastest for ordinary words.
  void merge_short(std::string_view word, std::vector<int32_t>& out) const {
    int32_t ids[kShortWord];
    int32_t ranks[kShortWord];  // ranks[k]: rank of the pair (ids[k], ids[k+1])
    int32_t merged[kShortWord];
    int n = initial_ids(word, ids);
    auto lookup = [&](int k) {
      const MergeTable::Value* v = merges_.find(ids[k], ids[k + 1]);
      ranks[k] = v ? v->rank : kNoRank;
      merged[k] = v ? v->id : -1;
    };
    for (int k = 0; k + 1 < n; ++k) lookup(k);
    while (n > 1) {
      int best = -1;
      int32_t best_rank = kNoRank;
      for (int k = 0; k + 1 < n; ++k) {
        if (ranks[k] < best_rank) {
          best_rank = ranks[k];
          best = k;
        }
      }
      if (best < 0) break;
      ids[best] = merged[best];
      for (int k = best + 1; k + 1 < n; ++k) {
        ids[k] = ids[k + 1];
        ranks[k] = ranks[k + 1];
        merged[k] = merged[k + 1];
      }
      --n;
      if (best > 0) lookup(best - 1);
      if (best + 1 < n) lookup(best);
    }
    out.insert(out.end(), ids, ids + n);
  }

  /// Priority-queue merge loop (n log n): used for long pre-tokens, e.g. a megabyte of letters.
  void merge_long(std::string_view word, std::vector<int32_t>& out) const {
    struct Symbol {
      int32_t id;
      int32_t prev;
      int32_t next;
      bool alive;
    };
    struct Candidate {
      int32_t rank;
      int32_t pos;
      int32_t id;
      bool operator>(const Candidate& o) const {
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    std::vector<int32_t> initial(word.size());
    const int n = initial_ids(word, initial.data());
    std::vector<Symbol> sym(static_cast<std::size_t>(n));
    for (int k = 0; k < n; ++k) sym[k] = Symbol{initial[k], k - 1, k + 1 < n ? k + 1 : -1, true};
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto push_pair = [&](int32_t left) {
      const int32_t right = sym[left].next;
      if (right < 0) return;
      if (const MergeTable::Value* v = merges_.find(sym[left].id, sym[right].id)) {
        queue.push(Candidate{v->rank, left, v->id});
      }
    };
    for (int k = 0; k + 1 < n; ++k) push_pair(k);
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      Symbol& left = sym[top.pos];
      if (!left.alive || left.next < 0) continue;
      Symbol& right = sym[left.next];
      const MergeTable::Value* v = merges_.find(left.id, right.id);
      if (!v || v->id != top.id || v->rank != top.rank) continue;  // stale entry
      left.id = top.id;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) sym[right.next].prev = top.pos;
      if (left.prev >= 0) push_pair(left.prev);
      push_pair(top.pos);
    }
    for (int k = 0; k >= 0 && k < n; k = sym[k].next) out.push_back(sym[k].id);
  }

  /// Spelled token -> id (model vocabulary only).
  std::optional<int32_t> find(std::string_view token) const {
    const auto it = vocab_.find(std::string(token));
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }
  bool has_id(int32_t id) const {
    return id >= 0 && std::size_t(id) < id_present_.size() && id_present_[id];
  }
  /// Spelled form of a model id (`has_id(id)` must hold).
  const std::string& spelling(int32_t id) const { return id_to_token_[id]; }
  /// Raw bytes of a model id (`has_id(id)` must hold).
  const std::string& bytes(int32_t id) const { return id_to_bytes_[id]; }
  /// Number of model ids (largest id + 1).
  int32_t size() const { return static_cast<int32_t>(id_to_token_.size()); }
  std::size_t merge_count() const { return merges_.size(); }
  const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }
  std::size_t cached_words() const {
    std::shared_lock lock(cache_mutex_);
    return cache_.size();
  }

  static constexpr std::size_t kShortWord = 64;

 private:
  static constexpr int32_t kNoRank = std::numeric_limits<int32_t>::max();

  // Writes the initial symbol ids of `word` (one per byte; unknown bytes become the unk id,
  // fused if asked, or are dropped when there is no unk token) and returns their count.
  int initial_ids(std::string_view word, int32_t* ids) const {
    int n = 0;
    for (const char c : word) {
      const int32_t id = byte_to_id_[static_cast<unsigned char>(c)];
      if (id >= 0) {
        ids[n++] = id;
      } else if (unk_id_ >= 0) {
        if (!(options_.fuse_unk && n > 0 && ids[n - 1] == unk_id_)) ids[n++] = unk_id_;
      }
    }
    return n;
  }

  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a
      for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
      return static_cast<std::size_t>(h ^ (h >> 32));
    }
  };

  std::unordered_map<std::string, int32_t> vocab_;
  BpeOptions options_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> id_present_;
  std::vector<std::string> id_to_bytes_;
  std::array<int32_t, 256> byte_to_id_{};
  int32_t unk_id_ = -1;
  MergeTable merges_;

  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StringHash,
                             std::equal_to<>>
      cache_;
  mutable std::vector<int32_t> cache_ids_;
};

}  // namespace psalm::io::bpe
