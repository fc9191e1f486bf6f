// Test support: a randomly initialised psalm_tiny written as a model folder (config.json +
// model.safetensors, the layout `psalm train` writes and psalm::Segmenter / `psalm segment`
// load), in a temporary folder that lives as long as the test program.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "psalm/nn/init.hpp"
#include "psalm/nn/state_dict.hpp"
#include "psalm/psalm/model.hpp"

namespace psalm::testing {

/// A fresh folder under the temporary directory, removed with the object.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             ("psalm_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

/// psalm_tiny with random weights; the mask tokens drawn too (upstream starts them at zero,
/// which makes every query alike).
inline std::unique_ptr<PsalmModel<float>> random_tiny_model(std::uint64_t seed) {
  nn::InitRng rng{seed};
  auto model = std::make_unique<PsalmModel<float>>(PsalmConfig::psalm_tiny(), rng);
  model->seg_query.value().assign(
      nn::init::normal<float, cpu>(model->seg_query.shape(), 1.0, rng));  // (Q, D)
  return model;
}

/// The folder of random_tiny_model(11), written once per test program.
inline const std::filesystem::path& tiny_model_folder() {
  static TempDir dir("tiny_model");
  static const bool written = [] {
    auto model = random_tiny_model(11);
    nn::save_safetensors(*model, dir.path / "model.safetensors");
    std::ofstream(dir.path / "config.json") << model->config().to_json().dump(2);
    return true;
  }();
  (void)written;
  return dir.path;
}

}  // namespace psalm::testing
