// fuzz_class_list — libFuzzer target: arbitrary bytes as an FC-CLIP `*_with_prompt_eng.txt`
// class list must either throw psalm::Error or give entries with increasing ids and non-empty
// names, on which PSALM's name rules (skip id 0, first synonym above 200 classes) run.
// Built and run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "psalm/data/open_vocabulary.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto entries = psalm::data::parse_prompt_eng_list(text, "fuzz.txt");
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].name.empty()) __builtin_trap();
      if (i > 0 && entries[i].id <= entries[i - 1].id) __builtin_trap();
    }
    (void)psalm::data::prompt_class_names(psalm::data::prompt_eng_names(text, "fuzz.txt"));
  } catch (const psalm::Error&) {
  }
  return 0;
}
