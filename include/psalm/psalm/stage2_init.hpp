// psalm/psalm/stage2_init.hpp — PSALM's stage-2 starting point (PSALM_SPEC §4.3) assembled from
// the published inits, natively: Swin-B, the pixel decoder and the masked-attention decoder from a
// Mask2Former checkpoint (model_final_*.pkl, spec §7.3: `backbone.*`;
// `sem_seg_head.pixel_decoder.*` with adapter_1 / layer_1 renamed and their new conv biases 0;
// `sem_seg_head.predictor.*` with class_embed dropped and PSALM's SEG_proj / CLASS_proj /
// REGION_proj / SEG_query_embed left fresh), Phi from a Hugging Face folder (config.json,
// safetensors or pytorch_model.bin, either q/k/v layout; the vocabulary resized as PSALM's
// tokenizer additions do, lm_head.bias dropped), the projector from stage 1's mm_projector.bin (the
// names containing "mm_projector."); every other tensor keeps the model's own fresh initialisation.
// What `psalm init` runs. Host code. Depends on: psalm/{model, weights}, models/{phi/weights,
// deformable/pixel_decoder}, io/{checkpoint, json_config}. Test: tests/cli/test_init.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/checkpoint.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/models/deformable/pixel_decoder.hpp"
#include "psalm/models/phi/weights.hpp"
#include "psalm/nn/state_dict.hpp"
#include "psalm/psalm/model.hpp"
#include "psalm/psalm/weights.hpp"
#include "psalm/tensor.hpp"  // the CPU backend: psalm init runs on the CPU

