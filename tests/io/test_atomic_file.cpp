// Tests for psalm/io/atomic_file.hpp: write_file_atomically and AtomicFile publish complete
// files only; an abandoned or failed write removes its temporary and keeps the old file.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "psalm/io/atomic_file.hpp"

namespace fs = std::filesystem;
using psalm::io::AtomicFile;
using psalm::io::write_file_atomically;

namespace {

struct AtomicScratch {
  fs::path path;
  AtomicScratch() {
    path = fs::temp_directory_path() /
           ("psalm_atomic_" + std::to_string(::getpid()) + "_" + std::to_string(std::rand()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~AtomicScratch() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::size_t entries() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(path), fs::directory_iterator()));
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

}  // namespace

TEST_CASE("atomic_file: write_file_atomically creates and then replaces a file") {
  AtomicScratch dir;
  const fs::path target = dir.path / "out.bin";
  write_file_atomically(target, as_bytes("first version"));
  CHECK(slurp(target) == "first version");
  write_file_atomically(target, as_bytes("second"));
  CHECK(slurp(target) == "second");
  CHECK(dir.entries() == 1);  // no temporary left behind
  write_file_atomically(target, {});
  CHECK(fs::file_size(target) == 0);
}

TEST_CASE("atomic_file: streamed pieces appear only after commit, in order") {
  AtomicScratch dir;
  const fs::path target = dir.path / "stream.txt";
  write_file_atomically(target, as_bytes("old"));
  AtomicFile out(target);
  out.write(std::string_view("hello, "));
  out.write(as_bytes("world"));
  CHECK(out.size() == 12);
  CHECK(fs::exists(out.temp_path()));
  CHECK(out.temp_path().parent_path() == target.parent_path());
  CHECK(slurp(target) == "old");  // readers still see the old content
  out.commit();
  CHECK(slurp(target) == "hello, world");
  CHECK(dir.entries() == 1);
  CHECK_THROWS_WITH(out.commit(), Catch::Contains("commit called twice"));
  CHECK_THROWS_WITH(out.write(std::string_view("x")), Catch::Contains("write after commit"));
}

TEST_CASE("atomic_file: an exception mid-write keeps the old file and removes the temporary") {
  AtomicScratch dir;
  const fs::path target = dir.path / "model.safetensors";
  write_file_atomically(target, as_bytes("precious checkpoint"));
  fs::path temp;
  try {
    AtomicFile out(target);
    temp = out.temp_path();
    out.write(std::string(1 << 20, 'x'));
    throw std::runtime_error("crash while writing");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "crash while writing");
  }
  CHECK_FALSE(temp.empty());
  CHECK_FALSE(fs::exists(temp));
  CHECK(slurp(target) == "precious checkpoint");
  CHECK(dir.entries() == 1);
}

TEST_CASE("atomic_file: new files get the usual permissions (0666 less the umask)") {
  AtomicScratch dir;
  const ::mode_t mask = ::umask(022);
  ::umask(mask);
  const fs::path target = dir.path / "perm.txt";
  write_file_atomically(target, as_bytes("x"));
  struct stat st {};
  REQUIRE(::stat(target.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == (0666 & ~mask));
}

TEST_CASE("atomic_file: a folder that does not exist is an error naming the path") {
  AtomicScratch dir;
  const fs::path target = dir.path / "missing" / "out.bin";
  CHECK_THROWS_AS(write_file_atomically(target, as_bytes("x")), psalm::Error);
  CHECK_THROWS_WITH(write_file_atomically(target, as_bytes("x")),
                    Catch::Contains(target.string()) && Catch::Contains("temporary"));
  CHECK_THROWS_WITH(AtomicFile(dir.path / ""), Catch::Contains("names no file"));
}
