// psalm/psalm/config.hpp — PsalmConfig: the whole model's hyper-parameters (the sub-configs of
// Swin, projector, Phi, pixel decoder and mask decoder, the mask tokens, the input size, the
// condition mode, the special token ids), read from and written to JSON with upstream field
// names where they exist (psalm's own layout, and the released folder's "llava_phi" one), and
// the two presets: the released PSALM and a tiny trainable one.
// Depends on: models/*/config, io/json_config, psalm/expand (ConditionMode). Test:
// tests/psalm/test_model.cpp, tests/psalm/test_released.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "psalm/io/json_config.hpp"
#include "psalm/models/deformable/pixel_decoder.hpp"
#include "psalm/models/mask2former/config.hpp"
#include "psalm/models/phi/config.hpp"
#include "psalm/models/projector/config.hpp"
#include "psalm/models/swin/config.hpp"
#include "psalm/psalm/criterion.hpp"
#include "psalm/psalm/expand.hpp"
#include "psalm/psalm/matcher.hpp"

namespace psalm {

struct PsalmConfig {
  std::int64_t image_size = 1024;      ///< T: the padded square input side
  std::int64_t num_mask_tokens = 100;  ///< Q: `<seg>` expands to this many mask tokens
  ConditionMode condition_mode = ConditionMode::mean;
  std::int64_t seg_token_id = 50296;         ///< "[SEG]" (added to the Phi tokenizer, spec §1.4)
  std::int64_t pad_token_id = 50295;         ///< "[PAD]"
  std::optional<std::int64_t> ref_token_id;  ///< "[REF]", required in ref_token mode
  std::int64_t region_num_points = 256;      ///< prompt pixels pooled per visual prompt
  std::int64_t model_max_length = 2048;      ///< longest unexpanded id sequence
  models::swin::SwinConfig swin = models::swin::SwinConfig::swin_b_384();
  models::projector::ProjectorConfig projector = models::projector::ProjectorConfig::psalm();
  models::phi::PhiConfig phi = models::phi::PhiConfig::psalm();
  models::deformable::PixelDecoderConfig pixel_decoder =
      models::deformable::PixelDecoderConfig::psalm_swin_b();
  models::mask2former::MaskDecoderConfig mask_decoder =
      models::mask2former::MaskDecoderConfig::psalm();
  MatcherConfig matcher;      ///< the Hungarian matcher's cost weights and points (spec §4.1)
  CriterionConfig criterion;  ///< the loss weights and importance sampling (spec §4.2)

  /// Image tokens per image: the projector's output grid G x G (256 for the released model).
  std::int64_t image_token_grid() const {
    // Swin reduces by patch_size * 2^(stages - 1); swin_conv halves once more.
    const std::int64_t stride =
        swin.patch_size << (swin.num_stages() - 1 + (projector.mm_projector_type == "swin_conv"));
    return image_size / stride;
  }
  std::int64_t num_image_tokens() const { return image_token_grid() * image_token_grid(); }
  /// Hidden width of the decoder, the width every condition is projected to.
  std::int64_t decoder_dim() const { return mask_decoder.hidden_dim; }

