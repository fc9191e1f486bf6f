// psalm/io/image.hpp — images in and out: PNG / JPEG / BMP / GIF decoding into (H, W, C) uint8
// tensors with a pixel limit checked before allocation, atomic PNG and JPEG saving, binary
// masks, indexed (palette) PNGs read and written as raw indices, 16-bit label PNGs and
// panoptic RGB ids. Depends on: stb (io/stb_impl.hpp), zlib, io/atomic_file,
// io/read_file, tensor.
// Test: tests/io/test_image.cpp. Docs: docs/images.md.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/atomic_file.hpp"
#include "psalm/io/read_file.hpp"
#include "psalm/io/stb_impl.hpp"
#include "psalm/tensor/host.hpp"  // host_contiguous(): host code, no executor

namespace psalm::io {

// Letters: H height, W width, C channels.

/// Default cap on width * height of a decoded image: 2^28 pixels (16384 x 16384).
inline constexpr std::int64_t kDefaultMaxPixels = std::int64_t{1} << 28;
/// Default cap on the size of an image file read from disk: 1 GiB.
inline constexpr std::int64_t kDefaultMaxFileBytes = std::int64_t{1} << 30;

struct ImageLoadOptions {
  int channels = 0;  ///< 0: as stored; 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (converted by stb)
  std::int64_t max_pixels = kDefaultMaxPixels;
  std::int64_t max_file_bytes = kDefaultMaxFileBytes;
};

/// What an image file declares, read from its header without decoding the pixels.
struct ImageInfo {
  std::int64_t height = 0;
  std::int64_t width = 0;
  int channels = 0;       ///< as stored (a palette PNG reports 3 or 4: stb expands palettes)
  bool is_16bit = false;  ///< a 16-bit-per-sample PNG
};

/// An 8-bit indexed image: the raw palette indices and the palette itself.
struct IndexedImage {
  Tensor<std::uint8_t> indices;                      // (H, W)
  std::vector<std::array<std::uint8_t, 3>> palette;  // 1..256 RGB entries
};

namespace detail {

using Bytes = std::span<const std::uint8_t>;

inline std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path,
                                                 std::int64_t max_bytes) {
  return io::read_file_bytes(path, max_bytes, "image");
}

inline void check_dimensions(std::int64_t height, std::int64_t width, std::int64_t max_pixels,
                             std::string_view name) {
  PSALM_CHECK(height > 0 && width > 0, name, ": image has zero size (", width, "x", height, ")");
  PSALM_CHECK(width <= max_pixels / height, name, ": image of ", width, "x", height,
              " pixels exceeds the limit of ", max_pixels, " pixels");
}

inline int stb_length(Bytes bytes, std::string_view name) {
  PSALM_CHECK(!bytes.empty(), name, ": empty image data");
  PSALM_CHECK(bytes.size() <= static_cast<std::size_t>(INT_MAX), name, ": image data of ",
              bytes.size(), " bytes is too large to decode");
  return static_cast<int>(bytes.size());
}

inline std::uint32_t read_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
inline void append_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

inline constexpr std::array<std::uint8_t, 8> kPngSignature = {0x89, 'P',  'N',  'G',
                                                              '\r', '\n', 0x1a, '\n'};

/// The chunks of a PNG that psalm decodes itself (palette and gray label images).
struct PngChunks {
  std::int64_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  std::vector<std::array<std::uint8_t, 3>> palette;
  std::vector<std::uint8_t> idat;
};

/// Walks the chunk list of a PNG, verifying every CRC. With `header_only`, stops after IHDR.
inline PngChunks parse_png_chunks(Bytes bytes, std::string_view name, bool header_only) {
  PSALM_CHECK(bytes.size() >= 8 && std::memcmp(bytes.data(), kPngSignature.data(), 8) == 0, name,
              ": not a PNG file (bad signature)");
  PngChunks png;
  std::size_t pos = 8;
  bool seen_ihdr = false, seen_plte = false, seen_idat = false, idat_ended = false;
  while (true) {
    PSALM_CHECK(bytes.size() - pos >= 12, name, ": PNG truncated at byte ", pos,
                " (no IEND chunk)");
    const std::uint32_t length = read_be32(bytes.data() + pos);
    const std::uint8_t* type = bytes.data() + pos + 4;
    const std::string type_name(reinterpret_cast<const char*>(type), 4);
    PSALM_CHECK(length <= 0x7fffffffu && bytes.size() - pos - 12 >= length, name, ": PNG chunk '",
                type_name, "' at byte ", pos, " declares ", length,
                " bytes, past the end of the data");
    const std::uint8_t* data = type + 4;
    const std::uint32_t crc = read_be32(data + length);
    PSALM_CHECK(static_cast<std::uint32_t>(::crc32(0, type, length + 4)) == crc, name,
                ": PNG chunk '", type_name, "' has a bad CRC");
    pos += 12 + std::size_t{length};
    if (!seen_ihdr) {
      PSALM_CHECK(type_name == "IHDR" && length == 13, name, ": PNG does not start with IHDR");
      seen_ihdr = true;
      png.width = read_be32(data);
      png.height = read_be32(data + 4);
      png.bit_depth = data[8];
      png.color_type = data[9];
      png.interlace = data[12];
      PSALM_CHECK(png.width <= 0x7fffffff && png.height <= 0x7fffffff, name,
                  ": PNG dimensions exceed 2^31-1");
      PSALM_CHECK(data[10] == 0 && data[11] == 0 && png.interlace <= 1, name,
                  ": PNG header has an unknown compression, filter or interlace method");
      if (header_only) return png;
      continue;
    }
    if (seen_idat && type_name != "IDAT") idat_ended = true;
    if (type_name == "PLTE") {
      PSALM_CHECK(!seen_plte && !seen_idat, name, ": PNG has a misplaced or second PLTE chunk");
      PSALM_CHECK(length % 3 == 0 && length >= 3 && length <= 768, name, ": PNG palette of ",
                  length, " bytes is not 1..256 RGB entries");
      seen_plte = true;
      for (std::uint32_t i = 0; i < length; i += 3)
        png.palette.push_back({data[i], data[i + 1], data[i + 2]});
    } else if (type_name == "IDAT") {
      PSALM_CHECK(!idat_ended, name, ": PNG IDAT chunks are not consecutive");
      seen_idat = true;
      png.idat.insert(png.idat.end(), data, data + length);
    } else if (type_name == "IEND") {
      break;
    } else {
      PSALM_CHECK((type[0] & 0x20) != 0, name, ": PNG has an unknown critical chunk '", type_name,
                  "'");
    }
  }
  PSALM_CHECK(seen_idat, name, ": PNG has no image data (IDAT)");
  return png;
}

/// Inflates and unfilters the IDAT stream of a non-interlaced PNG with one sample per pixel
/// (gray or palette, any bit depth) into one value per pixel, row-major.
inline std::vector<std::uint16_t> decode_single_channel_samples(const PngChunks& png,
                                                                std::string_view name) {
  PSALM_CHECK(png.interlace == 0, name, ": interlaced (Adam7) PNGs are not supported here");
  const int depth = png.bit_depth;
  const std::size_t w = static_cast<std::size_t>(png.width);
  const std::size_t h = static_cast<std::size_t>(png.height);
  const std::size_t row_bytes = (w * static_cast<std::size_t>(depth) + 7) / 8;
  const std::size_t bpp = depth == 16 ? 2 : 1;  // bytes per pixel, rounded up, for filters
  const std::size_t expected = h * (row_bytes + 1);
  PSALM_CHECK(expected <= UINT_MAX, name, ": PNG of ", w, "x", h, " is too large to inflate");
  std::vector<std::uint8_t> raw(expected);
  PSALM_CHECK(png.idat.size() <= UINT_MAX, name, ": PNG image data too large");
  z_stream zs{};
  PSALM_CHECK(inflateInit(&zs) == Z_OK, name, ": zlib inflateInit failed");
  zs.next_in = const_cast<Bytef*>(png.idat.data());
  zs.avail_in = static_cast<uInt>(png.idat.size());
  zs.next_out = raw.data();
  zs.avail_out = static_cast<uInt>(expected);
  const int rc = inflate(&zs, Z_FINISH);
  const std::size_t produced = expected - zs.avail_out;
  const char* msg = zs.msg;
  const std::string reason = msg ? msg : "";
  inflateEnd(&zs);
  PSALM_CHECK(rc != Z_DATA_ERROR && rc != Z_MEM_ERROR && rc != Z_STREAM_ERROR, name,
              ": PNG image data is corrupt (zlib: ", reason, ")");
  PSALM_CHECK(!(rc == Z_BUF_ERROR && produced == expected), name,
              ": PNG image data decompresses to more than the ", expected,
              " bytes its header declares");
  PSALM_CHECK(rc == Z_STREAM_END && produced == expected, name, ": PNG image data is truncated (",
              produced, " of ", expected, " bytes)");
  std::vector<std::uint16_t> out(w * h);
  std::vector<std::uint8_t> prev(row_bytes, 0);
  for (std::size_t y = 0; y < h; ++y) {
    std::uint8_t* row = raw.data() + y * (row_bytes + 1);
    const int filter = row[0];
    std::uint8_t* cur = row + 1;
    PSALM_CHECK(filter <= 4, name, ": PNG row ", y, " has unknown filter type ", filter);
    for (std::size_t i = 0; i < row_bytes; ++i) {
      const int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      int pred = 0;
      if (filter == 1)
        pred = a;
      else if (filter == 2)
        pred = b;
      else if (filter == 3)
        pred = (a + b) / 2;
      else if (filter == 4) {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
      }
      cur[i] = static_cast<std::uint8_t>(cur[i] + pred);
    }
    for (std::size_t x = 0; x < w; ++x) {
      std::uint16_t v = 0;
      if (depth == 16)
        v = static_cast<std::uint16_t>((cur[2 * x] << 8) | cur[2 * x + 1]);
      else if (depth == 8)
        v = cur[x];
      else {
        const std::size_t bit = x * static_cast<std::size_t>(depth);
        v = static_cast<std::uint16_t>((cur[bit / 8] >> (8 - depth - bit % 8)) &
                                       ((1 << depth) - 1));
      }
      out[y * w + x] = v;
    }
    std::memcpy(prev.data(), cur, row_bytes);
  }
  return out;
}

/// Builds a PNG with one sample per pixel (`samples` row-major, 8 or 16 bits, filter 0 rows).
inline std::vector<std::uint8_t> encode_single_channel_png(
    std::int64_t height, std::int64_t width, int bit_depth, int color_type,
    const std::vector<std::uint8_t>& rows, std::span<const std::array<std::uint8_t, 3>> palette) {
  std::vector<std::uint8_t> png(kPngSignature.begin(), kPngSignature.end());
  auto chunk = [&png](const char* type, const std::uint8_t* data, std::size_t length) {
    append_be32(png, static_cast<std::uint32_t>(length));
    const std::size_t start = png.size();
    png.insert(png.end(), type, type + 4);
    if (length > 0) png.insert(png.end(), data, data + length);
    append_be32(png, static_cast<std::uint32_t>(::crc32(0, png.data() + start, length + 4)));
  };
  std::vector<std::uint8_t> ihdr;
  append_be32(ihdr, static_cast<std::uint32_t>(width));
  append_be32(ihdr, static_cast<std::uint32_t>(height));
  ihdr.insert(ihdr.end(), {static_cast<std::uint8_t>(bit_depth),
                           static_cast<std::uint8_t>(color_type), 0, 0, 0});
  chunk("IHDR", ihdr.data(), ihdr.size());
  if (!palette.empty()) {
    std::vector<std::uint8_t> plte;
    for (const auto& rgb : palette) plte.insert(plte.end(), rgb.begin(), rgb.end());
    chunk("PLTE", plte.data(), plte.size());
  }
  uLongf compressed_size = compressBound(static_cast<uLong>(rows.size()));
  std::vector<std::uint8_t> compressed(compressed_size);
  PSALM_CHECK(compress2(compressed.data(), &compressed_size, rows.data(),
                        static_cast<uLong>(rows.size()), 6) == Z_OK,
              "PNG encoding: zlib compress failed");
  constexpr std::size_t kIdatChunk = std::size_t{1} << 20;
  for (std::size_t off = 0; off < compressed_size; off += kIdatChunk)
    chunk("IDAT", compressed.data() + off,
          std::min<std::size_t>(kIdatChunk, compressed_size - off));
  chunk("IEND", nullptr, 0);
  return png;
}

}  // namespace detail

