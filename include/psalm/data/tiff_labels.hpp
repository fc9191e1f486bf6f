// psalm/data/tiff_labels.hpp — label maps stored as baseline TIFF, as FC-CLIP's PASCAL Context
// 459 preparation writes them (Pillow saving a uint16 array: one uncompressed gray channel).
// Reads uncompressed, single-sample, 8- or 16-bit unsigned images in either byte order, in
// strips; anything else (compression, tiles, colour, several images' worth of doubt) is a
// psalm::Error naming the file and the tag. Every offset and count is checked against the file.
// Host code. Depends on: core/error, io/read_file, tensor.
// Test: tests/data/test_semantic_folder.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/read_file.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::data {

// Letters: H W the label map.

/// Largest TIFF label file read, and the pixel bound checked before allocating.
inline constexpr std::int64_t kMaxTiffBytes = std::int64_t{1} << 30;
inline constexpr std::int64_t kMaxTiffPixels = std::int64_t{1} << 28;

namespace detail {

class TiffBytes {
 public:
  TiffBytes(std::span<const std::uint8_t> b, std::string_view name) : b_(b), name_(name) {
    PSALM_CHECK(b.size() >= 8, name_, ": not a TIFF file (", b.size(), " bytes)");
    if (b[0] == 'I' && b[1] == 'I') {
      little_ = true;
    } else if (b[0] == 'M' && b[1] == 'M') {
      little_ = false;
    } else {
      fail(name_, ": not a TIFF file (no II / MM byte-order mark)");
    }
    PSALM_CHECK(u16(2) == 42, name_, ": not a baseline TIFF (magic ", u16(2),
                "; BigTIFF is not read)");
  }
  std::uint16_t u16(std::uint64_t at) const {
    check(at, 2);
    return little_ ? static_cast<std::uint16_t>(b_[at] | (b_[at + 1] << 8))
                   : static_cast<std::uint16_t>((b_[at] << 8) | b_[at + 1]);
  }
  std::uint32_t u32(std::uint64_t at) const {
    check(at, 4);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<std::uint32_t>(b_[at + (little_ ? i : 3 - i)]) << (8 * i);
    return v;
  }
  void check(std::uint64_t at, std::uint64_t n) const {
    PSALM_CHECK(at <= b_.size() && n <= b_.size() - at, name_, ": offset ", at, " + ", n,
                " runs past the end of the file (", b_.size(), " bytes)");
  }
  bool little() const { return little_; }
  const std::uint8_t* data() const { return b_.data(); }
  std::string_view name() const { return name_; }

 private:
  std::span<const std::uint8_t> b_;
  std::string_view name_;
  bool little_ = true;
};

/// One IFD entry's values (SHORT or LONG), checked.
inline std::vector<std::uint32_t> tiff_values(const TiffBytes& t, std::uint64_t entry,
                                              std::uint16_t tag) {
  const std::uint16_t type = t.u16(entry + 2);
  const std::uint32_t count = t.u32(entry + 4);
  PSALM_CHECK(type == 3 || type == 4, t.name(), ": TIFF tag ", tag, " has type ", type,
              " (SHORT or LONG expected)");
  const std::uint64_t size = type == 3 ? 2 : 4;
  PSALM_CHECK(count >= 1 && count <= (std::uint64_t{1} << 24), t.name(), ": TIFF tag ", tag,
              " has ", count, " values");
  const std::uint64_t at = size * count <= 4 ? entry + 8 : t.u32(entry + 8);
  t.check(at, size * count);
  std::vector<std::uint32_t> out(count);
  for (std::uint32_t i = 0; i < count; ++i)
    out[i] = type == 3 ? t.u16(at + 2 * i) : t.u32(at + 4 * i);
  return out;
}

}  // namespace detail