  /// Throws psalm::Error naming the first pair of fields that do not fit together.
  void validate() const {
    swin.validate();
    projector.validate();
    phi.validate();
    mask_decoder.validate();
    matcher.validate();
    criterion.validate();
    const std::int64_t stages = swin.num_stages();
    PSALM_CHECK(stages == 4, "PsalmConfig: swin must have 4 stages (res2..res5), got ", stages);
    const std::int64_t stride = swin.patch_size << (stages - 1);
    PSALM_CHECK(image_size >= 2 * stride && image_size % (2 * stride) == 0,
                "PsalmConfig: image_size ", image_size, " must be a positive multiple of ",
                2 * stride, " (Swin's total stride ", stride, " and the projector's 2)");
    for (std::int64_t s = 0; s < stages; ++s) {
      PSALM_CHECK(swin.stage_is_output(s), "PsalmConfig: swin.out_indices must list every stage");
      PSALM_CHECK(pixel_decoder.in_channels[static_cast<std::size_t>(s)] == swin.stage_dim(s),
                  "PsalmConfig: pixel_decoder.in_channels[", s,
                  "] = ", pixel_decoder.in_channels[static_cast<std::size_t>(s)],
                  " differs from Swin stage ", s, "'s ", swin.stage_dim(s), " channels");
    }
    PSALM_CHECK(projector.mm_input_embeds == swin.stage_dim(stages - 1),
                "PsalmConfig: projector.mm_input_embeds ", projector.mm_input_embeds,
                " differs from Swin res5's ", swin.stage_dim(stages - 1), " channels");
    PSALM_CHECK(projector.projector_outdim == phi.hidden_size, "PsalmConfig: projector_outdim ",
                projector.projector_outdim, " differs from phi.hidden_size ", phi.hidden_size);
    PSALM_CHECK(mask_decoder.in_channels == pixel_decoder.conv_dim &&
                    mask_decoder.mask_dim == pixel_decoder.mask_dim,
                "PsalmConfig: mask_decoder in_channels / mask_dim (", mask_decoder.in_channels,
                " / ", mask_decoder.mask_dim, ") differ from pixel_decoder conv_dim / mask_dim (",
                pixel_decoder.conv_dim, " / ", pixel_decoder.mask_dim, ")");
    PSALM_CHECK(num_mask_tokens == mask_decoder.num_queries, "PsalmConfig: num_mask_tokens ",
                num_mask_tokens, " differs from mask_decoder.num_queries ",
                mask_decoder.num_queries);
    for (auto [name, id] :
         {std::pair{"seg_token_id", seg_token_id}, std::pair{"pad_token_id", pad_token_id}})
      PSALM_CHECK(id >= 0 && id < phi.vocab_size, "PsalmConfig: ", name, " ", id,
                  " is outside the vocabulary [0, ", phi.vocab_size, ")");
    PSALM_CHECK(condition_mode != ConditionMode::ref_token ||
                    (ref_token_id && *ref_token_id >= 0 && *ref_token_id < phi.vocab_size),
                "PsalmConfig: condition_mode \"ref_token\" needs a ref_token_id inside the "
                "vocabulary");
    PSALM_CHECK(region_num_points >= 1 && region_num_points <= 65536,
                "PsalmConfig: region_num_points must be in [1, 65536], got ", region_num_points);
    PSALM_CHECK(model_max_length >= 1, "PsalmConfig: model_max_length must be positive, got ",
                model_max_length);
  }

  /// The released PSALM (spec §1): 1024 px, Swin-B, swin_conv projector, Phi-1.5 with the
  /// vocabulary shrunk to 50,297, 100 mask tokens, mean-pooled conditions.
  static PsalmConfig psalm_swin_b_phi_1_5() {
    PsalmConfig c;
    c.swin.out_indices = {1, 2, 3, 4};
    return c;
  }

  /// A model small enough to train on 2 CPU cores: 128 px input, a four-stage Swin of width
  /// 32, a 2-layer Phi of width 128 with the real tokenizer, 24 mask tokens.
  static PsalmConfig psalm_tiny() {
    PsalmConfig c;
    c.image_size = 128;
    c.num_mask_tokens = 24;
    c.region_num_points = 64;
    c.swin.embed_dim = 32;
    c.swin.depths = {1, 1, 2, 1};
    c.swin.num_heads = {1, 2, 4, 8};
    c.swin.window_size = 4;
    c.swin.drop_path_rate = 0.0;
    c.swin.out_indices = {1, 2, 3, 4};
    // A 2-layer MLP on res5's 4 x 4 tokens: the released swin_conv halves the grid, which at
    // 128 px leaves 2 x 2 image tokens, too coarse to pool a visual prompt's region from.
    c.projector.mm_projector_type = "mlp2x_gelu";
    c.projector.mm_input_embeds = 256;
    c.projector.swin_conv_planes = 128;  // unused by the MLP; kept in the JSON
    c.projector.projector_outdim = 128;
    c.projector.mm_hidden_size = 256;
    c.projector.hidden_size = 128;
    c.phi.hidden_size = 128;
    c.phi.intermediate_size = 512;
    c.phi.num_hidden_layers = 2;
    c.phi.num_attention_heads = 4;
    c.pixel_decoder.in_channels = {32, 64, 128, 256};
    c.pixel_decoder.conv_dim = 64;
    c.pixel_decoder.mask_dim = 64;
    c.pixel_decoder.transformer_enc_layers = 2;
    c.pixel_decoder.transformer_nheads = 4;
    c.pixel_decoder.transformer_dim_feedforward = 128;
    c.pixel_decoder.enc_n_points = 4;
    c.pixel_decoder.norm_groups = 8;
    c.mask_decoder.hidden_dim = 64;
    c.mask_decoder.in_channels = 64;
    c.mask_decoder.mask_dim = 64;
    c.mask_decoder.num_queries = 24;
    c.mask_decoder.nheads = 4;
    c.mask_decoder.dim_feedforward = 256;
    c.mask_decoder.dec_layers = 3;
    // Its masks are 32 x 32: 1,024 points cover them (upstream's 12,544 are for 256 x 256
    // masks and cost most of a tiny step); tied embeddings halve the 50,297-row vocabulary's
    // share of the shipped file.
    c.phi.tie_word_embeddings = true;
    c.matcher.num_points = 1024;
    c.criterion.num_points = 1024;
    // From random weights, matching interactive batches on masks alone (upstream) leaves the
    // region head without a stable target: any query whose mask fits is an equal match, so the
    // matched query flips between steps and the head never learns which query to pick
    // (docs/results.md, "Why the tiny model learnt slowly").
    c.matcher.cost_region = 2.0;
    return c;
  }

