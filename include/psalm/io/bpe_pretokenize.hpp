// psalm/io/bpe_pretokenize.hpp — GPT-2 pre-tokenisation as a hand-written scanner.
// Splits text into the pieces the GPT-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// finds, with Unicode letter / number classes from utf8proc and `\s` = Unicode White_Space.
// Bytes that are not valid UTF-8 each count as one "other" character. Depends on: utf8proc.
// Test: tests/io/test_tokenizer_bpe.cpp (and tests/fixtures/tokenizer/char_classes.json).
#pragma once

#include <utf8proc.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "psalm/io/bpe_byte_map.hpp"

namespace psalm::io::bpe {

/// The four classes the GPT-2 regex distinguishes.
enum class CharClass : uint8_t { letter, number, space, other };

/// Class of a Unicode code point: \p{L} (Lu Ll Lt Lm Lo), \p{N} (Nd Nl No), White_Space
/// (U+0009-000D, U+0020, U+0085, Zs, Zl, Zp), anything else (marks, punctuation, symbols,
/// controls, unassigned) is "other".
inline CharClass classify(char32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CharClass::letter;
    if (cp >= '0' && cp <= '9') return CharClass::number;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CharClass::space;
    return CharClass::other;
  }
  if (cp == 0x85) return CharClass::space;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::letter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::number;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return CharClass::space;
    default:
      return CharClass::other;
  }
}

/// One character of the input: its byte length and class. An invalid byte is a character of
/// length 1 and class `other`.
struct ScannedChar {
  uint8_t len;
  CharClass cls;
};

namespace detail {

inline const std::array<CharClass, 128>& ascii_classes() {
  static const std::array<CharClass, 128> table = [] {
    std::array<CharClass, 128> t{};
    for (char32_t c = 0; c < 128; ++c) t[c] = classify(c);
    return t;
  }();
  return table;
}

}  // namespace detail

/// Reads the character at `p` (`p < end`).
inline ScannedChar scan_char(const unsigned char* p, const unsigned char* end) {
  if (*p < 0x80) return {1, detail::ascii_classes()[*p]};
  char32_t cp = 0;
  const int n = decode_utf8(p, end, cp);
  if (n == 0) return {1, CharClass::other};
  return {static_cast<uint8_t>(n), classify(cp)};
}

/// Calls `on_piece(std::string_view)` for each pre-token of `text`, in order; the pieces
/// concatenate to `text` exactly. No allocation.
template <class OnPiece>
void pretokenize(std::string_view text, OnPiece&& on_piece) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = begin + text.size();
  const auto* p = begin;
  auto emit = [&](const unsigned char* from, const unsigned char* to) {
    on_piece(std::string_view(reinterpret_cast<const char*>(from), std::size_t(to - from)));
  };
  // Extends a run of characters of class `cls` starting at `q`; returns the end of the run.
  auto run_of = [&](const unsigned char* q, CharClass cls) {
    while (q < end) {
      const ScannedChar c = scan_char(q, end);
      if (c.cls != cls) break;
      q += c.len;
    }
    return q;
  };
  while (p < end) {
    // 's 't 're 've 'm 'll 'd (case-sensitive, ASCII apostrophe only).
    if (*p == '\'' && p + 1 < end) {
      const unsigned char a = p[1];
      if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        emit(p, p + 2);
        p += 2;
        continue;
      }
      if (p + 2 < end &&
          ((a == 'r' && p[2] == 'e') || (a == 'v' && p[2] == 'e') || (a == 'l' && p[2] == 'l'))) {
        emit(p, p + 3);
        p += 3;
        continue;
      }
    }
    const ScannedChar c = scan_char(p, end);
    if (c.cls != CharClass::space) {
      // \p{L}+, \p{N}+ or [^\s\p{L}\p{N}]+ without a leading space.
      const auto* q = run_of(p + c.len, c.cls);
      emit(p, q);
      p = q;
      continue;
    }
    if (*p == ' ' && p + 1 < end) {
      const ScannedChar next = scan_char(p + 1, end);
      if (next.cls != CharClass::space) {
        // " ?X+" with the optional space taken.
        const auto* q = run_of(p + 1 + next.len, next.cls);
        emit(p, q);
        p = q;
        continue;
      }
    }
    // A whitespace run. \s+(?!\S): up to the end of text, or all but its last character when
    // a non-space follows (that character then starts the next piece). A single whitespace
    // character before a non-space falls to the plain \s+ alternative.
    const auto* last = p;
    const auto* q = p + c.len;
    while (q < end) {
      const ScannedChar d = scan_char(q, end);
      if (d.cls != CharClass::space) break;
      last = q;
      q += d.len;
    }
    if (q == end || last == p) {
      emit(p, q);
      p = q;
    } else {
      emit(p, last);
      p = last;
    }
  }
}

}  // namespace psalm::io::bpe
