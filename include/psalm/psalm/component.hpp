// psalm/psalm/component.hpp — `psalm forward --component psalm` (nn::Component): the whole
// PSALM model in eval mode on upstream-style batch tensors (pixel values, input_ids with the
// task sentinels, the class names / sentence / visual prompts the sentinels stand for), weights
// strict in the released key layout (PSALM_SPEC §7.1, load_psalm_weights), returning every
// prediction set of the masked-attention decoder.
// Depends on: psalm/{model, weights, expand, sequence_batch, region_pooling},
// models/mask2former/component (insert_prediction_sets), nn/component.
// Test: tests/psalm/test_component.cpp.
// Host code: a component runs on the CPU backend (psalm/tensor.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/models/mask2former/component.hpp"
#include "psalm/nn/component.hpp"
#include "psalm/psalm/config.hpp"
#include "psalm/psalm/expand.hpp"
#include "psalm/psalm/model.hpp"
#include "psalm/psalm/region_pooling.hpp"
#include "psalm/psalm/sequence_batch.hpp"
#include "psalm/psalm/special_tokens.hpp"
#include "psalm/psalm/task.hpp"
#include "psalm/psalm/weights.hpp"
#include "psalm/tensor.hpp"  // the CPU backend: a component runs on the CPU

namespace psalm {

// Letters: B batch, L unexpanded id length, Lc / Lr class-name / sentence id length, C classes,
// K_total visual prompts of the batch, P points per prompt, T input side.

namespace detail {

/// The entries of row b of a (B, N) id tensor.
inline std::vector<std::int64_t> id_row(const Tensor<std::int64_t>& ids, std::int64_t b) {
  const std::int64_t n = ids.size(1);
  return {ids.data() + b * n, ids.data() + (b + 1) * n};
}

/// Row b of a -1-padded id input (token_refer_id, class_name_ids): the ids before the first
/// -1, which must be followed by -1 only.
inline std::vector<std::int64_t> unpadded_row(const nn::ComponentRequest& req,
                                              std::string_view name,
                                              const Tensor<std::int64_t>& ids, std::int64_t b) {
  std::vector<std::int64_t> row = id_row(ids, b);
  std::size_t n = 0;
  while (n < row.size() && row[n] != -1) ++n;
  for (std::size_t i = n; i < row.size(); ++i)
    PSALM_CHECK(row[i] == -1, req.component, ": ", name, " row ", b, " has id ", row[i], " at ", i,
                " after its -1 padding began at ", n);
  row.resize(n);
  return row;
}

/// A (B, N) int64 input, checked.
inline Tensor<std::int64_t> id_input(const nn::ComponentRequest& req, std::string_view name,
                                     std::int64_t batch) {
  const Tensor<std::int64_t> t = req.input<std::int64_t>(name).contiguous();  // (B, N)
  PSALM_CHECK(t.rank() == 2 && t.size(0) == batch, req.component, ": ", name, " must be (B, N) = (",
              batch, ", N), got ", t.shape());
  return t;
}

/// The sequence lengths of input_ids (B, L): all L, or the tokens of attention_mask (B, L)
/// (nonzero = token), which must be a run of tokens then right padding.
inline std::vector<std::int64_t> sequence_lengths(const nn::ComponentRequest& req,
                                                  const Tensor<std::int64_t>& ids) {
  const std::int64_t b = ids.size(0), l = ids.size(1);
  if (!req.has_input("attention_mask")) return std::vector<std::int64_t>(b, l);
  const Tensor<float> mask = req.input<float>("attention_mask").contiguous();  // (B, L)
  PSALM_CHECK(mask.shape() == ids.shape(), req.component, ": attention_mask must have the shape ",
              ids.shape(), " of input_ids, got ", mask.shape());
  std::vector<std::int64_t> out;
  for (std::int64_t s = 0; s < b; ++s) {
    std::int64_t n = 0;
    while (n < l && mask.data()[s * l + n] != 0.0f) ++n;
    for (std::int64_t i = n; i < l; ++i)
      PSALM_CHECK(mask.data()[s * l + i] == 0.0f, req.component, ": attention_mask row ", s,
                  " has a token at ", i, " after padding at ", n, " (sequences are right-padded)");
    PSALM_CHECK(n >= 1, req.component, ": attention_mask row ", s, " has no token");
    out.push_back(n);
  }
  return out;
}

/// What the sentinels of sample b's ids ask for: one condition kind, one <image>, one <seg>.
inline ConditionKind condition_kind_of(const nn::ComponentRequest& req,
                                       const std::vector<std::int64_t>& ids, std::int64_t b) {
  PSALM_CHECK(count_id(ids, kImageSentinel) == 1 && count_id(ids, kSegSentinel) == 1, req.component,
              ": input_ids row ", b, " must hold one <image> (", kImageSentinel,
              ") and one <seg> (", kSegSentinel, "), it holds ", count_id(ids, kImageSentinel),
              " and ", count_id(ids, kSegSentinel));
  const bool cls = count_id(ids, kClsSentinel) > 0, refer = count_id(ids, kReferSentinel) > 0,
             region = count_id(ids, kRegionSentinel) > 0;
  PSALM_CHECK(int(cls) + int(refer) + int(region) == 1, req.component, ": input_ids row ", b,
              " must hold exactly one kind of condition: <cls> (", kClsSentinel, "), <refer> (",
              kReferSentinel, ") or <region> (", kRegionSentinel, ")");
  return cls ? ConditionKind::classes : refer ? ConditionKind::referring : ConditionKind::regions;
}

/// `tokens` without its last entry, which must be `last` ([SEG], or [REF] in ref_token mode).
inline std::vector<std::int64_t> strip_last(const nn::ComponentRequest& req, std::string_view what,
                                            std::vector<std::int64_t> tokens, std::int64_t last,
                                            std::string_view last_name) {
  PSALM_CHECK(tokens.size() >= 2 && tokens.back() == last, req.component, ": ", what,
              " must be its tokens followed by ", last_name, " (id ", last, "), got ",
              tokens.size(), " id(s) ending in ", tokens.empty() ? -1 : tokens.back());
  tokens.pop_back();
  return tokens;
}

/// The class names of sample b: class_name_ids (B, Lc) holds each name's tokens then [SEG],
/// in prompt order; cls_indices (B, Lc) the prompt-order class of each entry (0, 0, 1, ...;
/// -1 on padding); random_idx (B, C), optional, the prompt position of canonical class c.
inline void read_classes(const nn::ComponentRequest& req, const PsalmConfig& config, std::int64_t b,
                         std::int64_t batch, PromptIds& prompt) {
  const Tensor<std::int64_t> names = id_input(req, "class_name_ids", batch);  // (B, Lc)
  const Tensor<std::int64_t> index = id_input(req, "cls_indices", batch);     // (B, Lc)
  PSALM_CHECK(index.shape() == names.shape(), req.component, ": cls_indices must have the shape ",
              names.shape(), " of class_name_ids, got ", index.shape());
  const std::vector<std::int64_t> ids = id_row(names, b),
                                  cls = unpadded_row(req, "cls_indices", index, b);
  const auto num_cls = count_id(prompt.ids, kClsSentinel);
  std::vector<std::vector<std::int64_t>> spans;
  for (std::size_t i = 0; i < cls.size(); ++i) {
    const auto c = static_cast<std::size_t>(cls[i]);
    PSALM_CHECK(cls[i] >= 0 && (c == spans.size() || c + 1 == spans.size()), req.component,
                ": cls_indices row ", b, " must number the classes 0, 1, ... in order, got ",
                cls[i], " at ", i);
    if (c == spans.size()) spans.emplace_back();
    spans.back().push_back(ids[i]);
  }
  PSALM_CHECK(static_cast<std::int64_t>(spans.size()) == num_cls, req.component, ": input_ids row ",
              b, " holds ", num_cls, " <cls> but cls_indices numbers ", spans.size(), " class(es)");
  for (std::size_t c = 0; c < spans.size(); ++c)
    prompt.class_name_ids.push_back(strip_last(
        req, "class " + std::to_string(c) + " of class_name_ids row " + std::to_string(b), spans[c],
        config.seg_token_id, "[SEG]"));
  prompt.prompt_order.resize(spans.size());
  for (std::size_t c = 0; c < spans.size(); ++c) prompt.prompt_order[c] = std::int64_t(c);
  if (!req.has_input("random_idx")) return;
  const Tensor<std::int64_t> random = id_input(req, "random_idx", batch);  // (B, C)
  PSALM_CHECK(random.size(1) == num_cls, req.component, ": random_idx must be (B, C) = (", batch,
              ", ", num_cls, "), got ", random.shape());
  std::vector<std::int64_t> order(spans.size(), -1);
  for (std::int64_t c = 0; c < num_cls; ++c) {
    const std::int64_t at = random.data()[b * num_cls + c];
    PSALM_CHECK(at >= 0 && at < num_cls && order[static_cast<std::size_t>(at)] == -1, req.component,
                ": random_idx row ", b, " is not a permutation of 0..", num_cls - 1);
    order[static_cast<std::size_t>(at)] = c;  // the <cls> at prompt position `at` is class c
  }
  prompt.prompt_order = order;
}

/// The visual prompts' pooling points per sample: region_points (K_total, P, 2) as given, or
/// region_masks (K_total, T, T) (nonzero = prompt pixel) with strided points
/// (strided_region_points: deterministic, unlike upstream's random draw).
inline std::vector<Tensor<float>> read_region_points(const nn::ComponentRequest& req,
                                                     const PsalmConfig& config,
                                                     std::int64_t batch) {
  const bool by_points = req.has_input("region_points");
  PSALM_CHECK(by_points != req.has_input("region_masks"), req.component,
              ": an interactive batch needs exactly one of region_masks (K_total, T, T) and "
              "region_points (K_total, P, 2)");
  const std::string name = by_points ? "region_points" : "region_masks";
  const Tensor<float> stacked =
      req.input<float>(name).contiguous();  // (K_total, T, T) / (K_total, P, 2)
  const std::int64_t t = config.image_size;
  if (by_points)
    PSALM_CHECK(stacked.rank() == 3 && stacked.size(1) >= 1 && stacked.size(2) == 2, req.component,
                ": region_points must be (K_total, P, 2), got ", stacked.shape());
  else
    PSALM_CHECK(stacked.rank() == 3 && stacked.size(1) == t && stacked.size(2) == t, req.component,
                ": region_masks must be (K_total, ", t, ", ", t, "), got ", stacked.shape());
  const std::vector<std::int64_t> counts =
      req.row_counts("region_counts", name, stacked.size(0), batch);
  std::vector<Tensor<float>> out;
  std::int64_t start = 0;
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t k = counts[static_cast<std::size_t>(b)];
    const Tensor<float> rows = stacked.narrow(0, start, k).contiguous();  // (K_b, ...)
    start += k;
    if (by_points) {
      out.push_back(rows);  // (K_b, P, 2)
      continue;
    }
    Tensor<std::uint8_t> masks(rows.shape());  // (K_b, T, T)
    for (std::int64_t i = 0; i < rows.numel(); ++i) masks.data()[i] = rows.data()[i] != 0.0f;
    try {
      out.push_back(strided_region_points(masks, config.region_num_points));  // (K_b, P, 2)
    } catch (const Error& e) {
      fail(req.component, ": region_masks of sample ", b, ": ", e.what());
    }
  }
  return out;
}

/// The batch the inputs describe: prompts expanded as the model's sequences (expand_prompt),
/// the task from the sentinels (every sample must ask for the same kind of condition).
inline PsalmBatch<float> read_psalm_batch(const nn::ComponentRequest& req,
                                          const PsalmConfig& config) {
  PsalmBatch<float> batch;
  batch.pixels = req.input<float>("pixel_values").contiguous();  // (B, 3, T, T)
  const std::int64_t t = config.image_size;
  PSALM_CHECK(batch.pixels.rank() == 4 && batch.pixels.size(0) >= 1 && batch.pixels.size(1) == 3 &&
                  batch.pixels.size(2) == t && batch.pixels.size(3) == t,
              req.component, ": pixel_values must be (B, 3, ", t, ", ", t, ") (config image_size ",
              t, "), got ", batch.pixels.shape());
  const std::int64_t b = batch.pixels.size(0);
  const Tensor<std::int64_t> input_ids = id_input(req, "input_ids", b);  // (B, L)
  const std::vector<std::int64_t> lengths = sequence_lengths(req, input_ids);

  SpecialTokenIds special;
  special.seg_token_id = config.seg_token_id;
  special.pad_token_id = config.pad_token_id;
  special.ref_token_id = config.ref_token_id.value_or(-1);
  ExpandOptions expand = expand_options(config.image_token_grid(), config.num_mask_tokens, special,
                                        config.condition_mode);
  expand.vocab_size = config.phi.vocab_size;
  const bool ref_mode = config.condition_mode == ConditionMode::ref_token;

  std::vector<SequenceLayout> layouts;
  ConditionKind kind = ConditionKind::classes;
  for (std::int64_t s = 0; s < b; ++s) {
    PromptIds prompt;
    prompt.ids = id_row(input_ids, s);
    prompt.ids.resize(static_cast<std::size_t>(lengths[static_cast<std::size_t>(s)]));
    const ConditionKind k = condition_kind_of(req, prompt.ids, s);
    PSALM_CHECK(s == 0 || k == kind, req.component, ": input_ids rows 0 and ", s,
                " ask for different tasks (a batch holds one)");
    kind = k;
    if (k == ConditionKind::classes) {
      read_classes(req, config, s, b, prompt);
    } else if (k == ConditionKind::referring) {
      prompt.refer_ids = strip_last(
          req, "token_refer_id row " + std::to_string(s),
          unpadded_row(req, "token_refer_id", id_input(req, "token_refer_id", b), s),
          ref_mode ? expand.ref_token_id : config.seg_token_id, ref_mode ? "[REF]" : "[SEG]");
    }
    try {
      layouts.push_back(expand_prompt(prompt, expand));
    } catch (const Error& e) {
      fail(req.component, ": sample ", s, ": ", e.what());
    }
  }
  batch.task = kind == ConditionKind::classes     ? Task::panoptic
               : kind == ConditionKind::referring ? Task::referring
                                                  : Task::interactive;
  batch.sequence = batch_sequences(layouts);
  if (kind == ConditionKind::regions) {
    batch.region_points = read_region_points(req, config, b);
    for (std::int64_t s = 0; s < b; ++s) {
      const std::int64_t want = batch.sequence.num_regions[static_cast<std::size_t>(s)];
      PSALM_CHECK(batch.region_points[static_cast<std::size_t>(s)].size(0) == want, req.component,
                  ": region_counts[", s,
                  "] = ", batch.region_points[static_cast<std::size_t>(s)].size(0),
                  " but input_ids row ", s, " holds ", want, " <region>");
    }
  }
  return batch;
}

}  // namespace detail

