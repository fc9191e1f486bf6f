// psalm/nn/component.hpp — a Component: a named piece of a model (Phi, Swin, deformable
// attention, ...) run on named input tensors (and a JSON config and weights where it has them),
// returning named output tensors; `psalm forward` lists those of models/*/component.hpp.
// Depends on: nn/{state_dict, init}, io/{json_config, safetensors}.
// Test: tests/swin/test_component.cpp (and every tests/<model>/test_component.cpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/io/json_config.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/state_dict.hpp"

namespace psalm::nn {

/// The inputs of one component run. Errors name the option and tensor.
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
                "\" (it holds: ", detail::joined(inputs->names()), ")");
    return inputs->template load<T>(name);
  }
  /// The per-sample row counts of a stacked input: `counts_name` (B) holds how many of the
  /// `rows` rows of `stacked_name` belong to each sample (sample b's rows follow sample
  /// b-1's): whole numbers >= 0 that sum to `rows`.
  std::vector<std::int64_t> row_counts(std::string_view counts_name, std::string_view stacked_name,
                                       std::int64_t rows, std::int64_t batch) const {
    PSALM_CHECK(has_input(counts_name), component, ": ", stacked_name, " needs ", counts_name,
                " (B), the number of rows of each sample");
    const Tensor<double> counts = input<double>(counts_name);  // (B)
    PSALM_CHECK(counts.rank() == 1 && counts.size(0) == batch, component, ": ", counts_name,
                " must be (B) = (", batch, "), got ", counts.shape());
    std::vector<std::int64_t> out;
    std::int64_t start = 0;
    for (std::int64_t b = 0; b < batch; ++b) {
      const double k = counts.item({b});
      PSALM_CHECK(k >= 0 && k == std::floor(k) && start + static_cast<std::int64_t>(k) <= rows,
                  component, ": ", counts_name, "[", b, "] = ", k,
                  " must be a whole number >= 0 and the counts may not exceed the ", rows,
                  " rows of ", stacked_name);
      out.push_back(static_cast<std::int64_t>(k));
      start += out.back();
    }
    PSALM_CHECK(start == rows, component, ": ", counts_name, " sum to ", start, " but ",
                stacked_name, " has ", rows, " rows");
    return out;
  }
  const io::ConfigReader& require_config() const {
    PSALM_CHECK(config != nullptr, component, " needs --config FILE.json");
    return *config;
  }
  const io::SafetensorsCheckpoint& require_weights() const {
    PSALM_CHECK(weights != nullptr, component, " needs --weights FILE.safetensors");
    return *weights;
  }
  /// What a model component does before its forward: `module`'s weights loaded strictly from
  /// --weights under --prefix (nn::load_state_dict), then eval mode.
  template <Real T>
  void load_for_eval(Module<T>& module) const {
    load_state_dict(module, require_weights(), {.prefix = weights_prefix});
    module.eval();
  }
  /// The module M(config, rng) built and then load_for_eval'ed (its initial values are all
  /// overwritten by the strict load).
  template <class M, class Config>
  M load_model(const Config& config) const {
    InitRng rng{0};
    M module(config, rng);
    load_for_eval(module);
    return module;
  }
};

/// Named float32 outputs, written in insertion order.
using ComponentOutputs = StateDict<float>;

struct Component {
  std::string name;
  std::string summary;
  std::string inputs_help;   ///< e.g. "input_ids (B, L) int64 | inputs_embeds (B, L, D)"
  std::string outputs_help;  ///< e.g. "last_hidden_state (B, L, D), logits (B, L, V)"
  std::function<ComponentOutputs(const ComponentRequest&)> run;
};

}  // namespace psalm::nn