namespace psalm {

/// The three published inits.
struct Stage2Inits {
  std::filesystem::path m2f;        ///< Mask2Former checkpoint (.pkl, or any format io reads)
  std::filesystem::path phi;        ///< Hugging Face Phi folder
  std::filesystem::path projector;  ///< stage 1's mm_projector.bin
  std::uint64_t seed = 0;           ///< the [SEG] row's N(0, 0.02) draw
};

/// Which of the model's tensors came from where (names as in the model's state dict).
struct Stage2Report {
  std::int64_t from_m2f = 0;        ///< tensors taken from the Mask2Former checkpoint
  std::int64_t from_phi = 0;        ///< tensors taken from the Phi folder
  std::int64_t from_projector = 0;  ///< tensors taken from mm_projector.bin
  std::vector<std::string> fresh;   ///< tensors left at the model's initialisation
};

namespace detail {

/// Phi's weights in a Hugging Face folder: sharded or single safetensors, else
/// pytorch_model.bin (read by the restricted torch reader).
inline io::RecordCheckpoint open_phi_weights(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (fs::exists(dir / "model.safetensors.index.json") || fs::exists(dir / "model.safetensors"))
    return io::open_checkpoint(dir);
  PSALM_CHECK(fs::is_regular_file(dir / "pytorch_model.bin"), dir.string(),
              ": no Phi weights (model.safetensors, model.safetensors.index.json or "
              "pytorch_model.bin)");
  return io::open_checkpoint(dir / "pytorch_model.bin");
}

/// Throws unless the Hugging Face Phi config has the model's architecture (the vocabulary and
/// lm_head's bias aside).
inline void check_phi_fits(const models::phi::PhiConfig& hf, const models::phi::PhiConfig& want,
                           const std::string& source) {
  auto same = [&](const char* field, auto a, auto b) {
    PSALM_CHECK(a == b, source, ": ", field, " is ", a, " but the model's is ", b);
  };
  same("hidden_size", hf.hidden_size, want.hidden_size);
  same("intermediate_size", hf.intermediate_size, want.intermediate_size);
  same("num_hidden_layers", hf.num_hidden_layers, want.num_hidden_layers);
  same("num_attention_heads", hf.num_attention_heads, want.num_attention_heads);
  same("partial_rotary_factor", hf.partial_rotary_factor, want.partial_rotary_factor);
  same("rope_theta", hf.rope_theta, want.rope_theta);
  same("layer_norm_eps", hf.layer_norm_eps, want.layer_norm_eps);
  same("hidden_act", hf.hidden_act, want.hidden_act);
  same("qk_layernorm", hf.qk_layernorm, want.qk_layernorm);
}

/// The common prefix up to and including "mm_projector." of the names holding it.
inline std::string projector_prefix(const io::RecordCheckpoint& ckpt) {
  static const std::string tag = "mm_projector.";
  std::string prefix;
  for (const std::string& name : ckpt.names()) {
    const auto at = name.find(tag);
    if (at == std::string::npos) continue;
    const std::string p = name.substr(0, at + tag.size());
    PSALM_CHECK(prefix.empty() || p == prefix, ckpt.source(),
                ": projector names under two prefixes (\"", prefix, "\" and \"", p, "\")");
    prefix = p;
  }
  PSALM_CHECK(!prefix.empty(), ckpt.source(), ": no tensor name contains \"mm_projector.\"");
  return prefix;
}

}  // namespace detail

/// Overwrites `model`'s Swin, pixel decoder, decoder, projector and Phi with the inits (strict
/// per part: a missing, unexpected or mis-shaped tensor is an error naming it and the file).
inline Stage2Report init_stage2(PsalmModel<float>& model, const Stage2Inits& in) {
  namespace fs = std::filesystem;
  const PsalmConfig& config = model.config();
  Stage2Report report;
  std::set<std::string> loaded;
  auto note = [&](const nn::LoadReport& r, const std::string& under, std::int64_t& count) {
    for (const std::string& name : r.loaded) loaded.insert(under + name);
    count += static_cast<std::int64_t>(r.loaded.size());
  };
  auto in_file = [](const fs::path& file, auto&& load) {
    try {
      return load();
    } catch (const Error& e) {
      fail(file.string(), ": ", e.what());
    }
  };

  // Mask2Former: Swin, the pixel decoder (renamed), the decoder (PSALM's new heads fresh).
  const io::RecordCheckpoint m2f = io::open_checkpoint(in.m2f);
  in_file(in.m2f, [&] {
    nn::LoadReport r = nn::load_state_dict(model.model.vision_tower, m2f, {.prefix = "backbone."});
    for (std::string& n : r.loaded) n = n.substr(std::string("backbone.").size());
    note(r, "model.vision_tower.", report.from_m2f);
    const std::string pd = "sem_seg_head.pixel_decoder.";
    r = nn::load_state_dict(model.pixel_decoder,
                            models::deformable::Mask2FormerPixelDecoderNames(m2f, pd),
                            {.prefix = pd});
    for (std::string& n : r.loaded) n = n.substr(pd.size());
    note(r, "pixel_decoder.", report.from_m2f);
    const std::string pr = "sem_seg_head.predictor.";
    r = nn::load_state_dict(
        model.predictor, m2f,
        {.prefix = pr,
         .allow_missing = {"SEG_proj.", "CLASS_proj.", "REGION_proj.", "SEG_query_embed."},
         .ignore = {"class_embed."}});
    for (std::string& n : r.loaded) n = n.substr(pr.size());
    note(r, "predictor.", report.from_m2f);
    return 0;
  });

  // Stage 1's projector.
  const io::RecordCheckpoint proj = io::open_checkpoint(in.projector);
  in_file(in.projector, [&] {
    const std::string prefix = detail::projector_prefix(proj);
    nn::LoadReport r = nn::load_state_dict(*model.model.mm_projector, proj, {.prefix = prefix});
    for (std::string& n : r.loaded) n = n.substr(prefix.size());
    note(r, "model.mm_projector.", report.from_projector);
    return 0;
  });

  // Phi: its own vocabulary and lm_head first, then resized as PSALM's tokenizer additions do.
  const fs::path phi_config = in.phi / "config.json";
  PSALM_CHECK(fs::is_regular_file(phi_config), in.phi.string(),
              " is not a Hugging Face Phi folder: it has no config.json");
  const models::phi::PhiConfig hf =
      models::phi::PhiConfig::from_json(io::ConfigReader::from_file(phi_config));
  detail::check_phi_fits(hf, config.phi, phi_config.string());
  PSALM_CHECK(!hf.tie_word_embeddings && !config.phi.tie_word_embeddings, phi_config.string(),
              ": tied word embeddings are not PSALM's layout");
  const std::int64_t fresh_from = std::min(config.pad_token_id, config.seg_token_id);
  PSALM_CHECK(fresh_from <= hf.vocab_size && fresh_from >= 1, phi_config.string(), ": vocab_size ",
              hf.vocab_size, " is smaller than PSALM's first added token id ", fresh_from,
              " ([PAD] / [SEG])");
  const io::RecordCheckpoint phi_weights = detail::open_phi_weights(in.phi);
  nn::InitRng none = nn::InitRng::for_loading();
  models::phi::PhiForCausalLM<float> lm(hf, none);
  in_file(in.phi, [&] {
    return nn::load_state_dict(lm,
                               models::phi::FusedQkvAsSplit(phi_weights, hf.num_attention_heads));
  });
  // Rows below the first added token are Phi's; [PAD] is their mean; other new rows N(0, 0.02).
  models::phi::resize_token_embeddings(
      lm, {config.phi.vocab_size, fresh_from, {config.pad_token_id}, 0.02, in.seed});
  const nn::StateDict<float> phi = nn::state_dict(lm);
  nn::LoadReport r = nn::load_state_dict(model.model.phi, phi, {.prefix = "model."});
  for (std::string& n : r.loaded) n = n.substr(std::string("model.").size());
  note(r, "model.", report.from_phi);
  r = nn::load_state_dict(model.lm_head, phi, {.prefix = "lm_head.", .ignore = {"bias"}});
  for (std::string& n : r.loaded) n = n.substr(std::string("lm_head.").size());
  note(r, "lm_head.", report.from_phi);

  for (const auto& [name, t] : nn::state_dict(model))
    if (!loaded.contains(name)) report.fresh.push_back(name);
  return report;
}

}  // namespace psalm
