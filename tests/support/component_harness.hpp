// Test support: the shared setup of the `psalm forward` component tests (tests/*/
// test_component.cpp): a ComponentHarness opens the inputs, config and weights files a request
// names, as the CLI does, and runs the component on them or on a variant of the request;
// TempSafetensors writes a throwaway inputs file; require_outputs_close compares named outputs.
// Depends on: nn/component, io/safetensors_writer, support/fixtures.
#pragma once

#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "psalm/io/json_config.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/io/safetensors_writer.hpp"
#include "psalm/nn/component.hpp"
#include "support/fixtures.hpp"

namespace psalm::testing {

/// One component and the files of its request. request() points into the harness: keep the
/// harness alive while a request is used.
class ComponentHarness {
 public:
  explicit ComponentHarness(nn::Component component) : component_(std::move(component)) {}

  ComponentHarness& inputs(const std::string& path) {
    inputs_.emplace(io::SafetensorsCheckpoint::open(path));
    return *this;
  }
  ComponentHarness& weights(const std::string& path) {
    weights_.emplace(io::SafetensorsCheckpoint::open(path));
    return *this;
  }
  ComponentHarness& config(const std::string& path) {
    config_.emplace(io::ConfigReader::from_file(path));
    return *this;
  }
  ComponentHarness& prefix(std::string p) {
    prefix_ = std::move(p);
    return *this;
  }

  /// The request `psalm forward` would build: absent files are null.
  nn::ComponentRequest request() const {
    return {inputs_ ? &*inputs_ : nullptr, config_ ? &*config_ : nullptr,
            weights_ ? &*weights_ : nullptr, prefix_, component_.name};
  }
  nn::ComponentOutputs run() const { return run(request()); }
  /// Runs a variant of request() (a field replaced, e.g. config = nullptr).
  nn::ComponentOutputs run(const nn::ComponentRequest& request) const {
    return component_.run(request);
  }
  /// Runs request() changed by `change` (a callable taking nn::ComponentRequest&).
  template <class Change>
  nn::ComponentOutputs run_with(Change change) const {
    nn::ComponentRequest r = request();
    change(r);
    return run(r);
  }

  // The errors a model component gives for an incomplete request.
  /// Without --config: an error naming the option.
  void check_config_required() const {
    CHECK_THROWS_WITH(run_with([](nn::ComponentRequest& r) { r.config = nullptr; }),
                      Catch::Contains("--config"));
  }
  /// Without --weights: an error naming the option.
  void check_weights_required() const {
    CHECK_THROWS_WITH(run_with([](nn::ComponentRequest& r) { r.weights = nullptr; }),
                      Catch::Contains("--weights"));
  }
  /// With an empty --prefix: the strict load reports the tensors missing.
  void check_prefix_required() const {
    CHECK_THROWS_WITH(run_with([](nn::ComponentRequest& r) { r.weights_prefix.clear(); }),
                      Catch::Contains("missing"));
  }

  const io::SafetensorsCheckpoint& opened_inputs() const { return *inputs_; }
  const io::SafetensorsCheckpoint& opened_weights() const { return *weights_; }

 private:
  nn::Component component_;
  std::optional<io::SafetensorsCheckpoint> inputs_, weights_;
  std::optional<io::ConfigReader> config_;
  std::string prefix_;
};

/// A safetensors file under the temporary directory, named for this process and `name`,
/// removed when the object goes. write() fills it; open() reads it back.
class TempSafetensors {
 public:
  explicit TempSafetensors(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("psalm_" + std::to_string(::getpid()) + "_" + name)) {}
  TempSafetensors(const TempSafetensors&) = delete;
  TempSafetensors& operator=(const TempSafetensors&) = delete;
  ~TempSafetensors() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }

  void write(const io::SafetensorsWriter& writer) const { writer.write(path_); }
  io::SafetensorsCheckpoint open() const { return io::SafetensorsCheckpoint::open(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string string() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

/// Requires out.at(name) close to want.load<U>(want_prefix + name) for each of `names`.
template <Scalar U, class Source>
void require_outputs_close(const nn::ComponentOutputs& out, const Source& want,
                           const std::vector<std::string>& names, const std::string& want_prefix,
                           double rtol, double atol) {
  for (const std::string& name : names) {
    INFO("output " << name);
    require_close(out.at(name), want.template load<U>(want_prefix + name), rtol, atol);
  }
}

}  // namespace psalm::testing
