// Tests of psalm/io/read_file.hpp (the bounded reader of whole files) and of the JSON, tokenizer
// and image readers built on it: regular files only, nothing blocks, limits hold before reading.
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "psalm/io/image.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/io/read_file.hpp"
#include "psalm/io/tokenizer.hpp"
#include "support/error_of.hpp"

namespace fs = std::filesystem;
using Catch::Contains;

using psalm::testing::error_of;

namespace {

struct Scratch {
  fs::path path =
      fs::temp_directory_path() / ("psalm_test_read_file_" + std::to_string(::getpid()));
  Scratch() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return path / name;
  }
};

}  // namespace

TEST_CASE("read_file: the exact bytes of a regular file, also through a symlink",
          "[io][read_file]") {
  Scratch s;
  std::string text = "a\0b\xff\n";
  text.push_back('\0');
  const fs::path p = s.write("bytes.bin", text);
  CHECK(psalm::io::read_file(p, 100) == text);
  CHECK(psalm::io::read_file_bytes(p, 100).size() == text.size());
  CHECK(psalm::io::read_file(s.write("empty", ""), 0).empty());
  fs::create_symlink(p, s.path / "link.bin");
  CHECK(psalm::io::read_file(s.path / "link.bin", 100) == text);
  CHECK(psalm::io::read_file(p, static_cast<std::int64_t>(text.size())) == text);  // at the limit
}

TEST_CASE("read_file: missing paths, folders, FIFOs and devices are errors naming the path",
          "[io][read_file]") {
  Scratch s;
  CHECK_THAT(error_of([&] { psalm::io::read_file(s.path / "nope.json", 10, "JSON"); }),
             Contains("nope.json: cannot open JSON file: not found"));
  CHECK_THAT(error_of([&] { psalm::io::read_file(s.path, 10, "JSON"); }),
             Contains(s.path.string() + ": is a folder, not a regular file (JSON file expected)"));
  const fs::path fifo = s.path / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);  // opening it for reading would block
  CHECK_THAT(error_of([&] { psalm::io::read_file(fifo, 10); }),
             Contains("fifo: is a FIFO (named pipe), not a regular file"));
  CHECK_THAT(error_of([&] { psalm::io::read_file("/dev/zero", 10); }),
             Contains("/dev/zero: is a character device, not a regular file"));
  fs::create_directory_symlink(s.path, s.path / "dir_link");
  CHECK_THAT(error_of([&] { psalm::io::read_file(s.path / "dir_link", 10); }),
             Contains("is a folder"));
  CHECK_THAT(error_of([&] { psalm::io::read_file("", 10); }), Contains("empty path"));
}

TEST_CASE("read_file: a file above the limit is refused before anything is read",
          "[io][read_file]") {
  Scratch s;
  const fs::path big = s.write("big.json", "");
  fs::resize_file(big, std::uintmax_t{1} << 40);  // sparse 1 TiB: reading it would never end
  CHECK_THAT(error_of([&] { psalm::io::read_file(big, 1000, "JSON"); }),
             Contains("big.json: file of 1099511627776 bytes exceeds the limit of 1000 bytes "
                      "for JSON files"));
  CHECK_THAT(error_of([&] { psalm::io::read_json_file(big); }),
             Contains("exceeds the limit of " + std::to_string(psalm::io::kMaxConfigFileBytes)));
  CHECK_THAT(error_of([&] { psalm::io::read_file(s.write("four", "1234"), 3); }),
             Contains("file of 4 bytes exceeds the limit of 3 bytes"));
}

TEST_CASE("read_file: the JSON, tokenizer and image readers use it", "[io][read_file]") {
  Scratch s;
  const fs::path fifo = s.path / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THAT(error_of([&] { psalm::io::read_json_file(fifo); }), Contains("not a regular file"));
  CHECK_THAT(error_of([&] { psalm::io::ConfigReader::from_file(s.path); }),
             Contains("is a folder, not a regular file (JSON file expected)"));
  CHECK_THAT(error_of([&] { psalm::io::read_json_file(s.write("dup.json", R"({"a":1,"a":2})")); }),
             Contains("duplicate key"));
  CHECK_THAT(error_of([&] { psalm::io::load_image(fifo); }),
             Contains("not a regular file (image file expected)"));
  // a tokenizer folder whose vocabulary is a FIFO and whose merges are fine
  const fs::path tok = s.path / "tok";
  fs::create_directories(tok);
  REQUIRE(::mkfifo((tok / "vocab.json").c_str(), 0600) == 0);
  s.write("tok/merges.txt", "#version: 0.2\n");
  CHECK_THAT(error_of([&] { psalm::io::Tokenizer::from_folder(tok); }),
             Contains("vocab.json: is a FIFO (named pipe), not a regular file"));
  // and its JSON is strict: a duplicate token is an error, not a silent overwrite
  fs::remove(tok / "vocab.json");
  s.write("tok/vocab.json", R"({"a": 0, "b": 1, "a": 2})");
  CHECK_THAT(error_of([&] { psalm::io::Tokenizer::from_folder(tok); }),
             Contains("duplicate key \"a\""));
}
