// psalm/models/phi/component.hpp — the `phi` component of `psalm forward` (nn::Component):
// Phi-1.5 (or any Phi config.json) on input_ids or inputs_embeds, weights in either layout (split
// q/k/v or fused query_key_value), returning the final-normed hidden states and, when the weights
// hold an lm_head (or the config ties the word embeddings), the logits.
// Depends on: models/phi, nn/component. Test: tests/phi/test_component.cpp.
// Host code: a component runs on the CPU backend (psalm/tensor.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/models/phi.hpp"
#include "psalm/nn/component.hpp"
#include "psalm/tensor.hpp"  // the CPU backend: a component runs on the CPU

namespace psalm::models::phi {

inline nn::Component phi_component() {
  nn::Component c;
  c.name = "phi";
  c.summary =
      "Phi-1.5 language model (Hugging Face Phi config.json; weights with split q_proj/k_proj/"
      "v_proj or fused query_key_value, with or without the `model.` / lm_head wrapper)";
  c.inputs_help =
      "input_ids (B, L) int64 | inputs_embeds (B, L, D); optional attention_mask (B, L), any "
      "dtype (nonzero = token, 0 = right padding)";
  c.outputs_help =
      "last_hidden_state (B, L, D); logits (B, L, V) when the weights hold lm_head.weight or the "
      "config ties the word embeddings";
  c.run = [](const nn::ComponentRequest& req) {
    PhiConfig config = PhiConfig::from_json(req.require_config());
    const io::SafetensorsCheckpoint& weights = req.require_weights();
    const std::string& prefix = req.weights_prefix;
    // A causal-LM checkpoint holds model.embed_tokens.weight; a bare PhiModel embed_tokens.weight.
    const bool wrapped = weights.contains(prefix + "model.embed_tokens.weight");
    PSALM_CHECK(wrapped || weights.contains(prefix + "embed_tokens.weight"), req.component,
                ": --weights holds neither \"", prefix, "model.embed_tokens.weight\" nor \"",
                prefix, "embed_tokens.weight\"");
    // Logits from lm_head, or (tie_word_embeddings, no lm_head entry) from the embedding.
    const bool has_head =
        wrapped && (config.tie_word_embeddings || weights.contains(prefix + "lm_head.weight"));
    config.lm_head_bias =
        has_head && !config.tie_word_embeddings && weights.contains(prefix + "lm_head.bias");

    const bool by_ids = req.has_input("input_ids");
    PSALM_CHECK(by_ids != req.has_input("inputs_embeds"), req.component,
                ": give exactly one of input_ids and inputs_embeds");
    Tensor<std::int64_t> mask;
    if (req.has_input("attention_mask")) {  // any dtype: nonzero = token
      const Tensor<float> m = req.input<float>("attention_mask");
      mask = Tensor<std::int64_t>(m.shape());
      const std::vector<float> v = m.contiguous().to_vector();
      for (std::size_t i = 0; i < v.size(); ++i) mask.data()[i] = v[i] != 0.0f ? 1 : 0;
    }
    autograd::NoGrad no_grad;
    nn::InitRng rng{0};
    nn::ComponentOutputs out;
    const FusedQkvAsSplit source(weights, config.num_attention_heads);  // either layout
    auto run_model = [&](auto& model) {
      if (by_ids) return model(req.input<std::int64_t>("input_ids"), mask);
      return model(autograd::Var<float>(req.input<float>("inputs_embeds")), mask);
    };
    if (has_head) {
      PhiForCausalLM<float> lm(config, rng);
      nn::load_state_dict(lm, source, {.prefix = prefix});
      const autograd::Var<float> hidden = run_model(lm.model);  // (B, L, D)
      out.insert("last_hidden_state", hidden.value());
      out.insert("logits", lm.logits(hidden).value());  // (B, L, V)
    } else {
      PhiModel<float> model(config, rng);
      nn::load_state_dict(model, source, {.prefix = wrapped ? prefix + "model." : prefix});
      out.insert("last_hidden_state", run_model(model).value());  // (B, L, D)
    }
    return out;
  };
  return c;
}

}  // namespace psalm::models::phi
