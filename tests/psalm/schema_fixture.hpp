// Test support for the input-schema tests (test_prompt, test_sequence, test_visual_prompt,
// test_region_pooling): the PSALM tokenizer built once from the GPT-2 BPE files, and the
// fixture tests/fixtures/psalm/prompts.json written by tools/reference/psalm_prompt_fixtures.py.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/io/tokenizer.hpp"
#include "psalm/psalm/special_tokens.hpp"
#include "support/fixtures.hpp"

namespace psalm::testing {

/// PSALM's tokenizer (phi_1_5_psalm); `with_ref` adds "[REF]" (50297).
inline const io::Tokenizer& schema_tokenizer(bool with_ref = false) {
  static const io::Tokenizer plain = psalm_tokenizer(PSALM_GPT2_DIR);
  static const io::Tokenizer ref = psalm_tokenizer(PSALM_GPT2_DIR, true);
  return with_ref ? ref : plain;
}

/// tests/fixtures/psalm/prompts.json.
inline const nlohmann::json& schema_fixture() {
  static const nlohmann::json data = load_json("psalm/prompts.json");
  return data;
}

/// The prompt case called `name`.
inline const nlohmann::json& schema_case(const std::string& name) {
  for (const auto& c : schema_fixture().at("cases"))
    if (c.at("name") == name) return c;
  throw std::runtime_error("no prompt case " + name);
}

inline std::vector<std::int64_t> ids_of(const nlohmann::json& j) {
  return j.get<std::vector<std::int64_t>>();
}

}  // namespace psalm::testing
