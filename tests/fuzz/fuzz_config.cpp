// fuzz_config — libFuzzer target: arbitrary bytes as a JSON config read through ConfigReader
// (the typed-config reader every model config uses) must either throw psalm::Error or give
// typed values; never crash. Built and run by scripts/fuzz.sh (part of .ci/run).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/io/json_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto config = psalm::io::ConfigReader::from_text(text, "<fuzz>");
    (void)config.optional<std::int64_t>("hidden_size", 0);
    (void)config.optional<double>("layer_norm_eps", 1e-5);
    (void)config.optional<std::string>("hidden_act", "gelu_new");
    (void)config.optional<bool>("tie_word_embeddings", false);
    (void)config.optional<std::vector<std::int64_t>>("depths", {});
    (void)config.required<std::optional<std::int64_t>>("vocab_size");
  } catch (const psalm::Error&) {
  }
  return 0;
}
