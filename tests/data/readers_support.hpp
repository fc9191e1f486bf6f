// Shared helpers of the dataset-reader tests: the hand-made fixtures of
// tools/reference/data_reader_fixtures.py (tests/fixtures/data_readers/), masks compared as
// pycocotools compressed RLE strings, and parsing JSON text the way the readers do.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "psalm/io/json_config.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/tensor.hpp"

namespace psalm::testing {

inline std::filesystem::path readers_dir() {
  return std::filesystem::path(PSALM_TEST_FIXTURES_DIR) / "data_readers";
}
inline std::filesystem::path tiny_dir() { return readers_dir() / "tiny"; }

inline nlohmann::json readers_expected() {
  return io::read_json_file(readers_dir() / "expected.json");
}

/// Mask n of (N, H, W) masks as a pycocotools compressed counts string.
inline std::string mask_counts(const Tensor<std::uint8_t>& masks, std::int64_t n) {
  const Tensor<std::uint8_t> m = masks.select(0, n).contiguous();
  return io::rle_to_string(io::rle_encode(m.data(), m.size(0), m.size(1)));
}

/// Parses `text` as the readers do (strict JSON), naming it "test.json".
inline nlohmann::json json_text(const std::string& text) {
  return io::parse_json_strict(text, "test.json");
}

/// The text of a file.
inline std::string file_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A fresh empty temporary folder.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace psalm::testing
