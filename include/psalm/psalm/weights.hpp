// psalm/psalm/weights.hpp — loading a whole PSALM model from a checkpoint in the released
// layout (PSALM_SPEC §7.1): one strict pass over the model's state-dict names, with Phi's fused
// `query_key_value` (the released file, transformers 4.36) shown as split q/k/v, and the
// released file's quirks accepted: buffers the model recomputes (relative_position_index,
// num_batches_tracked) may be absent, and so may the two decoder parameters no forward reads
// (`predictor.query_feat.weight`, `predictor.SEG_query_embed.weight`: they keep their initial
// values); `lm_head.bias` (Phi's, dropped by PSALM) may be present and is not read. Every other
// name is strict (docs/checkpoints.md).
// Depends on: nn/state_dict, models/phi/weights, psalm/model. Test: tests/psalm/test_model.cpp,
// tests/psalm/test_released.cpp.
#pragma once

#include <string>
#include <vector>

#include "psalm/models/phi/weights.hpp"
#include "psalm/nn/state_dict.hpp"
#include "psalm/psalm/model.hpp"

namespace psalm {

/// The parameters of PsalmModel that no forward pass reads (Mask2Former's own queries, kept so
/// the state dict matches upstream's); a checkpoint may lack them.
inline const std::vector<std::string>& unused_psalm_parameters() {
  static const std::vector<std::string> names{"predictor.query_feat.weight",
                                              "predictor.SEG_query_embed.weight"};
  return names;
}

/// Loads every parameter and buffer of `model` from `source` strictly: a missing, unexpected
/// or mis-shaped tensor is an error that names it (except the quirks above). `prefix` is prepended
/// to every released name (a file that holds the model under, e.g., "module."); only names under it
/// are read.
template <Real T, Device Dev, nn::WeightSource S>
nn::LoadReport load_psalm_weights(PsalmModel<T, Dev>& model, const S& source,
                                  const std::string& prefix = {}) {
  const nn::LoadOptions options{
      .prefix = prefix, .allow_missing = unused_psalm_parameters(), .ignore = {"lm_head.bias"}};
  if (models::phi::has_fused_qkv(source))
    return nn::load_state_dict(
        model, models::phi::FusedQkvAsSplit<S>(source, model.config().phi.num_attention_heads),
        options);
  return nn::load_state_dict(model, source, options);
}

}  // namespace psalm