// ---- general images (stb_image) ------------------------------------------------------------

/// Reads the header of an encoded image (PNG, JPEG, BMP, GIF) without decoding its pixels.
inline ImageInfo probe_image(std::span<const std::uint8_t> bytes,
                             std::string_view name = "<memory>") {
  const int length = detail::stb_length(bytes, name);
  int w = 0, h = 0, c = 0;
  PSALM_CHECK(stbi_info_from_memory(bytes.data(), length, &w, &h, &c) == 1, name,
              ": cannot read image header: ", stbi_failure_reason(),
              " (supported: PNG, JPEG, BMP, GIF)");
  ImageInfo info{h, w, c, stbi_is_16_bit_from_memory(bytes.data(), length) == 1};
  return info;
}

namespace detail {

/// Rejects JPEG Huffman tables (DHT segments) whose code counts exceed the 256 symbols a table
/// can hold. stb_image (the Debian 2.27 build) writes past its 257-entry size table for such
/// files (found by tests/fuzz/fuzz_image.cpp), so they are refused before stb sees them.
/// Every FF C4 byte pair is read as stb would read a DHT marker there (tables walked by the
/// segment length, bytes past the end reading as 0), wherever the segment structure puts it:
/// stb's own parser can be led to markers a strict segment walk would skip.
inline void check_jpeg_huffman_tables(std::span<const std::uint8_t> b, std::string_view name) {
  const std::size_t n = b.size();
  auto at = [&](std::size_t k) -> std::uint32_t { return k < n ? b[k] : 0; };
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (b[i] != 0xFF || b[i + 1] != 0xC4) continue;
    long remaining = static_cast<long>((at(i + 2) << 8) | at(i + 3)) - 2;
    std::size_t p = i + 4;
    while (remaining > 0 && p < n) {
      const std::uint32_t q = at(p);
      if ((q >> 4) > 1 || (q & 15) > 3) break;  // stb stops here with "bad DHT header"
      std::size_t symbols = 0;
      for (std::size_t k = 1; k <= 16; ++k) symbols += at(p + k);
      PSALM_CHECK(symbols <= 256, name, ": corrupt JPEG: Huffman table with ", symbols,
                  " codes (at most 256)");
      p += 17 + symbols;
      remaining -= static_cast<long>(17 + symbols);
    }
  }
}

}  // namespace detail

