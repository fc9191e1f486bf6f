// tools/commands/forward.hpp — `psalm forward --component NAME [--config C.json] [--weights W]
// --inputs I.safetensors --out O.safetensors`: runs one registered component on named input
// tensors and writes its named outputs (float32) atomically. This is the parity harness: save
// inputs from PyTorch, run both, compare the outputs. `psalm forward --list` shows the
// components with their inputs and outputs.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
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
  };
  return table;
}

inline const Component& find_component(const std::string& name) {
  std::string known;
  for (const Component& c : forward_components()) {
    if (c.name == name) return c;
    known += (known.empty() ? "" : ", ") + c.name;
  }
  throw UsageError("unknown --component '" + name + "' (known: " +
                   (known.empty() ? std::string("none") : known) + ")");
}

inline int run_forward(int argc, char** argv) {
  cxxopts::Options options(
      "psalm forward",
      "Run one model component on named input tensors and write its named outputs: the parity "
      "harness for comparing psalm with PyTorch on your own weights (docs/cli.md).");
  options.add_options()
      ("component", "component name (see --list)", cxxopts::value<std::string>())
      ("config", "component config JSON (Hugging Face field names where upstream has them)",
       cxxopts::value<std::string>())
      ("weights", "weights: .safetensors file, index JSON or folder", cxxopts::value<std::string>())
      ("prefix", "prefix of the component's tensor names in --weights (e.g. backbone.)",
       cxxopts::value<std::string>()->default_value(""))
      ("inputs", "input tensors (.safetensors)", cxxopts::value<std::string>())
      ("out", "output file (.safetensors), written atomically", cxxopts::value<std::string>())
      ("list", "list the components with their inputs and outputs");
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  if (args.count("list")) {
    if (forward_components().empty()) std::printf("no components are registered yet\n");
    for (const Component& c : forward_components())
      std::printf("%s\n    %s\n    inputs:  %s\n    outputs: %s\n", c.name.c_str(), c.summary.c_str(),
                  c.inputs_help.c_str(), c.outputs_help.c_str());
    return 0;
  }
  const Component& component = find_component(required<std::string>(args, "component"));
  const std::string inputs_path = required<std::string>(args, "inputs");
  const std::string out_path = required<std::string>(args, "out");

  const io::SafetensorsCheckpoint inputs = io::SafetensorsCheckpoint::open(inputs_path);
  std::optional<io::ConfigReader> config;
  if (args.count("config")) config = io::ConfigReader::from_file(args["config"].as<std::string>());
  std::optional<io::SafetensorsCheckpoint> weights;
  if (args.count("weights")) weights = io::SafetensorsCheckpoint::open(args["weights"].as<std::string>());

  ComponentRequest request;
  request.inputs = &inputs;
  request.config = config ? &*config : nullptr;
  request.weights = weights ? &*weights : nullptr;
  request.weights_prefix = args["prefix"].as<std::string>();
  request.component = component.name;

  const auto start = std::chrono::steady_clock::now();
  const ComponentOutputs outputs = component.run(request);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io::SafetensorsWriter writer;
  for (const auto& [name, tensor] : outputs) writer.add(name, tensor);
  writer.set_metadata("psalm_component", component.name);
  writer.write(out_path);
  std::printf("%s: wrote %zu output(s) to %s in %.3f s\n", component.name.c_str(), outputs.size(),
              out_path.c_str(), seconds);
  for (const auto& [name, tensor] : outputs)
    std::printf("  %-24s %s\n", name.c_str(), tensor.shape().to_string().c_str());
  return 0;
}

}  // namespace psalm::cli
