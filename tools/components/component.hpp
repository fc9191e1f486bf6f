// tools/components/component.hpp — what `psalm forward` runs: a Component is a named piece of
// the model (Phi, Swin, the projector, deformable attention, ...) that reads named input tensors
// (and, when it has them, a config and weights) and returns named output tensors. Each component
// lives in tools/components/<name>.hpp as `inline Component <name>_component()` and is listed
// in tools/commands/forward.hpp. docs/cli.md documents each component's inputs and outputs.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "psalm/io/json_config.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/nn/state_dict.hpp"

namespace psalm::cli {

/// The inputs of one `psalm forward` run. Errors name the option and tensor.
struct ComponentRequest {
  const io::SafetensorsCheckpoint* inputs = nullptr;   ///< --inputs
  const io::ConfigReader* config = nullptr;            ///< --config, or null
  const io::SafetensorsCheckpoint* weights = nullptr;  ///< --weights, or null
  std::string weights_prefix;                          ///< --prefix ("" unless given)
  std::string component;                               ///< the component's name, for messages

  bool has_input(std::string_view name) const { return inputs->contains(name); }
  /// A required input converted to T ("float32" inputs are read as they are).
  template <Scalar T = float>
  Tensor<T> input(std::string_view name) const {
    PSALM_CHECK(inputs->contains(name), component, ": --inputs has no tensor named \"", name,
                "\" (it holds: ", nn::detail::joined(inputs->names()), ")");
    return inputs->template load<T>(name);
  }
  const io::ConfigReader& require_config() const {
    PSALM_CHECK(config != nullptr, component, " needs --config FILE.json");
    return *config;
  }
  const io::SafetensorsCheckpoint& require_weights() const {
    PSALM_CHECK(weights != nullptr, component, " needs --weights FILE.safetensors");
    return *weights;
  }
};

/// Named float32 outputs, written in insertion order.
using ComponentOutputs = nn::StateDict<float>;

struct Component {
  std::string name;
  std::string summary;
  std::string inputs_help;   ///< e.g. "input_ids (B, L) int64 | inputs_embeds (B, L, D)"
  std::string outputs_help;  ///< e.g. "last_hidden_state (B, L, D), logits (B, L, V)"
  std::function<ComponentOutputs(const ComponentRequest&)> run;
};

}  // namespace psalm::cli