/// Decodes an encoded image into an (H, W, C) uint8 tensor. C is the stored channel count when
/// options.channels == 0, else the requested one (stb converts: gray -> RGB replicates, RGBA ->
/// RGB drops alpha, palettes expand to RGB(A), 16-bit samples keep their high byte).
/// GIF: first frame. The pixel limit is checked from the header before anything is allocated.
inline Tensor<std::uint8_t> decode_image(std::span<const std::uint8_t> bytes,
                                         const ImageLoadOptions& options = {},
                                         std::string_view name = "<memory>") {
  PSALM_CHECK(options.channels >= 0 && options.channels <= 4, name, ": cannot load with ",
              options.channels, " channels (use 0 for as stored, or 1..4)");
  if (!bytes.empty() && bytes[0] == 0xFF)  // stb takes FF fill bytes before SOI as a JPEG too
    detail::check_jpeg_huffman_tables(bytes, name);
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), detail::kPngSignature.data(), 8) == 0) {
    // stb reports oversized or empty PNGs only as "unknown image type": check IHDR first.
    const detail::PngChunks header = detail::parse_png_chunks(bytes, name, true);
    detail::check_dimensions(header.height, header.width, options.max_pixels, name);
  }
  const ImageInfo info = probe_image(bytes, name);
  detail::check_dimensions(info.height, info.width, options.max_pixels, name);
  int w = 0, h = 0, stored = 0;
  stbi_uc* pixels = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h,
                                          &stored, options.channels);
  PSALM_CHECK(pixels != nullptr, name, ": cannot decode image: ", stbi_failure_reason());
  std::shared_ptr<void> owner(pixels, [](void* p) { stbi_image_free(p); });
  PSALM_CHECK(w == info.width && h == info.height, name, ": decoded size ", w, "x", h,
              " differs from the header's ", info.width, "x", info.height);
  const int c = options.channels == 0 ? stored : options.channels;
  return Tensor<std::uint8_t>::from_external(std::move(owner), pixels, Shape{h, w, c});  // (H,W,C)
}

