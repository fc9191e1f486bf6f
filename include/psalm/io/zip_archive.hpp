// psalm/io/zip_archive.hpp — ZipArchive: the central directory of a zip file in memory (ZIP64
// included), for archives of stored (uncompressed) entries such as torch.save writes. Every
// offset and size is checked against the input; compressed, encrypted and multi-disk archives
// are refused; CRC-32 (zlib) is checked on request.
// Host code. Depends on: std, zlib, core/error. Test: tests/io/test_zip_archive.cpp.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"

namespace psalm::io {

/// One stored entry: its name and where its bytes lie in the archive.
struct ZipEntry {
  std::string name;
  std::uint64_t data_offset = 0;  // first byte of the entry's data
  std::uint64_t size = 0;         // bytes (stored: compressed == uncompressed)
  std::uint32_t crc32 = 0;        // as the central directory records it
};

class ZipArchive {
 public:
  /// Reads the central directory of `bytes` (which must outlive the archive). `source` names the
  /// file in errors.
  static ZipArchive parse(std::span<const std::byte> bytes, std::string source) {
    ZipArchive z;
    z.bytes_ = bytes;
    z.source_ = std::move(source);
    z.read_directory();
    return z;
  }

  const std::string& source() const { return source_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  /// The entry named `name`, or nullptr.
  const ZipEntry* find(std::string_view name) const {
    const auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &entries_[it->second];
  }
  /// The bytes of `e` (an entry of this archive).
  std::span<const std::byte> data(const ZipEntry& e) const {
    return bytes_.subspan(static_cast<std::size_t>(e.data_offset),
                          static_cast<std::size_t>(e.size));
  }
  /// Throws naming the entry when its bytes do not match the recorded CRC-32.
  void verify_crc(const ZipEntry& e) const {
    const std::span<const std::byte> d = data(e);
    const auto crc = static_cast<std::uint32_t>(
        ::crc32_z(0L, reinterpret_cast<const Bytef*>(d.data()), static_cast<z_size_t>(d.size())));
    PSALM_CHECK(crc == e.crc32, source_, ": zip entry \"", e.name, "\" is corrupt (CRC-32 ",
                hex(crc), ", the directory records ", hex(e.crc32), ")");
  }

 private:
  static std::string hex(std::uint32_t v) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out = "0x";
    for (int i = 7; i >= 0; --i) out += kDigits[(v >> (4 * i)) & 0xF];
    return out;
  }
  template <class... A>
  [[noreturn]] void error(const A&... why) const {
    fail(source_, ": ", why...);
  }
  // Little-endian integer of `width` bytes at `at`; the caller checked the range.
  std::uint64_t le(std::uint64_t at, int width) const {
    std::uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i)
      v = (v << 8) | static_cast<std::uint8_t>(
                         bytes_[static_cast<std::size_t>(at) + static_cast<std::size_t>(i)]);
    return v;
  }
  // Throws unless [at, at + n) lies inside [0, end).
  void need(std::uint64_t at, std::uint64_t n, std::uint64_t end, const char* what) const {
    if (at > end || n > end - at)
      error("zip ", what, " at offset ", at, " (", n, " bytes) runs past ",
            end == bytes_.size() ? "the end of the file" : "its area", " (", end, ")");
  }

