// psalm/psalm/conversation.hpp — the conversation template PSALM renders every prompt with
// (PSALM_SPEC §2.1: `conv_llava_phi`, LLaMA-2 separator style with "<|endoftext|>" as both
// separators) and LLaVA's placement of the <image> marker in conversation data
// (preprocess_multimodal). Text only: tokenization is prompt.hpp's. Depends on: core.
// Test: tests/psalm/test_prompt.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"

namespace psalm {

/// One exchange: what the user says and what the assistant answers. An empty assistant text
/// leaves the turn open (rendered without answer and separator, as upstream renders None).
struct ConversationTurn {
  std::string user;
  std::string assistant;
};

/// A LLaMA-2-style conversation template (upstream psalm/conversation.py, SeparatorStyle
/// LLAMA_2): "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{U1} [/INST] {A1} {sep2}{sep}[INST] {U2}
/// [/INST] {A2} {sep2}" with the leading separator stripped.
struct ConversationTemplate {
  std::string system;
  std::string sep = "<|endoftext|>";
  std::string sep2 = "<|endoftext|>";

  /// `conv_llava_phi`, the template of every PSALM prompt.
  static ConversationTemplate llava_phi() {
    return {
        "You are a helpful language and vision assistant. You are able to understand the "
        "visual content that the user provides, and assist the user with a variety of tasks "
        "using natural language.",
        "<|endoftext|>", "<|endoftext|>"};
  }

  /// The prompt string of `turns` (upstream Conversation.get_prompt).
  std::string render(std::span<const ConversationTurn> turns) const {
    PSALM_CHECK(!turns.empty() && !turns.front().user.empty(),
                "conversation: the first turn needs a user message");
    std::string out;
    for (std::size_t i = 0; i < turns.size(); ++i) {
      const ConversationTurn& t = turns[i];
      if (!t.user.empty()) {
        out += sep;
        out += "[INST] ";
        if (i == 0) out += "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
        out += t.user;
        out += " [/INST]";
      }
      if (!t.assistant.empty()) {
        out += " ";
        out += t.assistant;
        out += " ";
        out += sep2;
      }
    }
    // ref: conversation.py `ret.lstrip(self.sep)` strips the *characters* of sep, not the
    // string; the rendered text always continues with '[', so both readings agree.
    out.erase(0, out.find_first_not_of(sep));
    return out;
  }

  /// The rendered text of a single exchange (every PSALM segmentation prompt).
  std::string render(std::string user, std::string assistant) const {
    const ConversationTurn turn{std::move(user), std::move(assistant)};
    return render(std::span<const ConversationTurn>(&turn, 1));
  }
};

namespace detail {

/// Length in bytes of the UTF-8 code point starting at s[i] and its value (bad UTF-8 -> 0 bytes).
inline std::size_t utf8_at(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b < 0x80           ? 1
                  : (b >> 5) == 0x6  ? 2
                  : (b >> 4) == 0xE  ? 3
                  : (b >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = n == 1 ? b : (b & (0x7F >> n));
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c >> 6) != 0x2) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  return n;
}

/// Python's str.isspace() for one code point.
inline bool py_isspace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

/// Python's str.strip() on UTF-8 text (bytes that are not valid UTF-8 are never stripped).
inline std::string py_strip(std::string_view s) {
  std::size_t begin = 0;
  while (begin < s.size()) {
    char32_t cp = 0;
    const std::size_t n = utf8_at(s, begin, cp);
    if (n == 0 || !py_isspace(cp)) break;
    begin += n;
  }
  std::size_t end = s.size();
  while (end > begin) {
    std::size_t start = end - 1;  // back up to the lead byte of the last code point
    while (start > begin && (static_cast<unsigned char>(s[start]) >> 6) == 0x2 && end - start < 4)
      --start;
    char32_t cp = 0;
    if (utf8_at(s, start, cp) != end - start || !py_isspace(cp)) break;
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

}  // namespace detail

/// LLaVA's placement of the image in a conversation message (upstream train_datasets.py
/// preprocess_multimodal, mm_use_im_start_end False): a message holding "<image>" anywhere
/// becomes "<image>\n" + the rest, stripped. Messages without the marker are unchanged.
inline std::string image_first(std::string_view message) {
  constexpr std::string_view kImage = "<image>";
  if (message.find(kImage) == std::string_view::npos) return std::string(message);
  std::string rest;
  for (std::size_t i = 0; i < message.size();) {
    if (message.compare(i, kImage.size(), kImage) == 0) {
      i += kImage.size();
    } else {
      rest += message[i++];
    }
  }
  return detail::py_strip(std::string(kImage) + "\n" + detail::py_strip(rest));
}

}  // namespace psalm
