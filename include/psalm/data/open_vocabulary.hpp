// psalm/data/open_vocabulary.hpp — the class lists of PSALM's open-vocabulary semantic
// evaluation (PSALM_SPEC §2.2): ADE20K-150, PASCAL Context 59 and 459, PASCAL VOC 20, each
// class named by its comma-joined synonyms from FC-CLIP's `*_with_prompt_eng.txt` (verbatim),
// only the first synonym when a list has more than 200 classes (PC-459); plus the label value
// the prepared annotations use for "ignore". A user's own list in the same format parses too.
// Depends on: core/error, data/open_vocabulary_lists. Test:
// tests/data/test_semantic_folder.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/open_vocabulary_lists.hpp"

namespace psalm::data {

enum class OpenVocabularySet : std::uint8_t {
  ade20k_150,
  pascal_context_59,
  pascal_context_459,
  pascal_voc_20
};

inline const char* to_string(OpenVocabularySet s) {
  switch (s) {
    case OpenVocabularySet::ade20k_150:
      return "ade20k-150";
    case OpenVocabularySet::pascal_context_59:
      return "pascal-context-59";
    case OpenVocabularySet::pascal_context_459:
      return "pascal-context-459";
    case OpenVocabularySet::pascal_voc_20:
      return "pascal-voc-20";
  }
  return "unknown";
}

/// "ade20k-150", "pascal-context-59", "pascal-context-459" or "pascal-voc-20".
inline OpenVocabularySet parse_open_vocabulary_set(std::string_view name) {
  for (auto s : {OpenVocabularySet::ade20k_150, OpenVocabularySet::pascal_context_59,
                 OpenVocabularySet::pascal_context_459, OpenVocabularySet::pascal_voc_20})
    if (name == to_string(s)) return s;
  fail("unknown open-vocabulary class list \"", std::string(name),
       "\" (expected ade20k-150, pascal-context-59, pascal-context-459 or pascal-voc-20)");
}

/// The classes of a semantic-segmentation dataset: label value c (0-based) is class c.
struct ClassList {
  std::vector<std::string> names;      ///< as the prompt lists them
  std::vector<std::uint8_t> is_thing;  ///< 1 thing, 0 stuff
  std::int32_t ignore_label = 255;     ///< label value of unannotated pixels
};

/// One line "id:name" of a prompt-engineering list.
struct PromptEngEntry {
  std::int64_t id = 0;
  std::string name;
};

/// Parses FC-CLIP's list format: lines "id:name" ('\r' tolerated, blank lines skipped), ids in
/// increasing order, names without ':'. Errors name `source` and the line.
inline std::vector<PromptEngEntry> parse_prompt_eng_list(std::string_view text,
                                                         std::string_view source) {
  std::vector<PromptEngEntry> out;
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t colon = line.find(':');
    PSALM_CHECK(colon != std::string_view::npos && colon > 0 &&
                    line.find(':', colon + 1) == std::string_view::npos,
                source, ": line ", line_no, ": expected \"id:name\", got \"", line, "\"");
    std::int64_t id = 0;
    for (char c : line.substr(0, colon)) {
      PSALM_CHECK(c >= '0' && c <= '9' && id < 100000000, source, ": line ", line_no, ": the id \"",
                  line.substr(0, colon), "\" is not a small non-negative integer");
      id = id * 10 + (c - '0');
    }
    PSALM_CHECK(out.empty() || id > out.back().id, source, ": line ", line_no, ": id ", id,
                " does not follow ", out.empty() ? 0 : out.back().id);
    PSALM_CHECK(colon + 1 < line.size(), source, ": line ", line_no, ": empty class name");
    out.push_back({id, std::string(line.substr(colon + 1))});
  }
  return out;
}

/// The class names of a list as openseg_classes.py reads them: entries with id 0 or the name
/// "invalid_class_id" skipped (`skip_first` false: every entry kept, as for PASCAL VOC 21).
/// ref: PSALM psalm/eval/segmentation_evaluation/openseg_classes.py (get_*_with_prompt_eng).
inline std::vector<std::string> prompt_eng_names(std::string_view text, std::string_view source,
                                                 bool skip_first = true) {
  std::vector<std::string> out;
  for (PromptEngEntry& e : parse_prompt_eng_list(text, source)) {
    if (skip_first && (e.id == 0 || e.name == "invalid_class_id")) continue;
    out.push_back(std::move(e.name));
  }
  return out;
}

/// Names as the prompt lists them: lists of more than 200 classes keep only each class's first
/// synonym. ref: PSALM psalm/eval/semantic_segmentation.py (common_semantic_dataset).
inline std::vector<std::string> prompt_class_names(std::vector<std::string> names) {
  if (names.size() > 200)
    for (std::string& n : names) n = n.substr(0, n.find(','));
  return names;
}

/// The class list of one of PSALM's open-vocabulary evaluation sets, in label order.
inline ClassList open_vocabulary_classes(OpenVocabularySet set) {
  namespace text = open_vocabulary_text;
  ClassList out;
  switch (set) {
    case OpenVocabularySet::ade20k_150: {
      out.names = prompt_eng_names(text::ade20k_150, "ade20k_150_with_prompt_eng.txt");
      for (char c : text::ade20k_150_isthing) out.is_thing.push_back(c == '1' ? 1 : 0);
      break;
    }
    case OpenVocabularySet::pascal_context_59:
      out.names = prompt_eng_names(text::pascal_context_59, "pascal_ctx_59_with_prompt_eng.txt");
      break;
    case OpenVocabularySet::pascal_context_459:
      out.names = prompt_eng_names(text::pascal_context_459, "pascal_ctx_459_with_prompt_eng.txt");
      out.ignore_label = 65535;
      break;
    case OpenVocabularySet::pascal_voc_20: {
      // Every line is a class (0 = background); PSALM drops the first.
      out.names = prompt_eng_names(text::pascal_voc_21, "pascal_voc_21_with_prompt_eng.txt",
                                   /*skip_first=*/false);
      out.names.erase(out.names.begin());
      break;
    }
  }
  out.names = prompt_class_names(std::move(out.names));
  if (out.is_thing.empty()) out.is_thing.assign(out.names.size(), 0);  // all treated as stuff
  PSALM_CHECK(out.is_thing.size() == out.names.size(), "open_vocabulary_classes: ", to_string(set),
              " has ", out.names.size(), " names but ", out.is_thing.size(), " thing flags");
  return out;
}

}  // namespace psalm::data
