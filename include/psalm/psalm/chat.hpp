// psalm/psalm/chat.hpp — text answers about an image, as LLaVA gives them, with masks when the
// answer says [SEG]: the options and the reply of Segmenter::chat, and the generation loop it
// runs (the prompt after a cached prefix, then one token per step with Phi's key/value cache;
// greedy or sampled by models/phi/generate.hpp's rule; every generated [SEG] drives the mask
// decoder, PsalmModel::seg_token_prediction, and gives one mask at the original image size).
// Host code: tokens are picked and masks post-processed on the CPU.
// Depends on: psalm/{model, sequence_batch, special_tokens, inference/task_inference},
// models/phi/{generate, kv_cache}, io/tokenizer. Test: tests/psalm/test_chat.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/core/error.hpp"
#include "psalm/core/rng.hpp"
#include "psalm/io/tokenizer.hpp"
#include "psalm/models/phi/generate.hpp"
#include "psalm/models/phi/kv_cache.hpp"
#include "psalm/psalm/conversation.hpp"
#include "psalm/psalm/inference/task_inference.hpp"
#include "psalm/psalm/model.hpp"
#include "psalm/psalm/sequence_batch.hpp"
#include "psalm/psalm/special_tokens.hpp"

namespace psalm {

// Letters: H0 W0 original image, L prompt positions, Q mask tokens, D LLM width, V vocabulary.

/// How a reply is generated. Greedy unless temperature > 0; top_k / top_p restrict sampling
/// (models::phi::sampling_distribution, transformers' warpers); the seed makes sampling
/// reproducible.
struct ChatOptions {
  std::int64_t max_new_tokens = 128;
  double temperature = 0.0;
  std::int64_t top_k = 0;  ///< 0: no limit
  double top_p = 1.0;
  std::uint64_t seed = 0;

