// tools/commands/forward.hpp — `psalm forward --component NAME [--config C.json] [--weights W]
// --inputs I.safetensors --out O.safetensors`: runs one registered component on named input
// tensors and writes its named outputs (float32) atomically. This is the parity harness: save
// inputs from PyTorch, run both, compare the outputs. `psalm forward --list` shows the
// components with their inputs and outputs. Non-finite inputs are refused (a harness must not
// turn NaN into numbers), and a wrong --prefix gets the prefix the weights file has.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "psalm/io/safetensors_writer.hpp"
#include "psalm/models/deformable/component.hpp"
#include "psalm/models/mask2former/component.hpp"
#include "psalm/models/phi/component.hpp"
#include "psalm/models/projector/component.hpp"
#include "psalm/models/swin/component.hpp"
#include "psalm/nn/component.hpp"
#include "psalm/psalm/component.hpp"

namespace psalm::cli {

using nn::Component;
using nn::ComponentOutputs;
using nn::ComponentRequest;

/// Every component `psalm forward` knows, in the order `--list` prints them.
inline const std::vector<Component>& forward_components() {
  static const std::vector<Component> table = {
      models::phi::phi_component(),
      models::swin::swin_component(),
      models::projector::projector_component(),
      models::deformable::ms_deform_attn_component(),
      models::deformable::pixel_decoder_component(),
      models::mask2former::mask_decoder_component(),
      psalm_component(),
  };
  return table;
}

inline const Component& find_component(const std::string& name) {
  std::string known;
  for (const Component& c : forward_components()) {
    if (c.name == name) return c;
    known += (known.empty() ? "" : ", ") + c.name;
  }
  throw UsageError("unknown --component '" + name +
                   "' (known: " + (known.empty() ? std::string("none") : known) + ")");
}

/// Throws unless every floating-point input is finite: psalm's kernels need not propagate NaN
/// or inf as PyTorch does (deformable attention samples a NaN location as zero), so a parity
/// run on such inputs would compare different things.
inline void check_finite_inputs(const io::SafetensorsCheckpoint& inputs, const std::string& path) {
  using D = io::SafetensorsDType;
  for (const std::string& name : inputs.names()) {
    const D dtype = inputs.dtype(name);
    if (dtype != D::F16 && dtype != D::BF16 && dtype != D::F32 && dtype != D::F64) continue;
    const Tensor<double> t = inputs.load<double>(name).contiguous();
    const double* v = t.data();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      if (std::isfinite(v[i])) continue;
      throw Error("--inputs " + path + ": tensor \"" + name + "\" holds " +
                  (std::isnan(v[i]) ? "NaN" : (v[i] > 0 ? "inf" : "-inf")) + " at element " +
                  std::to_string(i) + " of " + std::to_string(t.numel()) +
                  "; psalm forward refuses non-finite inputs (PyTorch propagates them, psalm's "
                  "kernels need not, so the outputs would not be comparable)");
    }
  }
}

