// psalm/psalm/prompt.hpp — PSALM's prompt per task (PSALM_SPEC §2.2–§2.4) tokenized into
// PromptIds: ids with sentinels plus the class-name and sentence tokens; LLaVA conversation
// data with next-token labels; model_max_length truncation that never cuts a marker.
// Depends on: io/tokenizer, core/rng, psalm/{conversation,special_tokens,sequence}.
// Test: tests/psalm/test_prompt.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/core/rng.hpp"
#include "psalm/io/tokenizer.hpp"
#include "psalm/psalm/conversation.hpp"
#include "psalm/psalm/sequence.hpp"
#include "psalm/psalm/special_tokens.hpp"

namespace psalm {

/// A prompt before tokenization: the rendered conversation (markers included) and the texts
/// its markers stand for.
struct PromptText {
  std::string text;                        ///< rendered conversation with the markers
  std::vector<std::string> class_names;    ///< what each <cls> stands for, in prompt order
  std::vector<std::int64_t> prompt_order;  ///< canonical class index of each <cls>
  std::string refer_text;                  ///< what <refer> stands for (no [SEG])
};

/// One sample before expansion (upstream input_ids plus class_name_ids / token_refer_id).
struct PromptIds {
  std::vector<std::int64_t> ids;                          ///< token ids and sentinels
  std::vector<std::vector<std::int64_t>> class_name_ids;  ///< per <cls>, prompt order, no [SEG]
  std::vector<std::int64_t> refer_ids;                    ///< the sentence tokens, no [SEG]
  std::vector<std::int64_t> prompt_order;                 ///< canonical class index of each <cls>
  /// Next-token targets aligned with `ids` (labels[i] is ids[i] or kIgnoreIndex: the loss
  /// compares the logits at i - 1 with labels[i], as transformers does); empty = all IGNORE.
  std::vector<std::int64_t> labels;
};

/// The answer of every generic and referring prompt.
inline constexpr std::string_view kSegAnswer = "\nSure, the segmentation result is <seg>";

/// Options of the generic segmentation prompt (panoptic / instance / semantic).
struct ClassPromptOptions {
  /// Append "background" as the last class (canonical index C - 1), as every upstream
  /// class list does.
  bool append_background = true;
  /// Permute the classes in the prompt (upstream COCO_panoptic_dataset_random, training);
  /// the permutation is drawn from Philox(seed, stream) and recorded as prompt_order.
  bool shuffle = false;
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
  /// The task words of "Please do ... Segmentation." The official code says "Panoptic
  /// Segmentation" for panoptic, instance and open-vocabulary semantic evaluation alike; its
  /// unused COCO_semantic_dataset says "Semantic Segmentation".
  std::string task_words = "Panoptic Segmentation";
};

/// A uniformly random permutation of 0 .. n-1 (Fisher-Yates from the back, as Python's
/// random.shuffle walks, with Philox draws: draw k decides position n-1-k).
inline std::vector<std::int64_t> random_permutation(std::int64_t n, const CounterRng& rng) {
  PSALM_CHECK(n >= 0, "random_permutation: negative size ", n);
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  for (std::int64_t i = n - 1, k = 0; i > 0; --i, ++k) {
    const auto span = static_cast<double>(i + 1);
    const auto j = std::min<std::int64_t>(
        i, static_cast<std::int64_t>(rng.uniform_double(static_cast<std::uint64_t>(k)) * span));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

/// The generic segmentation prompt with the classes in a given order: `names` in canonical
/// order (background included when wanted), `prompt_order[i]` = the canonical index of the
/// i-th <cls>. U = "This is an image <image>, Please do Panoptic Segmentation.\nThis is all the
/// candidate categories: <cls>, <cls>, ... <cls>.\n", A = "\nSure, the segmentation result
/// is <seg>" (PSALM_SPEC §2.2).
inline PromptText class_prompt_in_order(std::span<const std::string> names,
                                        std::span<const std::int64_t> prompt_order,
                                        const std::string& task_words = "Panoptic Segmentation") {
  const auto count = static_cast<std::int64_t>(names.size());
  PSALM_CHECK(count >= 1, "class_prompt: no class names");
  PSALM_CHECK(static_cast<std::int64_t>(prompt_order.size()) == count,
              "class_prompt: ", prompt_order.size(), " prompt positions for ", count, " classes");
  std::vector<std::uint8_t> seen(names.size(), 0);
  PromptText out;
  for (const std::int64_t c : prompt_order) {
    PSALM_CHECK(c >= 0 && c < count && !seen[static_cast<std::size_t>(c)],
                "class_prompt: prompt_order is not a permutation of 0..", count - 1, " (entry ", c,
                ")");
    seen[static_cast<std::size_t>(c)] = 1;
    PSALM_CHECK(!names[static_cast<std::size_t>(c)].empty(), "class_prompt: class name ", c,
                " is empty");
    out.class_names.push_back(names[static_cast<std::size_t>(c)]);
  }
  out.prompt_order.assign(prompt_order.begin(), prompt_order.end());
  // ref: train_datasets.py COCO_panoptic_dataset: category = '<cls>, ' * (N - 1) + '<cls>.'
  std::string categories;
  for (std::int64_t c = 0; c + 1 < count; ++c) categories += "<cls>, ";
  categories += "<cls>.";
  const std::string user = "This is an image <image>, Please do " + task_words +
                           ".\nThis is all the candidate categories: " + categories + "\n";
  out.text = ConversationTemplate::llava_phi().render(user, std::string(kSegAnswer));
  return out;
}

/// The generic segmentation prompt of a dataset's classes (canonical order), "background"
/// appended and the order shuffled as `options` say; prompt_order records the order.
inline PromptText class_prompt(std::span<const std::string> class_names,
                               const ClassPromptOptions& options = {}) {
  std::vector<std::string> names(class_names.begin(), class_names.end());
  if (options.append_background) names.emplace_back("background");
  PSALM_CHECK(!names.empty(), "class_prompt: no class names");
  const auto count = static_cast<std::int64_t>(names.size());
  std::vector<std::int64_t> order(names.size());
  if (options.shuffle) {
    order = random_permutation(count, CounterRng{options.seed, options.stream});
  } else {
    std::iota(order.begin(), order.end(), std::int64_t{0});
  }
  return class_prompt_in_order(names, order, options.task_words);
}

/// The instruction of a referring prompt: every sentence with a leading space and a trailing
/// period, concatenated (upstream RefCOCO_dataset: instruction += ' {}.'.format(sent)).
inline std::string referring_instruction(std::span<const std::string> sentences) {
  PSALM_CHECK(!sentences.empty(), "referring_instruction: no sentence");
  std::string out;
  for (const std::string& s : sentences) out += " " + s + ".";
  return out;
}

/// The referring / generalized referring prompt (PSALM_SPEC §2.3): U = "This is an image
/// <image>, Please doing Referring Segmentation according to the following instruction:\n
/// <refer>", A = "\nSure, the segmentation result is <seg>"; <refer> stands for
/// referring_instruction(sentences).
inline PromptText referring_prompt(std::span<const std::string> sentences) {
  PromptText out;
  out.refer_text = referring_instruction(sentences);
  out.text = ConversationTemplate::llava_phi().render(
      "This is an image <image>, Please doing Referring Segmentation according to the following "
      "instruction:\n<refer>",
      std::string(kSegAnswer));
  return out;
}

/// referring_prompt of one sentence.
inline PromptText referring_prompt(const std::string& sentence) {
  return referring_prompt(std::span<const std::string>(&sentence, 1));
}

/// The interactive prompt with K regions (PSALM_SPEC §2.4): U = "This is an image <image>,
/// Please segment by given regions\nThis is all regions:  <region>, <region>.\n" (no period
/// after "regions", two spaces before the first <region>), A = "\n[SEG]<seg>" (the literal
/// [SEG] is the added token).
inline PromptText interactive_prompt(std::int64_t num_regions) {
  PSALM_CHECK(num_regions >= 1, "interactive_prompt: needs at least one region, got ", num_regions);
  std::string regions;
  for (std::int64_t k = 0; k + 1 < num_regions; ++k) regions += " <region>,";
  regions += " <region>.";
  PromptText out;
  out.text = ConversationTemplate::llava_phi().render(
      "This is an image <image>, Please segment by given regions\nThis is all regions: " + regions +
          "\n",
      "\n[SEG]<seg>");
  return out;
}

/// Token ids of `text` split on `markers` (upstream tokenizer_special_tokens: re.split on
/// the marker alternation, markers -> sentinels, every other chunk encoded on its own with
/// add_special_tokens=False). Text of other markers stays text.
inline std::vector<std::int64_t> tokenize_with_markers(const io::Tokenizer& tok,
                                                       std::string_view text,
                                                       std::span<const Marker> markers) {
  std::vector<std::int64_t> ids;
  std::vector<std::int32_t> chunk_ids;
  const auto encode_chunk = [&](std::string_view chunk) {
    if (chunk.empty()) return;
    chunk_ids.clear();
    tok.encode_into(chunk, chunk_ids);
    ids.insert(ids.end(), chunk_ids.begin(), chunk_ids.end());
  };
  std::size_t start = 0;
  for (;;) {
    std::size_t best = std::string_view::npos;
    Marker found = Marker::image;
    for (const Marker m : markers) {
      const std::size_t at = text.find(marker_text(m), start);
      if (at < best) best = at, found = m;
    }
    if (best == std::string_view::npos) break;
    encode_chunk(text.substr(start, best - start));
    ids.push_back(sentinel_id(found));
    start = best + marker_text(found).size();
  }
  encode_chunk(text.substr(start));
  return ids;
}

/// tokenize_with_markers on all five markers (the referring dataset's split, a superset of the
/// others': no PSALM prompt holds a marker that its own dataset would not split).
inline std::vector<std::int64_t> tokenize_with_markers(const io::Tokenizer& tok,
                                                       std::string_view text) {
  return tokenize_with_markers(tok, text, kAllMarkers);
}

/// Count of `id` in `ids`.
inline std::int64_t count_id(std::span<const std::int64_t> ids, std::int64_t id) {
  return static_cast<std::int64_t>(std::count(ids.begin(), ids.end(), id));
}

/// Token ids of a segmentation prompt: the id sequence with sentinels and the tokens of every
/// class name and of the sentence (each encoded on its own, no leading space added).
inline PromptIds tokenize_prompt(const io::Tokenizer& tok, const PromptText& prompt) {
  PromptIds out;
  out.ids = tokenize_with_markers(tok, prompt.text);
  const std::int64_t num_cls = count_id(out.ids, kClsSentinel);
  PSALM_CHECK(num_cls == static_cast<std::int64_t>(prompt.class_names.size()),
              "tokenize_prompt: the text holds ", num_cls, " <cls> markers but ",
              prompt.class_names.size(), " class names were given");
  PSALM_CHECK(
      prompt.prompt_order.empty() || prompt.prompt_order.size() == prompt.class_names.size(),
      "tokenize_prompt: prompt_order has ", prompt.prompt_order.size(), " entries for ",
      prompt.class_names.size(), " class names");
  for (const std::string& name : prompt.class_names) {
    const std::vector<std::int32_t> t = tok.encode(name);
    out.class_name_ids.emplace_back(t.begin(), t.end());
  }
  out.prompt_order = prompt.prompt_order;
  if (count_id(out.ids, kReferSentinel) > 0) {
    const std::vector<std::int32_t> t = tok.encode(prompt.refer_text);
    out.refer_ids.assign(t.begin(), t.end());
  } else {
    PSALM_CHECK(prompt.refer_text.empty(),
                "tokenize_prompt: a referring sentence was given but the text has no <refer>");
  }
  return out;
}

/// Options of LLaVA conversation data.
struct ConversationOptions {
  /// upstream tokenizer.model_max_length: the label-mismatch rule only applies below it.
  std::int64_t model_max_length = 2048;
  /// Move "<image>" to the front of the message that holds it (preprocess_multimodal).
  bool image_first = true;
};

/// A LLaVA conversation (stage-1 captions, the instruction mix of stage 2) rendered with
/// llava_phi and tokenized with next-token labels: IGNORE on the system prompt and every user
/// part up to "[/INST]", the assistant answers (with their " <|endoftext|>") as targets.
/// ref: train_datasets.py MM_Conv_Dataset.preprocess_llama2, conv.version == 'phi' branch:
/// the same round-by-round length bookkeeping, so labels come out as upstream's, including
/// its fallback (all IGNORE when the bookkeeping disagrees with the full tokenization).
/// Splits only on <image> and <seg>, as MM_Conv_Dataset.tokenizer_special_tokens does.
inline PromptIds conversation_prompt(const io::Tokenizer& tok,
                                     std::span<const ConversationTurn> turns,
                                     const ConversationOptions& options = {}) {
  std::vector<ConversationTurn> msgs(turns.begin(), turns.end());
  if (options.image_first)
    for (ConversationTurn& t : msgs)
      t.user = image_first(t.user), t.assistant = image_first(t.assistant);
  const ConversationTemplate conv = ConversationTemplate::llava_phi();
  const std::string text = conv.render(msgs);
  static constexpr std::array<Marker, 2> kConvMarkers{Marker::image, Marker::seg};
  const auto length = [&](std::string_view s) {
    return static_cast<std::int64_t>(tokenize_with_markers(tok, s, kConvMarkers).size());
  };
  PromptIds out;
  out.ids = tokenize_with_markers(tok, text, kConvMarkers);
  out.labels = out.ids;
  const auto total = static_cast<std::int64_t>(out.labels.size());
  const auto ignore = [&](std::int64_t from, std::int64_t to) {
    from = std::clamp<std::int64_t>(from, 0, total);
    to = std::clamp<std::int64_t>(to, from, total);
    std::fill(out.labels.begin() + from, out.labels.begin() + to, kIgnoreIndex);
  };
  constexpr std::string_view kInstEnd = "[/INST] ";
  std::int64_t cur = 0, round = 0;
  std::size_t pos = 0;
  for (bool last = false; !last;) {  // rounds = text.split(sep2)
    std::size_t next = text.find(conv.sep2, pos);
    last = next == std::string::npos;
    if (last) next = text.size();
    const std::string_view rou = std::string_view(text).substr(pos, next - pos);
    pos = next + conv.sep2.size();
    if (rou.empty()) continue;
    const std::size_t split = rou.find(kInstEnd);  // parts = rou.split("[/INST] ")
    if (split == std::string_view::npos || rou.find(kInstEnd, split + 1) != std::string_view::npos)
      break;
    const std::string_view instruction = rou.substr(0, split + kInstEnd.size());
    const std::int64_t round_len = length(rou) + (round > 0 ? 2 : 1);
    const std::int64_t instruction_len = length(instruction) - (round > 0 ? 0 : 1);
    ignore(cur, cur + instruction_len);
    cur += round_len;
    ++round;
  }
  ignore(cur, total);
  const SpecialTokenIds special = special_token_ids(tok);
  const std::int64_t non_pad = total - count_id(out.ids, special.pad_token_id);
  if (cur < options.model_max_length && cur != non_pad) ignore(0, total);  // upstream: mismatch
  return out;
}

/// Cuts `prompt` to at most `model_max_length` ids (upstream's collator cuts input_ids and
/// labels at model_max_length). Only text may be cut: when a marker (mask tokens, the image, a
/// class name, the sentence, a region) falls beyond the limit this throws instead, because
/// upstream would silently drop it and then fail or train on a broken sample.
inline void truncate_prompt(PromptIds& prompt, std::int64_t model_max_length) {
  PSALM_CHECK(model_max_length >= 1, "truncate_prompt: model_max_length must be positive, got ",
              model_max_length);
  const auto n = static_cast<std::int64_t>(prompt.ids.size());
  if (n <= model_max_length) return;
  for (std::int64_t i = model_max_length; i < n; ++i)
    if (const auto m = marker_of(prompt.ids[static_cast<std::size_t>(i)]))
      fail("truncate_prompt: the prompt has ", n, " ids, more than model_max_length ",
           model_max_length, ", and cutting it would drop the ", marker_text(*m), " at position ",
           i, "; shorten the text (fewer classes, a shorter sentence) or raise model_max_length");
  prompt.ids.resize(static_cast<std::size_t>(model_max_length));
  if (!prompt.labels.empty()) prompt.labels.resize(static_cast<std::size_t>(model_max_length));
}

}  // namespace psalm