  void read_directory() {
    const std::uint64_t size = bytes_.size();
    constexpr std::uint64_t kEocd = 22, kMaxComment = 0xFFFF;
    if (size < kEocd)
      error("not a zip archive (", size,
            " bytes, too short for an end-of-central-directory record)");
    // The end-of-central-directory record: the last signature whose comment reaches the end.
    std::uint64_t eocd = size;
    const std::uint64_t lowest = size - kEocd > kMaxComment ? size - kEocd - kMaxComment : 0;
    for (std::uint64_t at = size - kEocd + 1; at-- > lowest;) {
      if (le(at, 4) == 0x06054b50 && at + kEocd + le(at + 20, 2) == size) {
        eocd = at;
        break;
      }
    }
    if (eocd == size) error("not a zip archive (no end-of-central-directory record)");
    std::uint64_t disk = le(eocd + 4, 2), cd_disk = le(eocd + 6, 2);
    std::uint64_t count_here = le(eocd + 8, 2), count = le(eocd + 10, 2);
    std::uint64_t cd_size = le(eocd + 12, 4), cd_offset = le(eocd + 16, 4);
    std::uint64_t cd_limit = eocd;  // the directory ends before the (ZIP64) end records
    if (eocd >= 20 && le(eocd - 20, 4) == 0x07064b50) {  // ZIP64 end-of-central-directory locator
      const std::uint64_t record = le(eocd - 20 + 8, 8);
      if (le(eocd - 20 + 4, 4) != 0 || le(eocd - 20 + 16, 4) > 1)
        error("multi-disk zip archives are not supported");
      need(record, 56, eocd - 20, "ZIP64 end-of-central-directory record");
      if (le(record, 4) != 0x06064b50)
        error("no ZIP64 end-of-central-directory record at offset ", record);
      disk = le(record + 16, 4);
      cd_disk = le(record + 20, 4);
      count_here = le(record + 24, 8);
      count = le(record + 32, 8);
      cd_size = le(record + 40, 8);
      cd_offset = le(record + 48, 8);
      cd_limit = record;
    } else if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
      error("the end record defers to a ZIP64 record that is missing");
    }
    if (disk != 0 || cd_disk != 0 || count_here != count)
      error("multi-disk zip archives are not supported");
    need(cd_offset, cd_size, cd_limit, "central directory");
    if (count > cd_size / 46)
      error("the central directory of ", cd_size, " bytes cannot hold ", count, " entries");
    entries_.reserve(static_cast<std::size_t>(count));
    const std::uint64_t cd_end = cd_offset + cd_size;
    std::uint64_t at = cd_offset;
    for (std::uint64_t i = 0; i < count; ++i) at = read_entry(at, cd_end, cd_offset, i);
    if (at != cd_end)
      error("the central directory holds ", cd_end - at, " bytes after its ", count, " entries");
  }

  // Reads central-directory entry `i` at `at`; returns where the next one starts.
  std::uint64_t read_entry(std::uint64_t at, std::uint64_t cd_end, std::uint64_t data_end,
                           std::uint64_t i) {
    need(at, 46, cd_end, "central directory entry");
    if (le(at, 4) != 0x02014b50) error("central directory entry ", i, " has a bad signature");
    const std::uint64_t flags = le(at + 8, 2), method = le(at + 10, 2);
    const auto crc = static_cast<std::uint32_t>(le(at + 16, 4));
    std::uint64_t csize = le(at + 20, 4), usize = le(at + 24, 4);
    const std::uint64_t name_len = le(at + 28, 2), extra_len = le(at + 30, 2),
                        comment_len = le(at + 32, 2);
    std::uint64_t disk = le(at + 34, 2), local = le(at + 42, 4);
    need(at + 46, name_len + extra_len + comment_len, cd_end, "central directory entry");
    std::string name(reinterpret_cast<const char*>(bytes_.data()) + at + 46,
                     static_cast<std::size_t>(name_len));
    if (name.empty() || name.find('\0') != std::string::npos)
      error("central directory entry ", i, " has an empty name or one holding a NUL byte");
    // ZIP64 extended information: 8-byte values for the fields saturated at 0xFFFFFFFF.
    std::uint64_t x = at + 46 + name_len;
    const std::uint64_t x_end = x + extra_len;
    while (x + 4 <= x_end) {
      const std::uint64_t id = le(x, 2), len = le(x + 2, 2);
      if (len > x_end - x - 4) error("zip entry \"", name, "\": extra field runs past its area");
      if (id == 0x0001) {
        std::uint64_t y = x + 4;
        auto next = [&](std::uint64_t& field, int width) {
          if (y + static_cast<std::uint64_t>(width) > x + 4 + len)
            error("zip entry \"", name, "\": ZIP64 extra field is too short");
          field = le(y, width);
          y += static_cast<std::uint64_t>(width);
        };
        if (usize == 0xFFFFFFFF) next(usize, 8);
        if (csize == 0xFFFFFFFF) next(csize, 8);
        if (local == 0xFFFFFFFF) next(local, 8);
        if (disk == 0xFFFF) next(disk, 4);
      }
      x += 4 + len;
    }
    if (disk != 0) error("zip entry \"", name, "\" lies on another disk (multi-disk archive)");
    if (flags & 0x1) error("zip entry \"", name, "\" is encrypted");
    if (method != 0)
      error("zip entry \"", name, "\" is compressed (method ", method,
            "); torch.save stores its entries uncompressed, and psalm reads only those");
    if (csize != usize)
      error("zip entry \"", name, "\" is stored but records ", csize, " compressed and ", usize,
            " uncompressed bytes");
    // The local header: its own name and extra lengths place the data.
    need(local, 30, data_end, "local header");
    if (le(local, 4) != 0x04034b50) error("zip entry \"", name, "\": bad local header signature");
    const std::uint64_t local_name = le(local + 26, 2), local_extra = le(local + 28, 2);
    need(local + 30, local_name + local_extra, data_end, "local header");
    if (local_name != name_len ||
        std::string_view(reinterpret_cast<const char*>(bytes_.data()) + local + 30,
                         static_cast<std::size_t>(local_name)) != name)
      error("zip entry \"", name, "\": the local header names another file");
    ZipEntry e;
    e.name = name;
    e.data_offset = local + 30 + local_name + local_extra;
    e.size = usize;
    e.crc32 = crc;
    need(e.data_offset, e.size, data_end, "entry data");
    if (!index_.try_emplace(name, entries_.size()).second)
      error("zip entry \"", name, "\" appears twice");
    entries_.push_back(std::move(e));
    return at + 46 + name_len + extra_len + comment_len;
  }

  std::span<const std::byte> bytes_;
  std::string source_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace psalm::io
