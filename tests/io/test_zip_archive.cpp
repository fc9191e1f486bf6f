// Tests for psalm/io/zip_archive.hpp: an archive written by Python's zipfile (with a comment and
// a directory entry) and the torch.save files of tests/fixtures/checkpoints (ZIP64 end records,
// padded local headers, data descriptors) read entry by entry; a ZIP64 archive whose
// central-directory fields defer to the extra field, built here byte by byte; CRC checks; every
// structural error named.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "psalm/io/zip_archive.hpp"
#include "support/error_of.hpp"

using namespace psalm;
using namespace psalm::io;

using psalm::testing::error_of;

namespace {

std::vector<std::byte> read_file(const std::string& relative) {
  std::ifstream in(std::string(PSALM_TEST_FIXTURES_DIR) + "/" + relative, std::ios::binary);
  REQUIRE(in.good());
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(c.size());
  if (!c.empty()) std::memcpy(out.data(), c.data(), c.size());
  return out;
}

std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A minimal writer of stored entries: `zip64` puts 0xFFFFFFFF in the central directory's size
// and offset fields with the values in a ZIP64 extra field, and adds the ZIP64 end records.
struct ZipBuilder {
  std::vector<std::byte> out;
  struct Entry {
    std::string name;
    std::uint64_t offset, size;
    std::uint32_t crc;
  };
  std::vector<Entry> entries;

