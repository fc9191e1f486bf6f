// psalm/psalm/sequence.hpp — the LLM input of PSALM after its sentinels are expanded (PSALM_SPEC
// §1.6): for every position, where its embedding comes from (a word, an image token, a visual
// prompt, a mask token) and the bookkeeping the condition builders read (which class name or
// referring sentence a position belongs to), for one sample (SequenceLayout) and for a
// right-padded batch (SequenceBatch). The prompt builders (psalm/prompt.hpp) write it; the
// model (psalm/model.hpp) reads it. Depends on: tensor. Test: tests/psalm/test_sequence.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/tensor/tensor.hpp"

namespace psalm {

// Letters: L expanded sequence length (one sample), B batch, Lb the longest L of a batch.

/// Labels of positions that carry no next-token target (upstream IGNORE_INDEX).
inline constexpr std::int64_t kIgnoreIndex = -100;

/// Where the input embedding of one position comes from.
enum class TokenSource : std::uint8_t {
  word,        ///< embed_tokens[token_id] (text, class-name tokens, sentence tokens, [SEG])
  image,       ///< projector token `source_index` of the sample's image (0 .. 255)
  region,      ///< pooled visual prompt `source_index` of the sample (0 .. K-1)
  mask_token,  ///< learnable mask token `source_index` (0 .. Q-1), PSALM's `seg_query`
  padding      ///< right padding of a batch (SequenceBatch only)
};

/// One sample's expanded sequence; every vector has length L.
struct SequenceLayout {
  std::vector<std::int64_t> token_ids;     ///< word id where source == word, else 0
  std::vector<TokenSource> source;         ///< the embedding source of each position
  std::vector<std::int64_t> source_index;  ///< image / region / mask-token index, else -1
  /// 1 + the *canonical* index c of the class whose `<cls>` expansion (name tokens and [SEG])
  /// covers the position, 0 elsewhere. With shuffled class order in the prompt, positions still
  /// carry the canonical index, so pooling by this index yields classes in canonical order: the
  /// inverse permutation upstream applies after pooling (`random_idx`) is applied here.
  std::vector<std::int64_t> class_index;
  /// The positions the referring condition pools: every position of the `<refer>` expansion
  /// (sentence tokens and [SEG]) in the "mean" condition mode, only the [REF] token in the
  /// "ref_token" mode; 0 elsewhere.
  std::vector<std::uint8_t> refer_mask;
  /// Next-token targets (conversation batches), kIgnoreIndex elsewhere (always on expansions).
  std::vector<std::int64_t> labels;
  std::int64_t num_classes = 0;  ///< C: class names in the prompt ("background" included)
  std::int64_t num_regions = 0;  ///< K: `<region>` markers
  /// prompt_order[i] = canonical class index of the i-th `<cls>` in the prompt (identity
  /// unless shuffled); kept for inspection and for writing upstream-style fixtures.
  std::vector<std::int64_t> prompt_order;

  std::int64_t length() const { return static_cast<std::int64_t>(token_ids.size()); }
};

/// A batch of layouts right-padded to the longest one (upstream pads embeddings with zeros,
/// labels with IGNORE and the attention mask with 0).
struct SequenceBatch {
  Tensor<std::int64_t> token_ids;         ///< (B, Lb)
  Tensor<std::int64_t> attention_mask;    ///< (B, Lb): 1 on tokens, 0 on padding
  Tensor<std::uint8_t> source;            ///< (B, Lb): TokenSource values
  Tensor<std::int64_t> source_index;      ///< (B, Lb)
  Tensor<std::int64_t> class_index;       ///< (B, Lb)
  Tensor<std::uint8_t> refer_mask;        ///< (B, Lb)
  Tensor<std::int64_t> labels;            ///< (B, Lb)
  std::vector<std::int64_t> num_classes;  ///< per sample
  std::vector<std::int64_t> num_regions;  ///< per sample

  std::int64_t batch() const { return token_ids.defined() ? token_ids.size(0) : 0; }
  std::int64_t length() const { return token_ids.defined() ? token_ids.size(1) : 0; }
};

}  // namespace psalm
