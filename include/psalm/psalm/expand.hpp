// psalm/psalm/expand.hpp — PromptIds -> SequenceLayout (PSALM_SPEC §1.6, upstream llava_phi.py
// concat_image_seg_cls_embeds): every sentinel replaced by the positions it stands for, with
// the class / referring bookkeeping the condition builders read, in the "mean" or "ref_token"
// condition mode. Depends on: psalm/{prompt,sequence,special_tokens}.
// Test: tests/psalm/test_sequence.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/psalm/prompt.hpp"
#include "psalm/psalm/sequence.hpp"
#include "psalm/psalm/special_tokens.hpp"

namespace psalm {

/// How the referring sentence becomes one condition vector (PsalmConfig "condition_mode").
enum class ConditionMode : std::uint8_t {
  mean,      ///< mean of H over the sentence tokens and [SEG] (the released code, spec §8.2)
  ref_token  ///< H at a [REF] token that follows the sentence (the paper's Tab. 5 variant)
};

inline const char* to_string(ConditionMode mode) {
  return mode == ConditionMode::mean ? "mean" : "ref_token";
}

/// "mean" or "ref_token".
inline ConditionMode parse_condition_mode(std::string_view name) {
  if (name == "mean") return ConditionMode::mean;
  if (name == "ref_token") return ConditionMode::ref_token;
  fail("unknown condition_mode \"", std::string(name), "\" (expected mean or ref_token)");
}

/// What the sentinels expand into.
struct ExpandOptions {
  std::int64_t num_image_tokens = 256;  ///< G*G projector tokens per <image>
  std::int64_t num_mask_tokens = 100;   ///< Q mask tokens per <seg>
  std::int64_t seg_token_id = 50296;    ///< "[SEG]", appended to every class name / sentence
  ConditionMode condition_mode = ConditionMode::mean;
  std::int64_t ref_token_id = -1;  ///< "[REF]" (ref_token mode only)
  std::int64_t vocab_size = 0;     ///< > 0: every word id must be below it
};

/// One sample's expanded sequence. At most one <image> (none for text-only conversation
/// data), at most one <seg>, at most one <refer>; one class name per <cls>. Word positions keep
/// their label; every expanded position is IGNORE.
inline SequenceLayout expand_prompt(const PromptIds& prompt, const ExpandOptions& options) {
  PSALM_CHECK(options.num_image_tokens >= 1 && options.num_mask_tokens >= 1,
              "expand_prompt: num_image_tokens and num_mask_tokens must be positive, got ",
              options.num_image_tokens, " and ", options.num_mask_tokens);
  const bool ref_mode = options.condition_mode == ConditionMode::ref_token;
  PSALM_CHECK(!ref_mode || options.ref_token_id >= 0,
              "expand_prompt: condition_mode ref_token needs ref_token_id (the [REF] token)");
  const auto check_word = [&](std::int64_t id, const char* where, std::size_t at) {
    PSALM_CHECK(id >= 0 && (options.vocab_size <= 0 || id < options.vocab_size),
                "expand_prompt: token id ", id, " at position ", at, " of ", where,
                " is not a word of the vocabulary (size ", options.vocab_size, ")");
  };
  check_word(options.seg_token_id, "seg_token_id", 0);
  if (ref_mode) check_word(options.ref_token_id, "ref_token_id", 0);

  const std::vector<std::int64_t>& ids = prompt.ids;
  const std::int64_t num_cls = count_id(ids, kClsSentinel);
  const std::int64_t num_refer = count_id(ids, kReferSentinel);
  const std::int64_t num_image = count_id(ids, kImageSentinel);
  const std::int64_t num_seg = count_id(ids, kSegSentinel);
  PSALM_CHECK(num_image <= 1, "expand_prompt: ", num_image, " <image> markers (at most one)");
  PSALM_CHECK(num_seg <= 1, "expand_prompt: ", num_seg, " <seg> markers (at most one)");
  PSALM_CHECK(num_refer <= 1, "expand_prompt: ", num_refer, " <refer> markers (at most one)");
  PSALM_CHECK(num_cls == static_cast<std::int64_t>(prompt.class_name_ids.size()),
              "expand_prompt: ", num_cls, " <cls> markers but ", prompt.class_name_ids.size(),
              " class names");
  PSALM_CHECK(num_refer == 1 || prompt.refer_ids.empty(),
              "expand_prompt: sentence tokens given but the prompt has no <refer>");
  PSALM_CHECK(prompt.labels.empty() || prompt.labels.size() == ids.size(),
              "expand_prompt: ", prompt.labels.size(), " labels for ", ids.size(), " ids");
  std::vector<std::int64_t> order = prompt.prompt_order;
  if (order.empty()) {
    order.resize(static_cast<std::size_t>(num_cls));
    for (std::int64_t c = 0; c < num_cls; ++c) order[static_cast<std::size_t>(c)] = c;
  }
  PSALM_CHECK(static_cast<std::int64_t>(order.size()) == num_cls,
              "expand_prompt: prompt_order has ", order.size(), " entries for ", num_cls,
              " <cls> markers");
  {
    std::vector<std::uint8_t> seen(order.size(), 0);
    for (const std::int64_t c : order) {
      PSALM_CHECK(c >= 0 && c < num_cls && !seen[static_cast<std::size_t>(c)],
                  "expand_prompt: prompt_order is not a permutation of 0..", num_cls - 1,
                  " (entry ", c, ")");
      seen[static_cast<std::size_t>(c)] = 1;
    }
  }

  SequenceLayout out;
  out.num_classes = num_cls;
  out.num_regions = count_id(ids, kRegionSentinel);
  out.prompt_order = order;
  const auto push = [&](std::int64_t token, TokenSource source, std::int64_t index,
                        std::int64_t cls, std::uint8_t refer, std::int64_t label) {
    out.token_ids.push_back(token);
    out.source.push_back(source);
    out.source_index.push_back(index);
    out.class_index.push_back(cls);
    out.refer_mask.push_back(refer);
    out.labels.push_back(label);
  };
  std::int64_t cls_seen = 0, region_seen = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::int64_t id = ids[i];
    if (id >= 0) {
      check_word(id, "the prompt", i);
      push(id, TokenSource::word, -1, 0, 0,
           prompt.labels.empty() ? kIgnoreIndex : prompt.labels[i]);
      continue;
    }
    switch (id) {
      case kImageSentinel:
        for (std::int64_t k = 0; k < options.num_image_tokens; ++k)
          push(0, TokenSource::image, k, 0, 0, kIgnoreIndex);
        break;
      case kSegSentinel:
        for (std::int64_t q = 0; q < options.num_mask_tokens; ++q)
          push(0, TokenSource::mask_token, q, 0, 0, kIgnoreIndex);
        break;
      case kClsSentinel: {
        const auto& name = prompt.class_name_ids[static_cast<std::size_t>(cls_seen)];
        PSALM_CHECK(!name.empty(), "expand_prompt: class name ", cls_seen, " has no tokens");
        const std::int64_t c = 1 + order[static_cast<std::size_t>(cls_seen)];
        for (std::size_t t = 0; t < name.size(); ++t) {
          check_word(name[t], "a class name", t);
          push(name[t], TokenSource::word, -1, c, 0, kIgnoreIndex);
        }
        push(options.seg_token_id, TokenSource::word, -1, c, 0, kIgnoreIndex);
        ++cls_seen;
        break;
      }
      case kReferSentinel: {
        const std::uint8_t on_sentence = ref_mode ? 0 : 1;
        for (std::size_t t = 0; t < prompt.refer_ids.size(); ++t) {
          check_word(prompt.refer_ids[t], "the sentence", t);
          push(prompt.refer_ids[t], TokenSource::word, -1, 0, on_sentence, kIgnoreIndex);
        }
        push(ref_mode ? options.ref_token_id : options.seg_token_id, TokenSource::word, -1, 0, 1,
             kIgnoreIndex);
        break;
      }
      case kRegionSentinel:
        push(0, TokenSource::region, region_seen++, 0, 0, kIgnoreIndex);
        break;
      default:
        fail("expand_prompt: unknown negative id ", id, " at position ", i,
             " (sentinels are -200 <image>, -201 <seg>, -202 <cls>, -203 <region>, -204 <refer>)");
    }
  }
  return out;
}

/// The ExpandOptions of a configuration with a G x G projector grid and Q mask tokens.
inline ExpandOptions expand_options(std::int64_t grid, std::int64_t num_mask_tokens,
                                    const SpecialTokenIds& special,
                                    ConditionMode mode = ConditionMode::mean) {
  ExpandOptions o;
  o.num_image_tokens = grid * grid;
  o.num_mask_tokens = num_mask_tokens;
  o.seg_token_id = special.seg_token_id;
  o.condition_mode = mode;
  o.ref_token_id = special.ref_token_id;
  return o;
}

}  // namespace psalm