  void put(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
  }
  void put(const std::string& s) {
    for (char c : s) out.push_back(static_cast<std::byte>(c));
  }
  void add(const std::string& name, const std::string& data, std::uint16_t method = 0) {
    const auto crc = static_cast<std::uint32_t>(
        ::crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    entries.push_back({name, out.size(), data.size(), crc});
    put(0x04034b50, 4);
    put(20, 2);
    put(0, 2);
    put(method, 2);
    put(0, 4);
    put(crc, 4);
    put(data.size(), 4);
    put(data.size(), 4);
    put(name.size(), 2);
    put(4, 2);  // an unknown extra field of 0 bytes, as padding
    put(name);
    put(0xCAFE, 2);
    put(0, 2);
    put(data);
  }
  std::vector<std::byte> finish(bool zip64) {
    const std::uint64_t cd = out.size();
    for (const Entry& e : entries) {
      put(0x02014b50, 4);
      put(45, 2);
      put(45, 2);
      put(0, 2);
      put(0, 2);
      put(0, 4);
      put(e.crc, 4);
      put(zip64 ? 0xFFFFFFFF : e.size, 4);
      put(zip64 ? 0xFFFFFFFF : e.size, 4);
      put(e.name.size(), 2);
      put(zip64 ? 28 : 0, 2);
      put(0, 2);
      put(0, 2);
      put(0, 2);
      put(0, 4);
      put(zip64 ? 0xFFFFFFFF : e.offset, 4);
      put(e.name);
      if (zip64) {
        put(0x0001, 2);
        put(24, 2);
        put(e.size, 8);
        put(e.size, 8);
        put(e.offset, 8);
      }
    }
    const std::uint64_t cd_size = out.size() - cd;
    if (zip64) {
      const std::uint64_t record = out.size();
      put(0x06064b50, 4);
      put(44, 8);
      put(45, 2);
      put(45, 2);
      put(0, 4);
      put(0, 4);
      put(entries.size(), 8);
      put(entries.size(), 8);
      put(cd_size, 8);
      put(cd, 8);
      put(0x07064b50, 4);
      put(0, 4);
      put(record, 8);
      put(1, 4);
    }
    put(0x06054b50, 4);
    put(0, 2);
    put(0, 2);
    put(zip64 ? 0xFFFF : entries.size(), 2);
    put(zip64 ? 0xFFFF : entries.size(), 2);
    put(zip64 ? 0xFFFFFFFF : cd_size, 4);
    put(zip64 ? 0xFFFFFFFF : cd, 4);
    put(0, 2);
    return out;
  }
};

}  // namespace

TEST_CASE("zip: an archive written by Python's zipfile reads entry by entry") {
  const std::vector<std::byte> bytes = read_file("checkpoints/stored.zip");
  const ZipArchive z = ZipArchive::parse(bytes, "stored.zip");
  REQUIRE(z.entries().size() == 3);
  CHECK(z.entries()[0].name == "top/");
  CHECK(z.entries()[0].size == 0);
  const ZipEntry* a = z.find("top/a.txt");
  REQUIRE(a != nullptr);
  CHECK(text_of(z.data(*a)) == "hello");
  const ZipEntry* b = z.find("top/b.bin");
  REQUIRE(b != nullptr);
  REQUIRE(b->size == 256);
  for (std::size_t i = 0; i < 256; ++i) CHECK(static_cast<std::size_t>(z.data(*b)[i]) == i);
  for (const ZipEntry& e : z.entries()) CHECK_NOTHROW(z.verify_crc(e));
  CHECK(z.find("top/c.txt") == nullptr);
}

TEST_CASE("zip: torch.save archives (ZIP64 end records, padded local headers)") {
  for (const char* file : {"checkpoints/mm_projector.bin", "checkpoints/torch_views.pt"}) {
    INFO(file);
    const std::vector<std::byte> bytes = read_file(file);
    const ZipArchive z = ZipArchive::parse(bytes, file);
    REQUIRE(!z.entries().empty());
    const std::string archive = z.entries()[0].name.substr(0, z.entries()[0].name.find('/'));
    const ZipEntry* pkl = z.find(archive + "/data.pkl");
    REQUIRE(pkl != nullptr);
    CHECK(static_cast<unsigned char>(z.data(*pkl)[0]) == 0x80);  // a pickle starts with PROTO
    const ZipEntry* order = z.find(archive + "/byteorder");
    REQUIRE(order != nullptr);
    CHECK(text_of(z.data(*order)) == "little");
    for (const ZipEntry& e : z.entries()) {
      CHECK_NOTHROW(z.verify_crc(e));
      if (e.name.starts_with(archive + "/data/")) CHECK(e.data_offset % 64 == 0);  // torch aligns
    }
  }
}

TEST_CASE("zip: ZIP64 central-directory fields and end records") {
  for (bool zip64 : {false, true}) {
    INFO("zip64 " << zip64);
    ZipBuilder w;
    w.add("x/first", "abc");
    w.add("x/second", std::string(1000, 'z'));
    w.add("x/empty", "");
    const std::vector<std::byte> bytes = w.finish(zip64);
    const ZipArchive z = ZipArchive::parse(bytes, "built.zip");
    REQUIRE(z.entries().size() == 3);
    CHECK(text_of(z.data(*z.find("x/first"))) == "abc");
    CHECK(z.find("x/second")->size == 1000);
    CHECK(z.find("x/empty")->size == 0);
    for (const ZipEntry& e : z.entries()) CHECK_NOTHROW(z.verify_crc(e));
  }
}

TEST_CASE("zip: structural errors are named; nothing outside the input is read") {
  ZipBuilder w;
  w.add("x/a", "hello");
  const std::vector<std::byte> good = w.finish(false);
  auto mutate = [&](std::size_t at, std::uint8_t value) {
    std::vector<std::byte> b = good;
    b[at] = static_cast<std::byte>(value);
    return b;
  };
  const std::size_t cd = 30 + 3 + 4 + 5;  // the local header, name, extra field and data
  const std::size_t eocd = good.size() - 22;
  struct Case {
    std::vector<std::byte> bytes;
    std::string error;
  };
  std::vector<Case> cases = {
      {{}, "too short for an end-of-central-directory record"},
      {std::vector<std::byte>(good.begin(), good.end() - 1), "no end-of-central-directory record"},
      {mutate(eocd + 4, 1), "multi-disk zip archives are not supported"},
      {[&] {
         std::vector<std::byte> b = mutate(eocd + 10, 2);
         b[eocd + 8] = static_cast<std::byte>(2);
         return b;
       }(),
       "cannot hold 2 entries"},
      {mutate(eocd + 19, 0x7F), "central directory at offset"},
      {mutate(eocd + 8, 0xFF), "multi-disk"},
      {mutate(cd, 0x51), "central directory entry 0 has a bad signature"},
      {mutate(cd + 10, 8), "is compressed (method 8)"},
      {mutate(cd + 8, 1), "is encrypted"},
      {mutate(cd + 20, 9), "records 9 compressed and 5 uncompressed bytes"},
      {mutate(cd + 45, 0x10), "local header at offset 268435456"},
      {mutate(0, 0x51), "bad local header signature"},
      {mutate(30, 'y'), "the local header names another file"},
      {mutate(cd + 24, 0xF0), "records 5 compressed and 240 uncompressed bytes"},
      {mutate(cd + 28, 0), "has an empty name"},
  };
  // The local header's own sizes are not used (torch leaves them 0 and writes a data descriptor).
  CHECK_NOTHROW(ZipArchive::parse(mutate(18, 0), "x.zip"));
  for (const Case& c : cases) {
    INFO("case: " << c.error);
    CHECK_THAT(error_of([&] { ZipArchive::parse(c.bytes, "x.zip"); }), Catch::Contains(c.error));
    CHECK_THAT(error_of([&] { ZipArchive::parse(c.bytes, "x.zip"); }),
               Catch::StartsWith("x.zip: "));
  }
  // Both sizes in range but the data would run into the central directory.
  std::vector<std::byte> long_entry = good;
  long_entry[cd + 20] = long_entry[cd + 24] = static_cast<std::byte>(60);
  CHECK_THAT(error_of([&] { ZipArchive::parse(long_entry, "x.zip"); }),
             Catch::Contains("zip entry data"));
  // A corrupt byte is found by the CRC check, not by parsing.
  const std::vector<std::byte> flipped = mutate(30 + 3 + 4, 'j');
  const ZipArchive z = ZipArchive::parse(flipped, "x.zip");
  CHECK_THAT(error_of([&] { z.verify_crc(z.entries()[0]); }),
             Catch::Contains("x.zip: zip entry \"x/a\" is corrupt (CRC-32 0x"));
  // Duplicated names; a ZIP64 locator pointing nowhere.
  ZipBuilder dup;
  dup.add("x/a", "1");
  dup.add("x/a", "2");
  CHECK_THAT(error_of([&] { ZipArchive::parse(dup.finish(false), "x.zip"); }),
             Catch::Contains("zip entry \"x/a\" appears twice"));
  ZipBuilder z64;
  z64.add("x/a", "1");
  std::vector<std::byte> bad64 = z64.finish(true);
  bad64[bad64.size() - 22 - 20 + 8] = static_cast<std::byte>(0x01);  // locator -> offset 1
  CHECK_THAT(error_of([&] { ZipArchive::parse(bad64, "x.zip"); }),
             Catch::Contains("no ZIP64 end-of-central-directory record at offset"));
}