/// Loads an image file (PNG, JPEG, BMP, GIF) into an (H, W, C) uint8 tensor; see decode_image.
inline Tensor<std::uint8_t> load_image(const std::filesystem::path& path,
                                       const ImageLoadOptions& options = {}) {
  const auto bytes = detail::read_file_bytes(path, options.max_file_bytes);
  return decode_image(bytes, options, path.string());
}

namespace detail {

/// (H, W) or (H, W, C) uint8 -> contiguous tensor plus (h, w, c), checked for an encoder.
inline Tensor<std::uint8_t> encoder_input(const Tensor<std::uint8_t>& image, std::string_view what,
                                          std::int64_t& h, std::int64_t& w, int& c) {
  PSALM_CHECK(image.rank() == 2 || image.rank() == 3, what, ": expected an (H, W) or (H, W, C) ",
              "image, got shape ", image.shape());
  h = image.size(0);
  w = image.size(1);
  c = image.rank() == 3 ? static_cast<int>(image.size(2)) : 1;
  PSALM_CHECK(h > 0 && w > 0 && h <= INT_MAX && w <= INT_MAX, what, ": cannot encode an image of ",
              w, "x", h, " pixels");
  PSALM_CHECK(w * c <= INT_MAX / 2, what, ": image rows too long to encode");
  return host_contiguous(image);
}

inline void stb_append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  const auto* p = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

inline void write_bytes(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  write_file_atomically(path, std::as_bytes(std::span(bytes.data(), bytes.size())));
}

}  // namespace detail