  /// Reads a model folder's config.json, by its "model_type": "psalm" (or absent) is psalm's own
  /// layout (to_json's; by hand: absent top-level fields keep the released model's values,
  /// sub-configs are read by their own from_json); "llava_phi" is the released PSALM folder's
  /// Hugging Face / LLaVA layout (from_llava_phi). Errors name the file and the field.
  static PsalmConfig from_json(const io::ConfigReader& r) {
    const std::string type = r.optional<std::string>("model_type", "psalm");
    if (type == "llava_phi") return from_llava_phi(r);
    PSALM_CHECK(type == "psalm", r.source(), ": model_type \"", type,
                "\" is not a PSALM config (expected \"psalm\", or \"llava_phi\" for the "
                "released folder)");
    PsalmConfig c;
    c.read_fields(r);
    c.checked(r);
    return c;
  }

  /// The released folder's config.json (model_type "llava_phi", PSALM_SPEC §7.1; the rule is
  /// docs/checkpoints.md's): Phi from the top level (transformers' PhiConfig fields; PSALM's
  /// lm_head has no bias unless "lm_head_bias" says so), the projector from the top-level
  /// LLaVA fields (mm_projector_type, mm_input_embeds, projector_outdim, ...), Swin-B 384 for
  /// "swin_type": "base". What Hugging Face's file does not state (Swin's and the decoders'
  /// shapes, image size, mask tokens, token ids, condition mode) is the released model's, or
  /// psalm's own fields in an optional "psalm" object (written by `psalm init` and the tiny
  /// fixtures; a "phi" inside it is an error: Phi is the top level's). "mask_decode_train":
  /// false is refused (such a model has no mask decoder).
  static PsalmConfig from_llava_phi(const io::ConfigReader& r) {
    PsalmConfig c = psalm_swin_b_phi_1_5();
    PSALM_CHECK(r.optional<bool>("mask_decode_train", true), r.source(),
                ": mask_decode_train is false: the checkpoint has no mask decoder, so it is not a "
                "PSALM segmentation model");
    const std::string swin_type = r.optional<std::string>("swin_type", "base");
    const bool own = r.has("psalm");
    if (own) {
      const io::ConfigReader p = r.child("psalm");
      PSALM_CHECK(!p.has("phi"), r.source(),
                  ": psalm.phi is not read for model_type \"llava_phi\"; Phi's fields are the "
                  "top level's");
      c.read_fields(p);
    }
    if (!own || !r.child("psalm").has("swin"))
      PSALM_CHECK(swin_type == "base", r.source(), ": swin_type \"", swin_type,
                  "\" is not known (PSALM releases \"base\": Swin-B 384); give psalm.swin");
    c.phi = models::phi::PhiConfig::from_json(r);
    c.phi.lm_head_bias = r.optional<bool>("lm_head_bias", false);
    if (!own || !r.child("psalm").has("projector"))
      c.projector = models::projector::ProjectorConfig::from_json(r);
    c.checked(r);
    return c;
  }