/// Decodes a TIFF label map into (H, W) int32 values as stored.
inline Tensor<std::int32_t> decode_tiff_labels(std::span<const std::uint8_t> bytes,
                                               std::string_view name = "<memory>") {
  const detail::TiffBytes t(bytes, name);
  const std::uint64_t ifd = t.u32(4);
  const std::uint16_t n = t.u16(ifd);
  t.check(ifd + 2, std::uint64_t{12} * n);
  std::int64_t width = -1, height = -1, bits = 1, samples = 1, compression = 1, format = 1;
  std::int64_t rows_per_strip = -1, photometric = 1, planar = 1;
  std::vector<std::uint32_t> offsets, counts;
  for (std::uint16_t i = 0; i < n; ++i) {
    const std::uint64_t e = ifd + 2 + 12 * std::uint64_t{i};
    const std::uint16_t tag = t.u16(e);
    const auto one = [&] {
      const auto v = detail::tiff_values(t, e, tag);
      PSALM_CHECK(v.size() == 1, name, ": TIFF tag ", tag, " has ", v.size(), " values, not 1");
      return static_cast<std::int64_t>(v[0]);
    };
    switch (tag) {
      case 256:
        width = one();
        break;
      case 257:
        height = one();
        break;
      case 258:
        bits = one();
        break;
      case 259:
        compression = one();
        break;
      case 262:
        photometric = one();
        break;
      case 273:
        offsets = detail::tiff_values(t, e, tag);
        break;
      case 277:
        samples = one();
        break;
      case 278:
        rows_per_strip = one();
        break;
      case 279:
        counts = detail::tiff_values(t, e, tag);
        break;
      case 284:
        planar = one();
        break;
      case 322:
        fail(name, ": tiled TIFF is not read (strips only)");
      case 339:
        format = one();
        break;
      default:
        break;
    }
  }
  PSALM_CHECK(width >= 1 && height >= 1 && width <= kMaxTiffPixels && height <= kMaxTiffPixels &&
                  width * height <= kMaxTiffPixels,
              name, ": TIFF image of ", width, " x ", height, " (needs 1 .. ", kMaxTiffPixels,
              " pixels)");
  PSALM_CHECK(compression == 1, name, ": TIFF compression ", compression,
              " is not read (uncompressed label maps only)");
  PSALM_CHECK(samples == 1 && (bits == 8 || bits == 16) && format == 1 && planar == 1 &&
                  (photometric == 0 || photometric == 1),
              name, ": a TIFF label map must be one unsigned 8- or 16-bit gray channel (", samples,
              " samples of ", bits, " bits, format ", format, ", photometric ", photometric, ")");
  PSALM_CHECK(!offsets.empty() && offsets.size() == counts.size(), name, ": TIFF has ",
              offsets.size(), " strip offsets and ", counts.size(), " strip byte counts");
  if (rows_per_strip < 1 || rows_per_strip > height) rows_per_strip = height;
  const std::int64_t strips = (height + rows_per_strip - 1) / rows_per_strip;
  PSALM_CHECK(static_cast<std::int64_t>(offsets.size()) == strips, name, ": TIFF has ",
              offsets.size(), " strips but ", height, " rows of ", rows_per_strip,
              " per strip need ", strips);
  const std::int64_t bpp = bits / 8;
  Tensor<std::int32_t> out(Shape{height, width});  // (H, W)
  std::int32_t* o = out.data();
  for (std::int64_t s = 0; s < strips; ++s) {
    const std::int64_t rows = std::min(rows_per_strip, height - s * rows_per_strip);
    const std::uint64_t need = static_cast<std::uint64_t>(rows * width * bpp);
    PSALM_CHECK(counts[static_cast<std::size_t>(s)] >= need, name, ": TIFF strip ", s, " holds ",
                counts[static_cast<std::size_t>(s)], " bytes, ", need, " needed");
    const std::uint64_t at = offsets[static_cast<std::size_t>(s)];
    t.check(at, need);
    const std::uint8_t* p = t.data() + at;
    std::int32_t* row = o + s * rows_per_strip * width;
    for (std::int64_t i = 0; i < rows * width; ++i)
      row[i] = bpp == 1 ? p[i]
                        : (t.little() ? (p[2 * i] | (p[2 * i + 1] << 8))
                                      : ((p[2 * i] << 8) | p[2 * i + 1]));
  }
  return out;
}

/// Reads a TIFF label map file (at most kMaxTiffBytes) through io::read_file_bytes.
inline Tensor<std::int32_t> load_tiff_labels(const std::filesystem::path& path) {
  const std::vector<std::uint8_t> bytes =
      io::read_file_bytes(path, kMaxTiffBytes, "TIFF label map");
  return decode_tiff_labels(bytes, path.string());
}

}  // namespace psalm::data