inline nn::Component psalm_component() {
  nn::Component c;
  c.name = "psalm";
  c.summary =
      "the whole PSALM model in eval mode (Swin -> projector -> Phi with the prompt's mask "
      "tokens and class names / sentence / visual prompts -> pixel decoder -> masked-attention "
      "decoder); PsalmConfig JSON, weights in the released key layout (fused or split Phi "
      "q/k/v)";
  c.inputs_help =
      "pixel_values (B, 3, T, T) preprocessed; input_ids (B, L) int64 with the sentinels -200 "
      "<image>, -201 <seg>, -202 <cls>, -203 <region>, -204 <refer>, optional attention_mask "
      "(B, L) (0 = right padding); class prompts: class_name_ids (B, Lc) (each name's tokens "
      "then [SEG], prompt order, -1 padding), cls_indices (B, Lc) (prompt-order class of each, "
      "-1 padding), optional random_idx (B, C) (prompt position of canonical class c); referring: "
      "token_refer_id (B, Lr) (sentence tokens then [SEG], -1 padding); interactive: region_masks "
      "(K_total, T, T) (strided points) or region_points (K_total, P, 2), with region_counts (B)";
  c.outputs_help =
      "pred_masks (B, Q, Hm, Wm) (Swin's res2 grid) and the task's logits: pred_class_logits (B, "
      "Q, C) (canonical "
      "class order), pred_seg_logits (B, Q, 1) or pred_region_logits (K_total, Q); "
      "aux_<i>_pred_... for the sets i = 0 (the projected mask tokens) .. dec_layers - 1";
  c.run = [](const nn::ComponentRequest& req) {
    const PsalmConfig config = PsalmConfig::from_json(req.require_config());
    const PsalmBatch<float> batch = detail::read_psalm_batch(req, config);
    nn::InitRng rng = nn::InitRng::for_loading();
    PsalmModel<float> model(config, rng);
    load_psalm_weights(model, req.require_weights(), req.weights_prefix);
    model.eval();
    const autograd::NoGrad no_grad;
    const PsalmOutput<float> result = model(batch);
    nn::ComponentOutputs out;
    models::mask2former::insert_prediction_sets(out, result.predictions);
    return out;
  };
  return c;
}

}  // namespace psalm