  /// Every field, in the layout from_json reads.
  nlohmann::json to_json() const {
    nlohmann::json j;
    j["model_type"] = "psalm";
    j["image_size"] = image_size;
    j["num_mask_tokens"] = num_mask_tokens;
    j["condition_mode"] = to_string(condition_mode);
    j["seg_token_id"] = seg_token_id;
    j["pad_token_id"] = pad_token_id;
    j["ref_token_id"] = ref_token_id ? nlohmann::json(*ref_token_id) : nlohmann::json(nullptr);
    j["region_num_points"] = region_num_points;
    j["model_max_length"] = model_max_length;
    j["swin"] = {{"num_channels", swin.num_channels},     {"patch_size", swin.patch_size},
                 {"embed_dim", swin.embed_dim},           {"depths", swin.depths},
                 {"num_heads", swin.num_heads},           {"window_size", swin.window_size},
                 {"mlp_ratio", swin.mlp_ratio},           {"qkv_bias", swin.qkv_bias},
                 {"drop_path_rate", swin.drop_path_rate}, {"layer_norm_eps", swin.layer_norm_eps},
                 {"patch_norm", swin.patch_norm},         {"out_indices", swin.out_indices}};
    j["projector"] = {{"mm_projector_type", projector.mm_projector_type},
                      {"mm_input_embeds", projector.mm_input_embeds},
                      {"projector_outdim", projector.projector_outdim},
                      {"swin_conv_planes", projector.swin_conv_planes},
                      {"conv2_applied_twice", projector.conv2_applied_twice},
                      {"batch_norm_eps", projector.batch_norm_eps},
                      {"batch_norm_momentum", projector.batch_norm_momentum},
                      {"mm_hidden_size", projector.mm_hidden_size},
                      {"hidden_size", projector.hidden_size}};
    auto optional_id = [](const std::optional<std::int64_t>& v) {
      return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    };
    j["phi"] = {{"vocab_size", phi.vocab_size},
                {"hidden_size", phi.hidden_size},
                {"intermediate_size", phi.intermediate_size},
                {"num_hidden_layers", phi.num_hidden_layers},
                {"num_attention_heads", phi.num_attention_heads},
                {"partial_rotary_factor", phi.partial_rotary_factor},
                {"rope_theta", phi.rope_theta},
                {"layer_norm_eps", phi.layer_norm_eps},
                {"hidden_act", phi.hidden_act},
                {"max_position_embeddings", phi.max_position_embeddings},
                {"tie_word_embeddings", phi.tie_word_embeddings},
                {"qk_layernorm", phi.qk_layernorm},
                {"pad_token_id", optional_id(phi.pad_token_id)},
                {"eos_token_id", optional_id(phi.eos_token_id)},
                {"lm_head_bias", phi.lm_head_bias}};
    const auto& pd = pixel_decoder;
    j["pixel_decoder"] = {{"in_channels", pd.in_channels},
                          {"conv_dim", pd.conv_dim},
                          {"mask_dim", pd.mask_dim},
                          {"transformer_enc_layers", pd.transformer_enc_layers},
                          {"transformer_nheads", pd.transformer_nheads},
                          {"transformer_dim_feedforward", pd.transformer_dim_feedforward},
                          {"enc_n_points", pd.enc_n_points},
                          {"norm_groups", pd.norm_groups}};
    const auto& md = mask_decoder;
    j["mask_decoder"] = {{"in_channels", md.in_channels},
                         {"hidden_dim", md.hidden_dim},
                         {"num_queries", md.num_queries},
                         {"nheads", md.nheads},
                         {"dim_feedforward", md.dim_feedforward},
                         {"dec_layers", md.dec_layers},
                         {"pre_norm", md.pre_norm},
                         {"mask_dim", md.mask_dim},
                         {"enforce_input_project", md.enforce_input_project},
                         {"num_feature_levels", md.num_feature_levels}};
    j["matcher"] = {{"cost_class", matcher.cost_class},
                    {"cost_mask", matcher.cost_mask},
                    {"cost_dice", matcher.cost_dice},
                    {"cost_region", matcher.cost_region},
                    {"num_points", matcher.num_points}};
    j["criterion"] = {{"class_weight", criterion.class_weight},
                      {"mask_weight", criterion.mask_weight},
                      {"dice_weight", criterion.dice_weight},
                      {"no_object_weight", criterion.no_object_weight},
                      {"num_points", criterion.num_points},
                      {"oversample_ratio", criterion.oversample_ratio},
                      {"importance_sample_ratio", criterion.importance_sample_ratio},
                      {"deep_supervision", criterion.deep_supervision}};
    return j;
  }

 private:
  /// psalm's own fields of `r` over this config's (absent ones kept).
  void read_fields(const io::ConfigReader& r) {
    r.read("image_size", image_size);
    r.read("num_mask_tokens", num_mask_tokens);
    try {
      condition_mode = parse_condition_mode(
          r.optional<std::string>("condition_mode", std::string(to_string(condition_mode))));
    } catch (const Error& e) {
      fail(r.source(), ": ", e.what());
    }
    r.read("seg_token_id", seg_token_id);
    r.read("pad_token_id", pad_token_id);
    if (r.has("ref_token_id"))
      ref_token_id = r.optional<std::optional<std::int64_t>>("ref_token_id", std::nullopt);
    r.read("region_num_points", region_num_points);
    r.read("model_max_length", model_max_length);
    if (r.has("swin")) swin = models::swin::SwinConfig::from_json(r.child("swin"));
    if (r.has("projector"))
      projector = models::projector::ProjectorConfig::from_json(r.child("projector"));
    if (r.has("phi")) phi = models::phi::PhiConfig::from_json(r.child("phi"));
    if (r.has("pixel_decoder"))
      pixel_decoder = models::deformable::PixelDecoderConfig::from_json(r.child("pixel_decoder"));
    if (r.has("mask_decoder"))
      mask_decoder = models::mask2former::MaskDecoderConfig::from_json(r.child("mask_decoder"));
    if (r.has("matcher")) matcher = MatcherConfig::from_json(r.child("matcher"));
    if (r.has("criterion")) criterion = CriterionConfig::from_json(r.child("criterion"));
  }
  /// validate(), its error naming the file.
  void checked(const io::ConfigReader& r) const {
    try {
      validate();
    } catch (const Error& e) {
      fail(r.source(), ": ", e.what());
    }
  }
};

}  // namespace psalm
