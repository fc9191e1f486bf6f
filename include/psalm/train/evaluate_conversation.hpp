// psalm/train/evaluate_conversation.hpp — how well a model answers questions about held-out
// images (the LLaVA-style conversations the trainer's conversation batches teach): every
// question answered as `psalm chat` answers it (Segmenter::chat, greedy), scored by exact match
// against the reference answer, and by teacher-forced token accuracy on the reference answer
// (the training path's next-token targets); both per question kind, next to the chance level of
// always giving the kind's most frequent answer.
// Host code: images are encoded and answers decoded on the CPU (psalm/segmenter.hpp).
// Depends on: train/evaluate (EvaluationResult), psalm/{segmenter, inputs}.
// Test: tests/train/test_evaluate_conversation.cpp.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/psalm/inputs.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/train/evaluate.hpp"

namespace psalm::train {

// Letters: L conversation positions, V vocabulary.

struct ConversationEvaluateOptions {
  /// Longest reply generated per question (the synthetic captions take about 25 tokens).
  std::int64_t max_new_tokens = 48;
  /// The kind of a question (its scores are reported per kind); empty: one kind, "all".
  std::function<std::string(const std::string&)> kind_of{};
  /// Called after each example with (examples done, total).
  std::function<void(std::int64_t, std::int64_t)> progress{};
  /// Called with every example's reply (index, example, reply) before it is scored.
  std::function<void(std::int64_t, const ConversationExample&, const ChatReply&)> on_reply{};
};

/// An answer as exact match compares it: lower case, surrounding whitespace and trailing
/// periods removed ("A circle. " and "a circle" match).
inline std::string normalized_answer(const std::string& text) {
  std::string s = psalm::detail::py_strip(text);
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.pop_back();
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// Teacher-forced next-token accuracy of `ex`'s answer: (correct, scored) over the positions
/// with a target (the answer's tokens and its <|endoftext|>), the argmax over the tokenizer's ids
/// at the position before each.
inline std::pair<std::int64_t, std::int64_t> answer_token_hits(PsalmModel<float>& model,
                                                               const InputEncoder& encoder,
                                                               const ConversationExample& ex) {
  const autograd::NoGrad no_grad;
  const EncodedConversation e = encoder.encode(ex);
  const PsalmBatch<float> batch = collate(std::span<const EncodedConversation>(&e, 1));
  const Tensor<float> logits = model.language_logits(batch).value().contiguous();  // (1, L, V)
  const std::int64_t l = logits.size(1), v = logits.size(2);
  const std::int64_t usable = std::min<std::int64_t>(v, encoder.tokenizer().vocab_size());
  std::int64_t hits = 0, scored = 0;
  for (std::int64_t p = 1; p < l; ++p) {
    const std::int64_t target = e.layout.labels[static_cast<std::size_t>(p)];
    if (target == kIgnoreIndex) continue;
    const float* row = logits.data() + (p - 1) * v;
    hits += (std::max_element(row, row + usable) - row) == target;
    ++scored;
  }
  return {hits, scored};
}

/// Answers `count` conversations of `source` with `seg` (greedy, one question each) and scores
/// them. Metrics (fractions): exact_match, token_accuracy, chance (the exact match of answering
/// every question with its kind's most frequent reference answer in this set), and per kind K
/// exact_match_K, token_accuracy_K, chance_K. The report is a table per kind with the counts
/// and the majority answers.
inline EvaluationResult evaluate_conversation(
    Segmenter& seg, const std::function<ConversationExample(std::int64_t)>& source,
    std::int64_t count, const ConversationEvaluateOptions& options = {}) {
  PSALM_CHECK(count >= 1, "evaluate_conversation: no examples");
  PSALM_CHECK(options.max_new_tokens >= 1, "evaluate_conversation: max_new_tokens must be >= 1");
  seg.model().eval();
  struct Tally {
    std::int64_t n = 0, exact = 0, hits = 0, scored = 0;
    std::map<std::string, std::int64_t> answers;  // normalized reference -> count
  };
  std::map<std::string, Tally> kinds;
  Tally all;
  for (std::int64_t i = 0; i < count; ++i) {
    const ConversationExample ex = source(i);
    PSALM_CHECK(ex.image.defined(), "evaluate_conversation: example ", i, " has no image");
    const ChatReply reply = seg.chat(ex.image, ex.user, {.max_new_tokens = options.max_new_tokens});
    if (options.on_reply) options.on_reply(i, ex, reply);
    const auto [hits, scored] = answer_token_hits(seg.model(), seg.encoder(), ex);
    const std::string want = normalized_answer(ex.assistant);
    const bool exact = normalized_answer(reply.text) == want;
    for (Tally* t : {&kinds[options.kind_of ? options.kind_of(ex.user) : "all"], &all}) {
      ++t->n;
      t->exact += exact ? 1 : 0;
      t->hits += hits;
      t->scored += scored;
      ++t->answers[want];
    }
    if (options.progress) options.progress(i + 1, count);
  }
  const auto frac = [](std::int64_t a, std::int64_t b) {
    return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
  };
  const auto majority = [](const Tally& t) {
    return std::max_element(t.answers.begin(), t.answers.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; });
  };
  EvaluationResult out;
  out.examples = count;
  std::int64_t chance_hits = 0;
  char line[256];
  out.report = "kind        examples   exact  tokens  chance  (majority answer)\n";
  for (const auto& [kind, t] : kinds) {
    const auto top = majority(t);
    chance_hits += top->second;
    out.metrics["exact_match_" + kind] = frac(t.exact, t.n);
    out.metrics["token_accuracy_" + kind] = frac(t.hits, t.scored);
    out.metrics["chance_" + kind] = frac(top->second, t.n);
    std::snprintf(line, sizeof line, "%-10s %9lld %7.1f %7.1f %7.1f  (\"%s\")\n", kind.c_str(),
                  static_cast<long long>(t.n), 100.0 * frac(t.exact, t.n),
                  100.0 * frac(t.hits, t.scored), 100.0 * frac(top->second, t.n),
                  top->first.c_str());
    out.report += line;
  }
  out.metrics["exact_match"] = frac(all.exact, all.n);
  out.metrics["token_accuracy"] = frac(all.hits, all.scored);
  out.metrics["chance"] = frac(chance_hits, all.n);
  std::snprintf(line, sizeof line, "%-10s %9lld %7.1f %7.1f %7.1f\n", "all",
                static_cast<long long>(all.n), 100.0 * frac(all.exact, all.n),
                100.0 * frac(all.hits, all.scored), 100.0 * frac(chance_hits, all.n));
  out.report += line;
  return out;
}

}  // namespace psalm::train
