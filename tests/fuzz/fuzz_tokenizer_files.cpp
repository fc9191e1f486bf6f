// fuzz_tokenizer_files — libFuzzer target: arbitrary bytes as the files of a Hugging Face
// tokenizer folder, loaded with Tokenizer::from_folder, must either throw psalm::Error or give a
// tokenizer whose ids for a fixed string and for a slice of the input lie in its vocabulary.
// Input layout: one byte choosing which files exist (bit i -> kFiles[i]), then the files'
// contents separated by NUL bytes. Built and run by scripts/fuzz.sh; see docs/testing.md.
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "psalm/io/tokenizer.hpp"

namespace {

namespace fs = std::filesystem;

constexpr std::array<const char*, 6> kFiles = {"vocab.json",
                                               "merges.txt",
                                               "tokenizer.json",
                                               "added_tokens.json",
                                               "special_tokens_map.json",
                                               "tokenizer_config.json"};

const fs::path& folder() {
  static const fs::path dir = [] {
    static const fs::path removed_at_exit =
        fs::temp_directory_path() / ("psalm_fuzz_tokenizer_" + std::to_string(::getpid()));
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(removed_at_exit, ignored);
    });
    return removed_at_exit;
  }();
  return dir;
}

void check_ids(const psalm::io::Tokenizer& tok, std::string_view text) {
  const auto ids = tok.encode(text);
  for (const int32_t id : ids) {
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  }
  (void)tok.decode(ids);  // every id encode gives must decode
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const fs::path& dir = folder();
  fs::remove_all(dir);
  fs::create_directories(dir);
  const unsigned mask = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t pos = 0;
  for (std::size_t i = 0; i < kFiles.size(); ++i) {
    std::size_t end = rest.find('\0', pos);
    if (end == std::string_view::npos) end = rest.size();
    const std::string_view part = pos <= rest.size() ? rest.substr(pos, end - pos) : "";
    pos = end + 1;
    if (!(mask & (1u << i))) continue;
    std::ofstream(dir / kFiles[i], std::ios::binary)
        .write(part.data(), std::streamsize(part.size()));
  }
  try {
    const auto tok = psalm::io::Tokenizer::from_folder(dir);
    check_ids(tok, "Hello world! [SEG] <|endoftext|>  \t\tcaf\xC3\xA9 123 \xFF\xFE");
    check_ids(tok, rest.substr(0, 256));
  } catch (const psalm::Error&) {
    // Rejected with a clear error: fine.
  }
  return 0;
}
