// Test support: a randomly initialised psalm_tiny written as a model folder (config.json +
// model.safetensors, the layout `psalm train` writes and psalm::Segmenter / `psalm segment`
// load), in a temporary folder that lives as long as the test program, and the same model rigged
// to answer [SEG] at every step (psalm chat's mask path); the small parity config on the real
// tokenizer; a two-shape test scene.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "psalm/io/json_config.hpp"
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

/// The PyTorch parity fixture's small config (64 px) on the real tokenizer's vocabulary
/// (50,297 rows: GPT-2's plus PSALM's added tokens, [SEG] last).
inline PsalmConfig small_config() {
  PsalmConfig c = PsalmConfig::from_json(io::ConfigReader::from_file(
      std::string(PSALM_TEST_FIXTURES_DIR) + "/psalm/parity/config.json"));
  c.phi.vocab_size = 50297;
  c.seg_token_id = 50296;
  c.pad_token_id = 50295;
  c.validate();
  return c;
}

/// An (h, w) RGB scene: a red square (shifted right by `shift`) and a blue disc on grey.
inline Tensor<std::uint8_t> two_shape_scene(std::int64_t h, std::int64_t w,
                                            std::int64_t shift = 0) {
  Tensor<std::uint8_t> img(Shape{h, w, 3});  // (H0, W0, 3)
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      std::uint8_t* p = img.data() + (y * w + x) * 3;
      p[0] = p[1] = p[2] = 120;
      if (y > h / 4 && y < h / 2 && x > w / 8 + shift && x < w / 3 + shift)
        p[0] = 230, p[1] = p[2] = 20;
      const std::int64_t dy = y - 2 * h / 3, dx = x - 2 * w / 3;
      if (dy * dy + dx * dx < h * h / 25) p[2] = 230, p[0] = p[1] = 30;
    }
  return img;
}

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

/// Rigs a psalm_tiny (tied embeddings: logits = hidden . embed_tokens rows) to say [SEG] at
/// every step: final_layernorm adds 1000 on channel 0, and only [SEG]'s embedding row reads
/// channel 0. The other channels, which the mask decoder reads, keep their values.
inline void rig_to_say_seg(PsalmModel<float>& model) {
  PSALM_CHECK(model.config().phi.tie_word_embeddings, "rig_to_say_seg: needs tied embeddings");
  Tensor<float> bias = model.model.phi.final_layernorm.bias.value();  // (D)
  bias.data()[0] += 1000.0f;
  Tensor<float> embed = model.model.phi.embed_tokens.weight.value();  // (V, D)
  const std::int64_t d = embed.size(1);
  for (std::int64_t r = 0; r < embed.size(0); ++r) embed.data()[r * d] = 0.0f;
  embed.data()[model.config().seg_token_id * d] = 1.0f;
}

/// The folder of random_tiny_model(11) rigged by rig_to_say_seg, written once per program.
inline const std::filesystem::path& seg_saying_model_folder() {
  static TempDir dir("seg_saying_model");
  static const bool written = [] {
    auto model = random_tiny_model(11);
    rig_to_say_seg(*model);
    nn::save_safetensors(*model, dir.path / "model.safetensors");
    std::ofstream(dir.path / "config.json") << model->config().to_json().dump(2);
    return true;
  }();
  (void)written;
  return dir.path;
}

}  // namespace psalm::testing