/// Encodes an (H, W) or (H, W, C) uint8 image, C in {1, 2, 3, 4}, as an 8-bit PNG.
inline std::vector<std::uint8_t> encode_png(const Tensor<std::uint8_t>& image) {
  std::int64_t h = 0, w = 0;
  int c = 0;
  const Tensor<std::uint8_t> src = detail::encoder_input(image, "encode_png", h, w, c);
  PSALM_CHECK(c >= 1 && c <= 4, "encode_png: PNG holds 1 to 4 channels, got ", c);
  std::vector<std::uint8_t> out;
  const int ok =
      stbi_write_png_to_func(detail::stb_append, &out, static_cast<int>(w), static_cast<int>(h), c,
                             src.data(), static_cast<int>(w) * c);
  PSALM_CHECK(ok != 0, "encode_png: stb_image_write failed");
  return out;
}

/// Encodes an (H, W) or (H, W, C) uint8 image, C in {1, 3}, as a baseline JPEG.
inline std::vector<std::uint8_t> encode_jpeg(const Tensor<std::uint8_t>& image, int quality = 95) {
  std::int64_t h = 0, w = 0;
  int c = 0;
  const Tensor<std::uint8_t> src = detail::encoder_input(image, "encode_jpeg", h, w, c);
  PSALM_CHECK(c == 1 || c == 3, "encode_jpeg: JPEG holds gray or RGB, got ", c, " channels");
  PSALM_CHECK(quality >= 1 && quality <= 100, "encode_jpeg: quality ", quality,
              " is outside 1..100");
  std::vector<std::uint8_t> out;
  const int ok = stbi_write_jpg_to_func(detail::stb_append, &out, static_cast<int>(w),
                                        static_cast<int>(h), c, src.data(), quality);
  PSALM_CHECK(ok != 0, "encode_jpeg: stb_image_write failed");
  return out;
}

/// Writes an 8-bit gray / gray+alpha / RGB / RGBA PNG atomically (temporary file + rename).
inline void save_png(const std::filesystem::path& path, const Tensor<std::uint8_t>& image) {
  detail::write_bytes(path, encode_png(image));
}

/// Writes a gray or RGB JPEG atomically.
inline void save_jpeg(const std::filesystem::path& path, const Tensor<std::uint8_t>& image,
                      int quality = 95) {
  detail::write_bytes(path, encode_jpeg(image, quality));
}

// ---- indexed PNGs and label maps ------------------------------------------------------------

/// The DAVIS / PASCAL VOC colour map: entry i spreads the bits of i over the high bits of R, G, B.
inline std::vector<std::array<std::uint8_t, 3>> davis_palette(int entries = 256) {
  PSALM_CHECK(entries >= 1 && entries <= 256, "davis_palette: ", entries,
              " entries is outside 1..256");
  std::vector<std::array<std::uint8_t, 3>> palette(static_cast<std::size_t>(entries));
  for (int i = 0; i < entries; ++i) {
    int r = 0, g = 0, b = 0, id = i;
    for (int j = 7; j >= 0; --j, id >>= 3) {
      r |= ((id >> 0) & 1) << j;
      g |= ((id >> 1) & 1) << j;
      b |= ((id >> 2) & 1) << j;
    }
    palette[static_cast<std::size_t>(i)] = {
        static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(b)};
  }
  return palette;
}

