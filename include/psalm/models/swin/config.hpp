// psalm/models/swin/config.hpp — SwinConfig: the hyper-parameters of the Swin Transformer
// backbone, with the field names of Hugging Face's SwinConfig (config.json keys), presets
// (PSALM's / Mask2Former's Swin-B 384, Swin-T, tiny test configs) and from_json.
// Depends on: io/json_config, core/error. Test: tests/swin/test_swin_parts.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"

namespace psalm::models::swin {

/// Swin hyper-parameters. Field names follow transformers' SwinConfig; `patch_norm` is
/// Mask2Former's (HF always normalises the patch embedding). `out_indices` counts stages as HF
/// does (0 = the stem, 1..num_stages = the stages): stage s is returned as res{s+1} after its
/// own LayerNorm `norm{s-1}`, as Mask2Former's D2SwinTransformer names them.
struct SwinConfig {
  std::int64_t num_channels = 3;
  std::int64_t patch_size = 4;
  std::int64_t embed_dim = 96;
  std::vector<std::int64_t> depths{2, 2, 6, 2};
  std::vector<std::int64_t> num_heads{3, 6, 12, 24};
  std::int64_t window_size = 7;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double drop_path_rate = 0.1;
  double layer_norm_eps = 1e-5;
  bool patch_norm = true;
  std::vector<std::int64_t> out_indices{1, 2, 3, 4};

  std::int64_t num_stages() const { return static_cast<std::int64_t>(depths.size()); }
  /// Channels of stage s (0-based): embed_dim * 2^s.
  std::int64_t stage_dim(std::int64_t s) const { return embed_dim << s; }
  std::int64_t total_blocks() const {
    std::int64_t n = 0;
    for (std::int64_t d : depths) n += d;
    return n;
  }
  /// True when stage s (0-based) is returned (HF out_index s + 1).
  bool stage_is_output(std::int64_t s) const {
    for (std::int64_t i : out_indices)
      if (i == s + 1) return true;
    return false;
  }

  /// Throws psalm::Error naming the first inconsistent field.
  void validate() const {
    PSALM_CHECK(num_channels > 0 && patch_size > 0 && embed_dim > 0,
                "SwinConfig: num_channels, patch_size and embed_dim must be positive, got ",
                num_channels, ", ", patch_size, ", ", embed_dim);
    PSALM_CHECK(!depths.empty() && depths.size() == num_heads.size(),
                "SwinConfig: depths and num_heads must have one entry per stage, got ",
                depths.size(), " and ", num_heads.size());
    PSALM_CHECK(depths.size() <= 8, "SwinConfig: at most 8 stages, got ", depths.size());
    for (std::size_t s = 0; s < depths.size(); ++s) {
      PSALM_CHECK(depths[s] > 0, "SwinConfig: depths[", s, "] must be positive, got ", depths[s]);
      PSALM_CHECK(num_heads[s] > 0 && stage_dim(static_cast<std::int64_t>(s)) % num_heads[s] == 0,
                  "SwinConfig: num_heads[", s, "] = ", num_heads[s], " must divide the stage's ",
                  stage_dim(static_cast<std::int64_t>(s)), " channels");
    }
    PSALM_CHECK(window_size >= 2, "SwinConfig: window_size must be at least 2, got ", window_size);
    PSALM_CHECK(mlp_ratio > 0.0, "SwinConfig: mlp_ratio must be positive, got ", mlp_ratio);
    PSALM_CHECK(drop_path_rate >= 0.0 && drop_path_rate < 1.0,
                "SwinConfig: drop_path_rate must be in [0, 1), got ", drop_path_rate);
    PSALM_CHECK(layer_norm_eps > 0.0, "SwinConfig: layer_norm_eps must be positive, got ",
                layer_norm_eps);
    PSALM_CHECK(!out_indices.empty(), "SwinConfig: out_indices is empty");
    for (std::int64_t i : out_indices)
      PSALM_CHECK(i >= 1 && i <= num_stages(), "SwinConfig: out_indices entry ", i,
                  " is not a stage (1..", num_stages(), "; 0, the stem, is not supported)");
  }

  /// PSALM's encoder: Mask2Former's Swin-B, 384 px ImageNet-21k (spec §1.2).
  static SwinConfig swin_b_384() {
    SwinConfig c;
    c.embed_dim = 128;
    c.depths = {2, 2, 18, 2};
    c.num_heads = {4, 8, 16, 32};
    c.window_size = 12;
    c.drop_path_rate = 0.3;
    return c;
  }
  /// Swin-T (224 px, window 7), the smallest released Swin.
  static SwinConfig swin_t() {
    SwinConfig c;
    c.drop_path_rate = 0.2;
    return c;
  }
  /// A small four-stage config for tests: 8 channels, window 3, one block in the last stages.
  static SwinConfig tiny() {
    SwinConfig c;
    c.embed_dim = 8;
    c.depths = {2, 2, 1, 1};
    c.num_heads = {1, 2, 2, 4};
    c.window_size = 3;
    c.drop_path_rate = 0.0;
    return c;
  }

  /// Reads a SwinConfig from a Hugging Face SwinConfig JSON (unknown keys ignored). Keys psalm
  /// does not implement must keep their neutral values: use_absolute_embeddings false, dropout
  /// probabilities 0, hidden_act "gelu". `out_features` ("stage1", ...) is read when
  /// `out_indices` is absent.
  static SwinConfig from_json(const io::ConfigReader& r) {
    SwinConfig c;
    r.read("num_channels", c.num_channels);
    r.read("patch_size", c.patch_size);
    r.read("embed_dim", c.embed_dim);
    r.read("depths", c.depths);
    r.read("num_heads", c.num_heads);
    r.read("window_size", c.window_size);
    r.read("mlp_ratio", c.mlp_ratio);
    r.read("qkv_bias", c.qkv_bias);
    r.read("drop_path_rate", c.drop_path_rate);
    r.read("layer_norm_eps", c.layer_norm_eps);
    r.read("patch_norm", c.patch_norm);
    if (r.has("out_indices")) {
      r.read("out_indices", c.out_indices);
    } else if (r.has("out_features")) {
      const auto names = r.optional<std::vector<std::string>>("out_features", {});
      c.out_indices.clear();
      for (const std::string& n : names) {
        PSALM_CHECK(n.starts_with("stage") && n.size() > 5 &&
                        n.find_first_not_of("0123456789", 5) == std::string::npos,
                    r.source(), ": out_features entry \"", n, "\" is not \"stage<k>\"");
        c.out_indices.push_back(std::stoll(n.substr(5)));
      }
    }
    PSALM_CHECK(!r.optional<bool>("use_absolute_embeddings", false), r.source(),
                ": use_absolute_embeddings = true is not supported (PSALM's Swin has none)");
    for (const char* key : {"hidden_dropout_prob", "attention_probs_dropout_prob"})
      PSALM_CHECK(r.optional<double>(key, 0.0) == 0.0, r.source(), ": ", key,
                  " must be 0 (psalm's Swin has no dropout besides drop path)");
    const std::string act = r.optional<std::string>("hidden_act", "gelu");
    PSALM_CHECK(act == "gelu", r.source(), ": hidden_act \"", act,
                "\" is not supported (Swin uses exact GELU, \"gelu\")");
    try {
      c.validate();
    } catch (const Error& e) {
      fail(r.source(), ": ", e.what());
    }
    return c;
  }
};

}  // namespace psalm::models::swin
