// psalm/io/bpe_byte_map.hpp — GPT-2's reversible byte <-> printable-character map.
// Byte-level BPE vocabularies spell every raw byte as one printable Unicode character ("Ġ" for
// the space byte 0x20, "Ċ" for 0x0A, ...). This header builds that map and converts tokens
// between their vocabulary spelling and raw bytes. Depends on: std.
// Test: tests/io/test_tokenizer_bpe.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace psalm::io::bpe {

/// Appends the UTF-8 encoding of code point `cp` (must be <= 0x10FFFF) to `out`.
inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

/// Decodes one well-formed UTF-8 sequence at `p` (strict: no overlongs, no surrogates, nothing
/// above U+10FFFF). Returns the sequence length (1-4) and sets `cp`, or 0 when the bytes at `p`
/// do not start a valid sequence before `end`.
inline int decode_utf8(const unsigned char* p, const unsigned char* end, char32_t& cp) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  const auto avail = end - p;
  auto cont = [&](int k) { return (p[k] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (avail < 2 || !cont(1)) return 0;
    cp = (char32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (avail < 3 || !cont(1) || !cont(2)) return 0;
    cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (avail < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
    cp = (char32_t(b0 & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
         (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    if (cp < 0x10000 || cp > 0x10FFFF) return 0;
    return 4;
  }
  return 0;
}

/// The GPT-2 map: byte b -> code point. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ')
/// map to themselves; the other 68 bytes map, in increasing order, to U+0100, U+0101, ...
/// ref: openai/gpt-2 src/encoder.py bytes_to_unicode (facts only; written fresh here).
class ByteMap {
 public:
  ByteMap() {
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable =
          (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? char32_t(b) : next++;
      to_cp_[b] = cp;
      to_utf8_[b].clear();
      append_utf8(to_utf8_[b], cp);
      if (cp < from_cp_.size()) from_cp_[cp] = static_cast<int16_t>(b);
    }
  }

  /// The code point that spells byte `b`.
  char32_t code_point(unsigned char b) const { return to_cp_[b]; }
  /// The UTF-8 text of the character that spells byte `b`.
  const std::string& spelling(unsigned char b) const { return to_utf8_[b]; }
  /// The byte spelled by code point `cp`, or -1 when `cp` is not one of the 256 characters.
  int byte_of(char32_t cp) const { return cp < from_cp_.size() ? from_cp_[cp] : -1; }

  /// Raw bytes -> vocabulary spelling.
  std::string encode(std::string_view bytes) const {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes) out += to_utf8_[static_cast<unsigned char>(c)];
    return out;
  }

  /// Vocabulary spelling -> raw bytes; nullopt when the text holds a character outside the map
  /// (or is not valid UTF-8).
  std::optional<std::string> decode(std::string_view spelled) const {
    std::string out;
    out.reserve(spelled.size());
    const auto* p = reinterpret_cast<const unsigned char*>(spelled.data());
    const auto* end = p + spelled.size();
    while (p < end) {
      char32_t cp = 0;
      const int n = decode_utf8(p, end, cp);
      if (n == 0) return std::nullopt;
      const int b = byte_of(cp);
      if (b < 0) return std::nullopt;
      out.push_back(static_cast<char>(b));
      p += n;
    }
    return out;
  }

  /// The process-wide instance (the map is a constant).
  static const ByteMap& instance() {
    static const ByteMap map;
    return map;
  }

 private:
  std::array<char32_t, 256> to_cp_{};
  std::array<std::string, 256> to_utf8_{};
  std::array<int16_t, 324> from_cp_ = [] {
    std::array<int16_t, 324> a{};
    a.fill(-1);
    return a;
  }();
};

}  // namespace psalm::io::bpe