/// Decodes an indexed (palette) PNG into its raw indices, (H, W), and its palette. Every index
/// must lie inside the palette. Bit depths 1, 2, 4, 8; interlaced files are rejected.
inline IndexedImage decode_indexed_png(std::span<const std::uint8_t> bytes,
                                       std::int64_t max_pixels = kDefaultMaxPixels,
                                       std::string_view name = "<memory>") {
  const detail::PngChunks header = detail::parse_png_chunks(bytes, name, true);
  PSALM_CHECK(header.color_type == 3, name, ": not an indexed (palette) PNG (colour type ",
              header.color_type, ")");
  PSALM_CHECK(header.bit_depth == 1 || header.bit_depth == 2 || header.bit_depth == 4 ||
                  header.bit_depth == 8,
              name, ": invalid bit depth ", header.bit_depth, " for an indexed PNG");
  detail::check_dimensions(header.height, header.width, max_pixels, name);
  const detail::PngChunks png = detail::parse_png_chunks(bytes, name, false);
  PSALM_CHECK(!png.palette.empty(), name, ": indexed PNG has no PLTE chunk");
  const std::vector<std::uint16_t> samples = detail::decode_single_channel_samples(png, name);
  Tensor<std::uint8_t> indices(Shape{png.height, png.width});  // (H, W)
  std::uint8_t* out = indices.data();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    PSALM_CHECK(samples[i] < png.palette.size(), name, ": pixel ", i, " has palette index ",
                samples[i], " but the palette has ", png.palette.size(), " entries");
    out[i] = static_cast<std::uint8_t>(samples[i]);
  }
  return {indices, png.palette};
}

inline IndexedImage load_indexed_png(const std::filesystem::path& path,
                                     std::int64_t max_pixels = kDefaultMaxPixels) {
  const auto bytes = detail::read_file_bytes(path, kDefaultMaxFileBytes);
  return decode_indexed_png(bytes, max_pixels, path.string());
}

/// Encodes (H, W) palette indices as an 8-bit indexed PNG with `palette` (default: DAVIS).
inline std::vector<std::uint8_t> encode_indexed_png(
    const Tensor<std::uint8_t>& indices,
    std::span<const std::array<std::uint8_t, 3>> palette = {}) {
  std::vector<std::array<std::uint8_t, 3>> fallback;
  if (palette.empty()) {
    fallback = davis_palette();
    palette = fallback;
  }
  PSALM_CHECK(palette.size() <= 256, "encode_indexed_png: palette of ", palette.size(),
              " entries exceeds 256");
  std::int64_t h = 0, w = 0;
  int c = 0;
  const Tensor<std::uint8_t> src = detail::encoder_input(indices, "encode_indexed_png", h, w, c);
  PSALM_CHECK(indices.rank() == 2, "encode_indexed_png: expected (H, W) indices, got shape ",
              indices.shape());
  const std::size_t row = static_cast<std::size_t>(w);
  std::vector<std::uint8_t> rows(static_cast<std::size_t>(h) * (row + 1), 0);
  for (std::int64_t y = 0; y < h; ++y) {
    const std::uint8_t* in = src.data() + y * w;
    for (std::int64_t x = 0; x < w; ++x)
      PSALM_CHECK(in[x] < palette.size(), "encode_indexed_png: index ", int{in[x]}, " at (", y,
                  ", ", x, ") is outside the palette of ", palette.size(), " entries");
    std::memcpy(rows.data() + static_cast<std::size_t>(y) * (row + 1) + 1, in, row);
  }
  return detail::encode_single_channel_png(h, w, 8, 3, rows, palette);
}

/// Writes an indexed PNG atomically (DAVIS annotation format with the default palette).
inline void save_indexed_png(const std::filesystem::path& path, const Tensor<std::uint8_t>& indices,
                             std::span<const std::array<std::uint8_t, 3>> palette = {}) {
  detail::write_bytes(path, encode_indexed_png(indices, palette));
}