/// For a load error that lists tensors missing from --weights: the prefixes under which the
/// weights file does hold the first missing tensor, as a hint (empty when there is none).
inline std::string prefix_hint(const std::string& message, const io::SafetensorsCheckpoint& weights,
                               const std::string& prefix) {
  const std::string marker = "missing from the checkpoint: ";
  const auto at = message.find(marker);
  if (at == std::string::npos) return {};
  const auto begin = at + marker.size();
  const auto end = message.find_first_of(", [", begin);
  std::string key =
      message.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  if (!key.starts_with(prefix)) return {};
  const std::string rel = key.substr(prefix.size());
  if (rel.empty()) return {};
  std::set<std::string> found;
  for (const std::string& name : weights.names())
    if (name.size() >= rel.size() && name.ends_with(rel)) {
      const std::string p = name.substr(0, name.size() - rel.size());
      if (p.empty() || p.back() == '.') found.insert(p);
    }
  if (found.empty())
    return "\n  hint: no tensor of --weights ends with \"" + rel +
           "\": is it this component's checkpoint?";
  std::vector<std::string> order(found.begin(), found.end());  // shortest prefix first
  std::stable_sort(order.begin(), order.end(),
                   [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  std::string hint = "\n  hint: --weights holds \"" + order.front() + rel + "\": try ";
  std::size_t shown = 0;
  for (const std::string& p : order) {
    if (shown++ == 3) break;
    hint += (shown > 1 ? " or " : "") + (p.empty() ? std::string("no --prefix") : "--prefix " + p);
  }
  return hint;
}

inline int run_forward(int argc, char** argv) {
  cxxopts::Options options(
      "psalm forward",
      "Run one model component on named input tensors and write its named outputs: the parity "
      "harness for comparing psalm with PyTorch on your own weights (docs/cli.md).");
  options.add_options(
      "", {
              {"component", "component name (see --list)", cxxopts::value<std::string>()},
              {"config", "component config JSON (Hugging Face field names where upstream has them)",
               cxxopts::value<std::string>()},
              {"weights", "weights: .safetensors file, index JSON or folder",
               cxxopts::value<std::string>()},
              {"prefix", "prefix of the component's tensor names in --weights (e.g. backbone.)",
               cxxopts::value<std::string>()->default_value("")},
              {"inputs", "input tensors (.safetensors); floating-point ones must be finite",
               cxxopts::value<std::string>()},
              {"out", "output file (.safetensors) in an existing folder, written atomically",
               cxxopts::value<std::string>()},
              {"list", "list the components with their inputs and outputs"},
          });
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  if (args.count("list")) {
    if (forward_components().empty()) std::printf("no components are registered yet\n");
    for (const Component& c : forward_components())
      std::printf("%s\n    %s\n    inputs:  %s\n    outputs: %s\n", c.name.c_str(),
                  c.summary.c_str(), c.inputs_help.c_str(), c.outputs_help.c_str());
    return 0;
  }
  const Component& component = find_component(required<std::string>(args, "component"));
  const std::string inputs_path = required<std::string>(args, "inputs");
  const std::string out_path = required<std::string>(args, "out");

  check_output_folder(out_path, "out");  // first, so a long run does not fail at the end
  const io::SafetensorsCheckpoint inputs = io::SafetensorsCheckpoint::open(inputs_path);
  check_finite_inputs(inputs, inputs_path);
  std::optional<io::ConfigReader> config;
  if (args.count("config")) config = io::ConfigReader::from_file(args["config"].as<std::string>());
  std::optional<io::SafetensorsCheckpoint> weights;
  if (args.count("weights"))
    weights = io::SafetensorsCheckpoint::open(args["weights"].as<std::string>());

  ComponentRequest request;
  request.inputs = &inputs;
  request.config = config ? &*config : nullptr;
  request.weights = weights ? &*weights : nullptr;
  request.weights_prefix = args["prefix"].as<std::string>();
  request.component = component.name;

  const auto start = std::chrono::steady_clock::now();
  ComponentOutputs outputs;
  try {
    outputs = component.run(request);
  } catch (const Error& e) {
    const std::string hint =
        weights ? prefix_hint(e.what(), *weights, request.weights_prefix) : std::string();
    if (hint.empty()) throw;
    throw Error(e.what() + hint);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io::SafetensorsWriter writer;
  for (const auto& [name, tensor] : outputs) writer.add(name, tensor);
  writer.set_metadata("psalm_component", component.name);
  writer.write(out_path);
  std::printf("%s: wrote %zu output(s) to %s in %.3f s\n", component.name.c_str(), outputs.size(),
              out_path.c_str(), seconds);
  for (const auto& [name, tensor] : outputs) {
    std::printf("  %-24s %s\n", name.c_str(), tensor.shape().to_string().c_str());
    const Tensor<float> t = tensor.contiguous();
    std::int64_t bad = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) bad += std::isfinite(t.data()[i]) ? 0 : 1;
    if (bad > 0)
      std::fprintf(stderr, "psalm: warning: output %s holds %lld non-finite value(s)\n",
                   name.c_str(), static_cast<long long>(bad));
  }
  return 0;
}

}  // namespace psalm::cli
