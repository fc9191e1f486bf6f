// fuzz_tokenizer — libFuzzer target: psalm::io::Tokenizer::encode on arbitrary bytes must not
// crash, must return ids inside the vocabulary and must decode back to the same bytes.
// Built and run by scripts/fuzz.sh (part of .ci/run); see docs/testing.md.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "psalm/io/tokenizer.hpp"

#ifndef PSALM_GPT2_DIR
#error "PSALM_GPT2_DIR (the folder of encoder.json and vocab.bpe) is set by scripts/fuzz.sh"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const psalm::io::Tokenizer tok = psalm::io::Tokenizer::phi_1_5_psalm(PSALM_GPT2_DIR);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto ids = tok.encode(text);
  for (const int32_t id : ids) {
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  }
  if (tok.decode(ids) != text) std::abort();
  return 0;
}