/// Decodes a single-channel label PNG into (H, W) int32 values as stored: gray at 1..16 bits
/// (no rescaling of low bit depths) or palette indices. Colour PNGs are rejected: panoptic id
/// maps are RGB, read them with decode_image and panoptic_ids_from_rgb.
inline Tensor<std::int32_t> decode_label_png(std::span<const std::uint8_t> bytes,
                                             std::int64_t max_pixels = kDefaultMaxPixels,
                                             std::string_view name = "<memory>") {
  const detail::PngChunks header = detail::parse_png_chunks(bytes, name, true);
  PSALM_CHECK(header.color_type == 0 || header.color_type == 3, name,
              ": a label PNG must be gray or indexed, not colour type ", header.color_type,
              " (RGB panoptic ids: decode_image + panoptic_ids_from_rgb)");
  const int d = header.bit_depth;
  PSALM_CHECK(d == 1 || d == 2 || d == 4 || d == 8 || (d == 16 && header.color_type == 0), name,
              ": invalid bit depth ", d, " for colour type ", header.color_type);
  if (header.color_type == 3) {
    const IndexedImage indexed = decode_indexed_png(bytes, max_pixels, name);
    const std::vector<std::uint8_t> values = host_to_vector(indexed.indices);
    return Tensor<std::int32_t>::from_data(std::vector<std::int32_t>(values.begin(), values.end()),
                                           indexed.indices.shape());  // (H, W)
  }
  detail::check_dimensions(header.height, header.width, max_pixels, name);
  const detail::PngChunks png = detail::parse_png_chunks(bytes, name, false);
  const std::vector<std::uint16_t> samples = detail::decode_single_channel_samples(png, name);
  return Tensor<std::int32_t>::from_data(std::vector<std::int32_t>(samples.begin(), samples.end()),
                                         Shape{png.height, png.width});  // (H, W)
}

inline Tensor<std::int32_t> load_label_png(const std::filesystem::path& path,
                                           std::int64_t max_pixels = kDefaultMaxPixels) {
  const auto bytes = detail::read_file_bytes(path, kDefaultMaxFileBytes);
  return decode_label_png(bytes, max_pixels, path.string());
}

/// Encodes (H, W) int32 labels in [0, 65535] as a 16-bit grayscale PNG.
inline std::vector<std::uint8_t> encode_label_png16(const Tensor<std::int32_t>& labels) {
  PSALM_CHECK(labels.rank() == 2, "encode_label_png16: expected (H, W) labels, got shape ",
              labels.shape());
  const std::int64_t h = labels.size(0), w = labels.size(1);
  PSALM_CHECK(h > 0 && w > 0 && h <= 0x7fffffff && w <= 0x3fffffff,
              "encode_label_png16: cannot encode ", w, "x", h, " labels");
  const std::vector<std::int32_t> values = host_to_vector(labels);
  const std::size_t row = static_cast<std::size_t>(w) * 2;
  std::vector<std::uint8_t> rows(static_cast<std::size_t>(h) * (row + 1), 0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::int32_t v = values[i];
    PSALM_CHECK(v >= 0 && v <= 65535, "encode_label_png16: label ", v, " at element ", i,
                " is outside 0..65535");
    const std::size_t y = i / static_cast<std::size_t>(w), x = i % static_cast<std::size_t>(w);
    std::uint8_t* p = rows.data() + y * (row + 1) + 1 + 2 * x;
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v & 0xff);
  }
  return detail::encode_single_channel_png(h, w, 16, 0, rows, {});
}

inline void save_label_png16(const std::filesystem::path& path,
                             const Tensor<std::int32_t>& labels) {
  detail::write_bytes(path, encode_label_png16(labels));
}

// ---- masks and panoptic ids -----------------------------------------------------------------

