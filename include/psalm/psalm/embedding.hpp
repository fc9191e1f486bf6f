// psalm/psalm/embedding.hpp — the LLM's input embeddings of a batch (PSALM_SPEC §1.6,
// upstream's concat_image_seg_cls_embeds): every position takes its vector from the source
// its SequenceBatch entry names — a word embedding, an image token, a pooled visual prompt, a
// learnable mask token — and padding is zero. One differentiable row gather over the stacked
// sources, so gradients reach every source (word embeddings, projector, region pooling, mask
// tokens). Depends on: psalm/sequence, autograd ops. Test: tests/psalm/test_model.cpp (PyTorch
// parity).
#pragma once

#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/index_select.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/core/error.hpp"
#include "psalm/psalm/sequence.hpp"

namespace psalm {

// Letters: B batch, L padded sequence length, D LLM width, N image tokens per image,
// Q mask tokens, K_b visual prompts of sample b.

/// The sources of one batch's input embeddings.
template <autograd::Real T, Device Dev>
struct EmbeddingSources {
  autograd::Var<T, Dev> words;         ///< (B, L, D): embed_tokens at every position's token id
  autograd::Var<T, Dev> image_tokens;  ///< (B, N, D), or undefined when no position is an image
  std::vector<autograd::Var<T, Dev>> regions;  ///< per sample (K_b, D); empty when none
  autograd::Var<T, Dev> mask_tokens;           ///< (Q, D), PSALM's seg_query
};

/// (B, L, D) input embeddings: position (b, p) takes the row its source names.
template <autograd::Real T, Device Dev>
autograd::Var<T, Dev> splice_embeddings(const EmbeddingSources<T, Dev>& in,
                                        const SequenceBatch& seq) {
  const std::int64_t b = seq.batch(), l = seq.length();
  PSALM_CHECK(in.words.rank() == 3 && in.words.size(0) == b && in.words.size(1) == l,
              "splice_embeddings: word embeddings must be (", b, ", ", l, ", D), got ",
              in.words.shape());
  const std::int64_t d = in.words.size(2);
  // The stacked table: words, image tokens, mask tokens, regions, one zero row for padding.
  std::vector<autograd::Var<T, Dev>> parts{autograd::reshape(in.words, {b * l, d})};  // (B L, D)
  std::int64_t rows = b * l;
  std::int64_t image_base = -1, n_image = 0;
  if (in.image_tokens.defined()) {
    PSALM_CHECK(
        in.image_tokens.rank() == 3 && in.image_tokens.size(0) == b && in.image_tokens.size(2) == d,
        "splice_embeddings: image tokens must be (", b, ", N, ", d, "), got ",
        in.image_tokens.shape());
    n_image = in.image_tokens.size(1);
    image_base = rows;
    parts.push_back(autograd::reshape(in.image_tokens, {b * n_image, d}));  // (B N, D)
    rows += b * n_image;
  }
  std::int64_t mask_base = -1, n_mask = 0;
  if (in.mask_tokens.defined()) {
    PSALM_CHECK(in.mask_tokens.rank() == 2 && in.mask_tokens.size(1) == d,
                "splice_embeddings: mask tokens must be (Q, ", d, "), got ",
                in.mask_tokens.shape());
    n_mask = in.mask_tokens.size(0);
    mask_base = rows;
    parts.push_back(in.mask_tokens);  // (Q, D)
    rows += n_mask;
  }
  std::vector<std::int64_t> region_base(static_cast<std::size_t>(b), -1),
      n_region(static_cast<std::size_t>(b), 0);
  PSALM_CHECK(in.regions.empty() || static_cast<std::int64_t>(in.regions.size()) == b,
              "splice_embeddings: region vectors for ", in.regions.size(),
              " samples in a batch of ", b);
  for (std::size_t s = 0; s < in.regions.size(); ++s) {
    const autograd::Var<T, Dev>& r = in.regions[s];
    if (!r.defined() || r.size(0) == 0) continue;
    PSALM_CHECK(r.rank() == 2 && r.size(1) == d, "splice_embeddings: region vectors of sample ", s,
                " must be (K, ", d, "), got ", r.shape());
    region_base[s] = rows;
    n_region[s] = r.size(0);
    parts.push_back(r);  // (K_b, D)
    rows += r.size(0);
  }
  const std::int64_t zero_row = rows;
  parts.emplace_back(Tensor<T, Dev>::zeros(Shape{1, d}));  // (1, D) padding

  const Tensor<std::uint8_t> source = seq.source.contiguous();
  const Tensor<std::int64_t> source_index = seq.source_index.contiguous();
  std::vector<std::int64_t> pick(static_cast<std::size_t>(b * l));
  for (std::int64_t i = 0; i < b * l; ++i) {
    const std::int64_t s = i / l, k = source_index.data()[i];
    const auto kind = static_cast<TokenSource>(source.data()[i]);
    auto check = [&](bool ok, const char* what, std::int64_t count) {
      PSALM_CHECK(ok, "splice_embeddings: sample ", s, " position ", i % l, " asks for ", what, " ",
                  k, " but ", count, " are available");
    };
    switch (kind) {
      case TokenSource::word:
        pick[static_cast<std::size_t>(i)] = i;
        break;
      case TokenSource::image:
        check(k >= 0 && k < n_image, "image token", n_image);
        pick[static_cast<std::size_t>(i)] = image_base + s * n_image + k;
        break;
      case TokenSource::mask_token:
        check(k >= 0 && k < n_mask, "mask token", n_mask);
        pick[static_cast<std::size_t>(i)] = mask_base + k;
        break;
      case TokenSource::region:
        check(k >= 0 && k < n_region[static_cast<std::size_t>(s)], "visual prompt",
              n_region[static_cast<std::size_t>(s)]);
        pick[static_cast<std::size_t>(i)] = region_base[static_cast<std::size_t>(s)] + k;
        break;
      case TokenSource::padding:
        pick[static_cast<std::size_t>(i)] = zero_row;
        break;
      default:
        fail("splice_embeddings: unknown token source ", static_cast<int>(kind));
    }
  }
  const autograd::Var<T, Dev> table = autograd::concat(parts, 0);  // (rows + 1, D)
  const Tensor<std::int64_t> index = Tensor<std::int64_t>::from_data(pick, Shape{b * l});  // (B L)
  return autograd::reshape(autograd::index_select(table, 0, index.template to<Dev>()),
                           {b, l, d});  // (B, L, D)
}

}  // namespace psalm
