// psalm/psalm/sequence_batch.hpp — a batch of SequenceLayouts right-padded to the longest one
// (upstream prepare_inputs_labels_for_multimodal: embeddings padded with zeros, labels with
// IGNORE, the attention mask with 0). Padding positions get source `padding`, token id 0,
// source_index -1. Host code (CPU tensors, no executor). Depends on: psalm/sequence, tensor/host.
// Test: tests/psalm/test_sequence.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include "psalm/core/error.hpp"
#include "psalm/psalm/sequence.hpp"
#include "psalm/tensor/host.hpp"

namespace psalm {

// Letters: B batch, Lb the longest layout, n narrowed positions.

/// Checks that every per-position vector of `layout` has the same length.
inline void validate_layout(const SequenceLayout& layout, std::size_t index) {
  const std::size_t n = layout.token_ids.size();
  PSALM_CHECK(layout.source.size() == n && layout.source_index.size() == n &&
                  layout.class_index.size() == n && layout.refer_mask.size() == n &&
                  layout.labels.size() == n,
              "batch_sequences: layout ", index, " has vectors of different lengths (", n,
              " token ids, ", layout.source.size(), " sources, ", layout.source_index.size(),
              " source indices, ", layout.class_index.size(), " class indices, ",
              layout.refer_mask.size(), " refer flags, ", layout.labels.size(), " labels)");
  PSALM_CHECK(n > 0, "batch_sequences: layout ", index, " is empty");
  for (std::size_t i = 0; i < n; ++i)
    PSALM_CHECK(layout.source[i] != TokenSource::padding, "batch_sequences: layout ", index,
                " has a padding position at ", i, " (layouts hold one sample, unpadded)");
}

/// The right-padded batch of `layouts` (B >= 1, every layout non-empty).
inline SequenceBatch batch_sequences(std::span<const SequenceLayout> layouts) {
  PSALM_CHECK(!layouts.empty(), "batch_sequences: no layouts");
  std::int64_t longest = 0;
  for (std::size_t b = 0; b < layouts.size(); ++b) {
    validate_layout(layouts[b], b);
    longest = std::max(longest, layouts[b].length());
  }
  const auto batch = static_cast<std::int64_t>(layouts.size());
  const Shape shape{batch, longest};
  SequenceBatch out;
  out.token_ids = host_full<std::int64_t>(shape, 0);                               // (B, Lb)
  out.attention_mask = host_full<std::int64_t>(shape, 0);                          // (B, Lb)
  out.source = host_full(shape, static_cast<std::uint8_t>(TokenSource::padding));  // (B, Lb)
  out.source_index = host_full<std::int64_t>(shape, -1);                           // (B, Lb)
  out.class_index = host_full<std::int64_t>(shape, 0);                             // (B, Lb)
  out.refer_mask = host_full<std::uint8_t>(shape, 0);                              // (B, Lb)
  out.labels = host_full<std::int64_t>(shape, kIgnoreIndex);                       // (B, Lb)
  for (std::int64_t b = 0; b < batch; ++b) {
    const SequenceLayout& l = layouts[static_cast<std::size_t>(b)];
    const std::int64_t row = b * longest;
    for (std::int64_t i = 0; i < l.length(); ++i) {
      const auto u = static_cast<std::size_t>(i);
      out.token_ids.data()[row + i] = l.token_ids[u];
      out.attention_mask.data()[row + i] = 1;
      out.source.data()[row + i] = static_cast<std::uint8_t>(l.source[u]);
      out.source_index.data()[row + i] = l.source_index[u];
      out.class_index.data()[row + i] = l.class_index[u];
      out.refer_mask.data()[row + i] = l.refer_mask[u];
      out.labels.data()[row + i] = l.labels[u];
    }
    out.num_classes.push_back(l.num_classes);
    out.num_regions.push_back(l.num_regions);
  }
  return out;
}

/// Positions [start, start + length) of every sample of `seq` (copies; counts kept): the part
/// of a batch that runs through the LLM after a cached prefix (PsalmModel::decode).
inline SequenceBatch narrow_sequences(const SequenceBatch& seq, std::int64_t start,
                                      std::int64_t length) {
  PSALM_CHECK(start >= 0 && length >= 1 && start + length <= seq.length(),
              "narrow_sequences: positions [", start, ", ", start + length,
              ") do not fit sequences of ", seq.length());
  SequenceBatch out;
  out.token_ids = host_contiguous(seq.token_ids.narrow(1, start, length));            // (B, n)
  out.attention_mask = host_contiguous(seq.attention_mask.narrow(1, start, length));  // (B, n)
  out.source = host_contiguous(seq.source.narrow(1, start, length));                  // (B, n)
  out.source_index = host_contiguous(seq.source_index.narrow(1, start, length));      // (B, n)
  out.class_index = host_contiguous(seq.class_index.narrow(1, start, length));        // (B, n)
  out.refer_mask = host_contiguous(seq.refer_mask.narrow(1, start, length));          // (B, n)
  out.labels = host_contiguous(seq.labels.narrow(1, start, length));                  // (B, n)
  out.num_classes = seq.num_classes;
  out.num_regions = seq.num_regions;
  return out;
}

}  // namespace psalm
