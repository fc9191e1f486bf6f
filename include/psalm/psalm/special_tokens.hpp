// psalm/psalm/special_tokens.hpp — PSALM's task markers and the tokens it adds (PSALM_SPEC
// §1.4): the five markers <image> <seg> <cls> <region> <refer> (not tokens: split out of the
// prompt text and replaced by negative sentinel ids, upstream psalm/constants.py), and the
// tokenizer PSALM uses ([PAD] 50295, [SEG] 50296, optionally a [REF] token for the "ref_token"
// condition mode). Depends on: io/tokenizer. Test: tests/psalm/test_prompt.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "psalm/core/error.hpp"
#include "psalm/io/tokenizer.hpp"

namespace psalm {

/// A task marker of the prompt text; each becomes one sentinel id in PromptIds::ids.
enum class Marker : std::uint8_t {
  image,   ///< "<image>"  -> G*G image tokens
  seg,     ///< "<seg>"    -> the Q mask tokens
  cls,     ///< "<cls>"    -> one class name's tokens + [SEG]
  region,  ///< "<region>" -> one pooled visual-prompt vector
  refer    ///< "<refer>"  -> the sentence tokens + [SEG] (or + [REF])
};

inline constexpr std::array<Marker, 5> kAllMarkers{Marker::image, Marker::seg, Marker::cls,
                                                   Marker::region, Marker::refer};

// ref: psalm/constants.py (IMAGE_TOKEN_INDEX ... REFER_TOKEN_INDEX).
inline constexpr std::int64_t kImageSentinel = -200;
inline constexpr std::int64_t kSegSentinel = -201;
inline constexpr std::int64_t kClsSentinel = -202;
inline constexpr std::int64_t kRegionSentinel = -203;
inline constexpr std::int64_t kReferSentinel = -204;

/// The text of a marker as it appears in prompts ("<image>", ...).
inline std::string_view marker_text(Marker m) {
  switch (m) {
    case Marker::image:
      return "<image>";
    case Marker::seg:
      return "<seg>";
    case Marker::cls:
      return "<cls>";
    case Marker::region:
      return "<region>";
    case Marker::refer:
      return "<refer>";
  }
  fail("marker_text: unknown marker ", static_cast<int>(m));
}

/// The sentinel id a marker becomes (-200 ... -204).
inline std::int64_t sentinel_id(Marker m) {
  switch (m) {
    case Marker::image:
      return kImageSentinel;
    case Marker::seg:
      return kSegSentinel;
    case Marker::cls:
      return kClsSentinel;
    case Marker::region:
      return kRegionSentinel;
    case Marker::refer:
      return kReferSentinel;
  }
  fail("sentinel_id: unknown marker ", static_cast<int>(m));
}

/// The marker of a sentinel id, or nothing for any other id.
inline std::optional<Marker> marker_of(std::int64_t id) {
  for (Marker m : kAllMarkers)
    if (sentinel_id(m) == id) return m;
  return std::nullopt;
}

/// The ids of PSALM's added tokens as a tokenizer (or a small test vocabulary) has them.
/// The model reads the same three numbers from PsalmConfig.
struct SpecialTokenIds {
  std::int64_t seg_token_id = io::PsalmTokenIds::seg;  ///< "[SEG]": ends every <cls>/<refer>
  std::int64_t pad_token_id = io::PsalmTokenIds::pad;  ///< "[PAD]"
  std::int64_t ref_token_id = -1;  ///< "[REF]" of the ref_token condition mode, -1 if none
};

/// The "[REF]" token of the ref_token condition mode (paper Tab. 5); not in the release.
inline constexpr std::string_view kRefToken = "[REF]";

/// The tokenizer PSALM trains and evaluates with (io::Tokenizer::phi_1_5_psalm: GPT-2 BPE,
/// the 38 whitespace tokens, [PAD] = 50295, [SEG] = 50296). With `add_ref_token`, "[REF]" is
/// added after them as a plain token (id 50297; the embedding then needs 50298 rows).
inline io::Tokenizer psalm_tokenizer(const std::filesystem::path& gpt2_dir,
                                     bool add_ref_token = false) {
  io::Tokenizer tok = io::Tokenizer::phi_1_5_psalm(gpt2_dir);
  if (add_ref_token) {
    const std::int32_t ref = tok.add_token(io::AddedToken::plain(std::string(kRefToken)));
    PSALM_CHECK(ref == io::PsalmTokenIds::vocab_size, "psalm_tokenizer: [REF] came out as ", ref);
  }
  return tok;
}

/// [SEG], [PAD] and (if present) [REF] of a tokenizer; [SEG] and [PAD] must exist.
inline SpecialTokenIds special_token_ids(const io::Tokenizer& tok) {
  const auto seg = tok.find_id("[SEG]");
  const auto pad = tok.find_id("[PAD]");
  PSALM_CHECK(seg.has_value() && pad.has_value(),
              "special_token_ids: the tokenizer has no [SEG] / [PAD] token (build it with "
              "psalm_tokenizer or io::Tokenizer::phi_1_5_psalm)");
  const auto ref = tok.find_id(kRefToken);
  return {*seg, *pad, ref.has_value() ? std::int64_t{*ref} : std::int64_t{-1}};
}

}  // namespace psalm
