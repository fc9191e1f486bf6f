// psalm/io/atomic_file.hpp — write a file so that readers see either the old or the complete new
// content, never a torn one: temporary in the same folder, write, fsync, rename, fsync folder.
// Depends on: std, POSIX, core/error. Test: tests/io/test_atomic_file.cpp.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "psalm/core/error.hpp"

namespace psalm::io {

/// A file being written to a temporary beside `path`; commit() publishes it under `path`.
/// Destroying an uncommitted AtomicFile (an exception mid-write) removes the temporary and
/// leaves any existing file at `path` untouched.
///
///   AtomicFile out(path);
///   out.write(header);
///   out.write(payload);
///   out.commit();
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
    PSALM_CHECK(!path_.filename().empty(), "atomic write: ", path_.string(), " names no file");
    std::filesystem::path dir = path_.parent_path();
    if (dir.empty()) dir = ".";
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
      const auto tick = std::chrono::steady_clock::now().time_since_epoch().count();
      std::string name = ".";
      name += path_.filename().string();
      name += ".tmp.";
      name += std::to_string(::getpid());
      name += '.';
      name += std::to_string(counter++);
      name += '.';
      name += std::to_string(static_cast<unsigned long long>(tick) % 1000000);
      temp_ = dir / name;
      // 0666 filtered by the umask, as for any newly created file.
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) return;
      if (errno != EEXIST) break;
    }
    fail(path_.string(), ": cannot create a temporary file in ", dir.string(), ": ",
         std::strerror(errno));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) {
      std::error_code ignored;
      std::filesystem::remove(temp_, ignored);
    }
  }

  /// Appends bytes to the temporary file.
  void write(std::span<const std::byte> bytes) {
    PSALM_CHECK(fd_ >= 0 && !committed_, path_.string(), ": write after commit");
    const std::byte* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
      const ::ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      PSALM_CHECK(n > 0, path_.string(), ": write failed: ", std::strerror(errno));
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    written_ += bytes.size();
  }
  void write(std::string_view text) { write(std::as_bytes(std::span(text.data(), text.size()))); }

  /// Bytes written so far.
  std::size_t size() const { return written_; }
  /// The temporary file's path (for tests).
  const std::filesystem::path& temp_path() const { return temp_; }

  /// Flushes the data to disk, renames the temporary over `path` and syncs the folder.
  void commit() {
    PSALM_CHECK(fd_ >= 0 && !committed_, path_.string(), ": commit called twice");
    PSALM_CHECK(::fsync(fd_) == 0, path_.string(), ": fsync failed: ", std::strerror(errno));
    const int closed = ::close(fd_);
    fd_ = -1;
    PSALM_CHECK(closed == 0, path_.string(), ": close failed: ", std::strerror(errno));
    PSALM_CHECK(::rename(temp_.c_str(), path_.c_str()) == 0, path_.string(),
                ": rename from temporary failed: ", std::strerror(errno));
    committed_ = true;
    sync_directory();
  }

 private:
  void sync_directory() const {
    std::filesystem::path dir = path_.parent_path();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;  // the rename happened; a folder we cannot open cannot be synced
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    // Some file systems refuse fsync on folders (EINVAL); the data itself is already synced.
    PSALM_CHECK(rc == 0 || err == EINVAL, dir.string(),
                ": fsync of folder failed: ", std::strerror(err));
  }

  std::filesystem::path path_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
  std::size_t written_ = 0;
};

/// Replaces (or creates) `path` with `bytes` atomically; see AtomicFile.
inline void write_file_atomically(const std::filesystem::path& path,
                                  std::span<const std::byte> bytes) {
  AtomicFile out(path);
  out.write(bytes);
  out.commit();
}

}  // namespace psalm::io