  /// The same choice as models::phi::generate makes, stopping at `eos`.
  models::phi::GenerateOptions generate_options(std::int64_t eos) const {
    return {.max_new_tokens = max_new_tokens,
            .temperature = temperature,
            .top_k = top_k,
            .top_p = top_p,
            .seed = seed,
            .eos_token_id = eos};
  }
};

/// The mask a [SEG] of the reply stands for.
struct ChatMask {
  Tensor<std::uint8_t> mask;  ///< (H0, W0) 0 / 1
  float score = 0.0f;         ///< the referring rule's score of the chosen query
  std::int64_t query = -1;    ///< the mask token that produced it
  std::int64_t token = -1;    ///< the index of its [SEG] in ChatReply::tokens
};

struct ChatReply {
  std::string text;                  ///< the decoded reply, surrounding whitespace stripped
  std::vector<std::int64_t> tokens;  ///< the generated ids, <|endoftext|> left out
  bool stopped = false;         ///< true: ended at <|endoftext|>; false: max_new_tokens reached
  std::vector<ChatMask> masks;  ///< one per [SEG] in `tokens`, in order
};

/// Refuses a question the chat template cannot hold: empty, or with a task marker (the
/// template places the image itself; <seg> would splice mask tokens into the question).
inline void check_chat_question(const std::string& text) {
  PSALM_CHECK(text.find_first_not_of(" \t\r\n") != std::string::npos,
              "chat: the question is empty");
  for (const Marker m : kAllMarkers)
    PSALM_CHECK(text.find(marker_text(m)) == std::string::npos, "chat: the question contains ",
                marker_text(m),
                "; markers are not allowed in a chat question (the image is placed by the "
                "conversation template)");
}

namespace detail {

/// A layout of `ids` as plain words, or (ids empty) of the Q mask tokens.
inline SequenceLayout chat_step_layout(std::span<const std::int64_t> ids, std::int64_t q) {
  SequenceLayout l;
  const auto n = ids.empty() ? q : static_cast<std::int64_t>(ids.size());
  for (std::int64_t i = 0; i < n; ++i) {
    l.token_ids.push_back(ids.empty() ? 0 : ids[static_cast<std::size_t>(i)]);
    l.source.push_back(ids.empty() ? TokenSource::mask_token : TokenSource::word);
    l.source_index.push_back(ids.empty() ? i : -1);
    l.class_index.push_back(0);
    l.refer_mask.push_back(0);
    l.labels.push_back(kIgnoreIndex);
  }
  return l;
}

/// The positions [from, L) of `layout` as a batch of one.
inline SequenceBatch chat_positions(const SequenceLayout& layout, std::int64_t from) {
  const SequenceBatch all = batch_sequences(std::span<const SequenceLayout>(&layout, 1));
  return from == 0 ? all : narrow_sequences(all, from, layout.length() - from);
}

}  // namespace detail

/// Positions a chat on a prompt of `prompt_length` needs in the key/value cache.
inline std::int64_t chat_cache_capacity(const PsalmConfig& config, std::int64_t prompt_length,
                                        const ChatOptions& options) {
  // The prompt, every generated token, and the Q mask tokens a [SEG] runs on a branch.
  return prompt_length + options.max_new_tokens + config.num_mask_tokens + 1;
}

/// Generates the reply to `prompt` (a conversation layout with its turn left open, image tokens
/// from `image`) whose first `cached` positions `cache` already holds; the cache must have
/// chat_cache_capacity positions. Picks each token from the logits of the tokenizer's ids (a
/// larger embedding's spare rows are never chosen); stops at <|endoftext|> or max_new_tokens.
/// Every [SEG] is run through Phi, then the Q mask tokens after it on a branch of the cache
/// (rewound afterwards, so the text goes on from the [SEG]); the mask decoder reads both and
/// the referring rule picks one mask at the size of `geometry`. The cache is left longer.
inline ChatReply generate_chat_reply(PsalmModel<float>& model,
                                     const PsalmImageFeatures<float>& image,
                                     const ImageGeometry& geometry, const SequenceLayout& prompt,
                                     std::int64_t cached, models::phi::PhiKvCache<float>& cache,
                                     const io::Tokenizer& tokenizer, const ChatOptions& options) {
  const autograd::NoGrad no_grad;
  const std::int64_t eos = io::PsalmTokenIds::endoftext;
  const models::phi::GenerateOptions opt = options.generate_options(eos);
  models::phi::check_generate_options(opt);
  const PsalmConfig& config = model.config();
  PSALM_CHECK(cached >= 0 && cached < prompt.length() && cache.length() == cached,
              "chat: the cache holds ", cache.length(), " positions, expected ", cached,
              " of a prompt of ", prompt.length());
  PSALM_CHECK(cache.capacity() >= chat_cache_capacity(config, prompt.length(), options),
              "chat: the cache has room for ", cache.capacity(), " positions, the chat needs ",
              chat_cache_capacity(config, prompt.length(), options));
  const std::int64_t v = std::min<std::int64_t>(config.phi.vocab_size, tokenizer.vocab_size());
  const std::int64_t seg = config.seg_token_id, q = config.num_mask_tokens;
  const CounterRng rng{opt.seed, 0};

  ChatReply out;
  // The prompt after the cached prefix; the last position's hidden state gives the first token.
  Var<float> hidden =
      model.language_hidden(image, detail::chat_positions(prompt, cached), cache);  // (1, L', D)
  for (std::int64_t n = 0; n < opt.max_new_tokens; ++n) {
    const Var<float> last(hidden.value().narrow(1, hidden.size(1) - 1, 1));  // (1, 1, D)
    const std::vector<float> logits =
        model.language_head(last).value().contiguous().to_vector();  // (V)
    const std::int64_t token =
        models::phi::pick_token(std::span<const float>(logits.data(), static_cast<std::size_t>(v)),
                                opt, rng.uniform_double(static_cast<std::uint64_t>(n)));
    if (token == eos) {
      out.stopped = true;
      break;
    }
    out.tokens.push_back(token);
    // The last token needs a forward only when it is a [SEG] (its mask reads its hidden state).
    if (token != seg && n + 1 == opt.max_new_tokens) break;
    hidden = model.language_hidden(
        image, detail::chat_positions(detail::chat_step_layout({&token, 1}, q), 0),
        cache);  // (1, 1, D)
    if (token == seg) {
      const std::int64_t before = cache.length();
      const Var<float> masks = model.language_hidden(
          image, detail::chat_positions(detail::chat_step_layout({}, q), 0), cache);  // (1, Q, D)
      cache.rewind(before);
      const SampleOutputs s = sample_outputs(model.seg_token_prediction(image, hidden, masks), 0);
      const MaskPrediction p = task_inference(Task::referring, s, geometry).referring;
      out.masks.push_back(
          {p.mask, p.score, p.query, static_cast<std::int64_t>(out.tokens.size()) - 1});
    }
  }
  std::vector<std::int32_t> ids(out.tokens.begin(), out.tokens.end());
  out.text = detail::py_strip(tokenizer.decode(ids));
  return out;
}

}  // namespace psalm
