// psalm/models/phi/config.hpp — PhiConfig: the hyper-parameters of Phi-1.5 under the field names
// of Hugging Face's config.json (PSALM_SPEC.md §1.5), read with io::ConfigReader, plus presets.
// Depends on: io/json_config. Test: tests/phi/test_transformers_parity.cpp (transformers'
// config.json).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"

namespace psalm::models::phi {

/// Phi hyper-parameters. Field names are the config.json keys; `lm_head_bias` is ours (HF's
/// Phi always has a biased lm_head; PSALM replaces it by an unbiased one, §1.5).
struct PhiConfig {
  std::int64_t vocab_size = 51200;
  std::int64_t hidden_size = 2048;
  std::int64_t intermediate_size = 8192;
  std::int64_t num_hidden_layers = 24;
  std::int64_t num_attention_heads = 32;
  double partial_rotary_factor = 0.5;
  double rope_theta = 10000.0;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "gelu_new";
  std::int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  bool qk_layernorm = false;
  std::optional<std::int64_t> pad_token_id{};  ///< embedding row that gets no gradient
  std::optional<std::int64_t> eos_token_id{};
  bool lm_head_bias = true;

  std::int64_t head_dim() const { return hidden_size / num_attention_heads; }
  /// Rotary dimensions per head: int(head_dim * partial_rotary_factor), as transformers.
  std::int64_t rotary_dim() const {
    return static_cast<std::int64_t>(static_cast<double>(head_dim()) * partial_rotary_factor);
  }

  /// Checks what the model relies on; errors name the field.
  void validate() const {
    PSALM_CHECK(vocab_size > 0 && hidden_size > 0 && intermediate_size > 0 &&
                    num_hidden_layers >= 0 && num_attention_heads > 0,
                "PhiConfig: sizes must be positive (vocab_size ", vocab_size, ", hidden_size ",
                hidden_size, ", intermediate_size ", intermediate_size, ", num_hidden_layers ",
                num_hidden_layers, ", num_attention_heads ", num_attention_heads, ")");
    PSALM_CHECK(hidden_size % num_attention_heads == 0, "PhiConfig: hidden_size ", hidden_size,
                " is not divisible by num_attention_heads ", num_attention_heads);
    PSALM_CHECK(partial_rotary_factor >= 0.0 && partial_rotary_factor <= 1.0,
                "PhiConfig: partial_rotary_factor must be in [0, 1], got ", partial_rotary_factor);
    PSALM_CHECK(rotary_dim() % 2 == 0, "PhiConfig: rotary dimension ", rotary_dim(),
                " (head_dim * partial_rotary_factor) must be even");
    PSALM_CHECK(rope_theta > 0.0, "PhiConfig: rope_theta must be positive, got ", rope_theta);
    PSALM_CHECK(layer_norm_eps > 0.0, "PhiConfig: layer_norm_eps must be positive, got ",
                layer_norm_eps);
    PSALM_CHECK(hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh",
                "PhiConfig: hidden_act \"", hidden_act,
                "\" is not supported (Phi uses gelu_new, the tanh approximation)");
    PSALM_CHECK(!tie_word_embeddings || !lm_head_bias,
                "PhiConfig: tie_word_embeddings = true shares embed_tokens.weight as the output "
                "projection and needs lm_head_bias = false");
    PSALM_CHECK(!qk_layernorm,
                "PhiConfig: qk_layernorm = true is not supported (Phi-1.5 has none)");
    PSALM_CHECK(!pad_token_id || (*pad_token_id >= 0 && *pad_token_id < vocab_size),
                "PhiConfig: pad_token_id ", pad_token_id.value_or(-1), " is outside [0, ",
                vocab_size, ")");
  }

  /// From a Hugging Face Phi config.json. Required: vocab_size, hidden_size,
  /// intermediate_size, num_hidden_layers, num_attention_heads; the rest default as
  /// transformers' PhiConfig. partial_rotary_factor / rope_theta are read at the top level
  /// or under "rope_parameters" (transformers 5). Unknown keys are ignored.
  static PhiConfig from_json(const io::ConfigReader& r) {
    PhiConfig c;
    c.vocab_size = r.required<std::int64_t>("vocab_size");
    c.hidden_size = r.required<std::int64_t>("hidden_size");
    c.intermediate_size = r.required<std::int64_t>("intermediate_size");
    c.num_hidden_layers = r.required<std::int64_t>("num_hidden_layers");
    c.num_attention_heads = r.required<std::int64_t>("num_attention_heads");
    if (r.has("rope_parameters") && !r.json().at("rope_parameters").is_null()) {
      const io::ConfigReader rope = r.child("rope_parameters");
      rope.read("partial_rotary_factor", c.partial_rotary_factor);
      rope.read("rope_theta", c.rope_theta);
    }
    r.read("partial_rotary_factor", c.partial_rotary_factor);
    r.read("rope_theta", c.rope_theta);
    r.read("layer_norm_eps", c.layer_norm_eps);
    r.read("hidden_act", c.hidden_act);
    r.read("max_position_embeddings", c.max_position_embeddings);
    r.read("tie_word_embeddings", c.tie_word_embeddings);
    r.read("qk_layernorm", c.qk_layernorm);
    c.pad_token_id = r.optional<std::optional<std::int64_t>>("pad_token_id", std::nullopt);
    c.eos_token_id = r.optional<std::optional<std::int64_t>>("eos_token_id", std::nullopt);
    r.read("lm_head_bias", c.lm_head_bias);
    const auto kv_heads =
        r.optional<std::optional<std::int64_t>>("num_key_value_heads", std::nullopt);
    PSALM_CHECK(!kv_heads || *kv_heads == c.num_attention_heads, r.source(),
                ": num_key_value_heads = ", kv_heads.value_or(0),
                " differs from num_attention_heads = ", c.num_attention_heads,
                "; grouped-query attention is not supported");
    c.validate();
    return c;
  }

  /// Phi-1.5 (microsoft/phi-1_5): 24 layers, hidden 2048, 32 heads, rotary 32 of 64.
  static PhiConfig phi_1_5() { return PhiConfig{}; }

  /// PSALM's LLM: Phi-1.5 with the vocabulary resized to 50,297 and an unbiased lm_head.
  static PhiConfig psalm() {
    PhiConfig c = phi_1_5();
    c.vocab_size = 50297;
    c.lm_head_bias = false;
    return c;
  }

  /// The smallest config worth testing: 1 layer, hidden 8, 2 heads (head_dim 4, rotary 2).
  static PhiConfig tiny() {
    PhiConfig c;
    c.vocab_size = 16;
    c.hidden_size = 8;
    c.intermediate_size = 16;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 2;
    c.max_position_embeddings = 64;
    return c;
  }

  /// A small config for tests: 2 layers, hidden 64, 4 heads, vocabulary 1,000.
  static PhiConfig small() {
    PhiConfig c;
    c.vocab_size = 1000;
    c.hidden_size = 64;
    c.intermediate_size = 256;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.max_position_embeddings = 256;
    return c;
  }
};

}  // namespace psalm::models::phi