/// Decodes a binary mask image (gray, RGB or indexed; any format) into (H, W) uint8 0/1.
/// Pixel values must be 0, 1 or 255 (a palette PNG: indices 0 or 1); anything else is an error
/// naming the pixel, so a lossy or multi-object file is never silently thresholded.
inline Tensor<std::uint8_t> decode_binary_mask(std::span<const std::uint8_t> bytes,
                                               std::int64_t max_pixels = kDefaultMaxPixels,
                                               std::string_view name = "<memory>") {
  const bool indexed = bytes.size() >= 33 &&
                       std::memcmp(bytes.data(), detail::kPngSignature.data(), 8) == 0 &&
                       bytes[25] == 3;  // the IHDR colour-type byte
  Tensor<std::uint8_t> mask;            // (H, W)
  if (indexed) {
    mask = decode_indexed_png(bytes, max_pixels, name).indices;
  } else {
    const Tensor<std::uint8_t> gray =
        decode_image(bytes, {.channels = 1, .max_pixels = max_pixels}, name);  // (H, W, 1)
    mask = gray.view({gray.size(0), gray.size(1)});
  }
  std::uint8_t* p = mask.data();
  for (std::int64_t i = 0; i < mask.numel(); ++i) {
    PSALM_CHECK(p[i] == 0 || p[i] == 1 || p[i] == 255, name, ": pixel (", i / mask.size(1), ", ",
                i % mask.size(1), ") has value ", int{p[i]},
                "; a binary mask holds only 0 and 1 or 0 and 255");
    p[i] = p[i] != 0;
  }
  return mask;
}

inline Tensor<std::uint8_t> load_binary_mask(const std::filesystem::path& path,
                                             std::int64_t max_pixels = kDefaultMaxPixels) {
  const auto bytes = detail::read_file_bytes(path, kDefaultMaxFileBytes);
  return decode_binary_mask(bytes, max_pixels, path.string());
}

/// Writes an (H, W) 0/1 mask as an 8-bit gray PNG with values 0 and 255, atomically.
inline void save_binary_mask(const std::filesystem::path& path, const Tensor<std::uint8_t>& mask) {
  PSALM_CHECK(mask.rank() == 2, "save_binary_mask: expected an (H, W) mask, got shape ",
              mask.shape());
  std::vector<std::uint8_t> values = host_to_vector(mask);
  for (std::size_t i = 0; i < values.size(); ++i) {
    PSALM_CHECK(values[i] <= 1, "save_binary_mask: element ", i, " is ", int{values[i]},
                ", not 0 or 1");
    values[i] = values[i] ? 255 : 0;
  }
  save_png(path, Tensor<std::uint8_t>::from_data(values, mask.shape()));
}

/// COCO panoptic id maps: (H, W, 3) RGB -> (H, W) ids with id = R + 256 G + 256^2 B.
inline Tensor<std::int32_t> panoptic_ids_from_rgb(const Tensor<std::uint8_t>& rgb) {
  PSALM_CHECK(rgb.rank() == 3 && rgb.size(2) == 3,
              "panoptic_ids_from_rgb: expected an (H, W, 3) image, got shape ", rgb.shape());
  const Tensor<std::uint8_t> src = host_contiguous(rgb);
  Tensor<std::int32_t> ids(Shape{rgb.size(0), rgb.size(1)});  // (H, W)
  const std::uint8_t* p = src.data();
  std::int32_t* out = ids.data();
  for (std::int64_t i = 0; i < ids.numel(); ++i)
    out[i] = p[3 * i] + 256 * p[3 * i + 1] + 65536 * p[3 * i + 2];
  return ids;
}

/// The inverse of panoptic_ids_from_rgb: ids in [0, 2^24) -> (H, W, 3) RGB.
inline Tensor<std::uint8_t> panoptic_ids_to_rgb(const Tensor<std::int32_t>& ids) {
  PSALM_CHECK(ids.rank() == 2, "panoptic_ids_to_rgb: expected (H, W) ids, got shape ", ids.shape());
  const std::vector<std::int32_t> values = host_to_vector(ids);
  Tensor<std::uint8_t> rgb(Shape{ids.size(0), ids.size(1), 3});  // (H, W, 3)
  std::uint8_t* out = rgb.data();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::int32_t v = values[i];
    PSALM_CHECK(v >= 0 && v < (1 << 24), "panoptic_ids_to_rgb: id ", v, " at element ", i,
                " does not fit in 24 bits");
    out[3 * i] = static_cast<std::uint8_t>(v & 0xff);
    out[3 * i + 1] = static_cast<std::uint8_t>((v >> 8) & 0xff);
    out[3 * i + 2] = static_cast<std::uint8_t>((v >> 16) & 0xff);
  }
  return rgb;
}

}  // namespace psalm::io
