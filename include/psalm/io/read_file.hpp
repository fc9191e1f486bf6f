// psalm/io/read_file.hpp — the one way psalm reads a whole file that came from outside (JSON
// configs and annotations, tokenizer files, images): only regular files (a folder, FIFO or
// device is refused before it is opened, so nothing blocks or streams forever), at most
// `max_bytes` (checked before anything is allocated), and errors that name the path and what
// was expected. Depends on: std, POSIX, core/error. Test: tests/io/test_read_file.cpp.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"

namespace psalm::io {

/// Size limits of the files psalm reads whole. A file above its limit is an error that names
/// the limit; callers with other needs pass their own.
inline constexpr std::int64_t kMaxConfigFileBytes = std::int64_t{64} << 20;      // 64 MiB
inline constexpr std::int64_t kMaxTokenizerFileBytes = std::int64_t{256} << 20;  // 256 MiB
inline constexpr std::int64_t kMaxAnnotationFileBytes = std::int64_t{1} << 30;   // 1 GiB

namespace detail {

inline std::string_view file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

/// Calls sink(size) to get a buffer of `size` bytes, then fills it from `path`.
template <class Sink>
void read_regular_file(const std::filesystem::path& path, std::int64_t max_bytes,
                       std::string_view what, Sink&& sink) {
  const std::string name = path.string();
  PSALM_CHECK(!name.empty(), "no ", what, " file given (empty path)");
  struct stat st {};
  // stat() before open(): opening a FIFO for reading would block until a writer appears.
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    fail(name, ": cannot open ", what,
         " file: ", err == ENOENT ? std::string("not found") : std::string(std::strerror(err)));
  }
  PSALM_CHECK(S_ISREG(st.st_mode), name, ": is ", file_kind(st.st_mode), ", not a regular file (",
              what, " file expected)");
  PSALM_CHECK(st.st_size <= max_bytes, name, ": file of ", st.st_size,
              " bytes exceeds the limit of ", max_bytes, " bytes for ", what, " files");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    fail(name, ": cannot open ", what, " file: ", std::strerror(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // The path may have been swapped between stat() and open(): check what was opened.
  struct stat opened {};
  PSALM_CHECK(::fstat(fd, &opened) == 0 && S_ISREG(opened.st_mode), name, ": is ",
              file_kind(opened.st_mode), ", not a regular file (", what, " file expected)");
  PSALM_CHECK(opened.st_size <= max_bytes, name, ": file of ", opened.st_size,
              " bytes exceeds the limit of ", max_bytes, " bytes for ", what, " files");
  const auto size = static_cast<std::size_t>(opened.st_size);
  char* buffer = sink(size);
  std::size_t done = 0;
  while (done < size) {
    const ::ssize_t n = ::read(fd, buffer + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      fail(name, ": error reading ", what, " file: ", std::strerror(err));
    }
    PSALM_CHECK(n > 0, name, ": ", what, " file shrank while being read (", done, " of ", size,
                " bytes)");
    done += static_cast<std::size_t>(n);
  }
  char extra = 0;
  ::ssize_t more = 0;
  do {
    more = ::read(fd, &extra, 1);
  } while (more < 0 && errno == EINTR);
  PSALM_CHECK(more == 0, name, ": ", what, " file grew while being read (beyond ", size, " bytes)");
}

}  // namespace detail

/// The whole content of the regular file at `path`, at most `max_bytes` long. `what` names
/// the kind of file in errors ("JSON", "tokenizer", "image"): a missing path, a folder, a
/// FIFO or device, a file above the limit and a read error are psalm::Errors naming the path.
inline std::string read_file(const std::filesystem::path& path, std::int64_t max_bytes,
                             std::string_view what = "input") {
  std::string out;
  detail::read_regular_file(path, max_bytes, what, [&](std::size_t n) {
    out.resize(n);
    return out.data();
  });
  return out;
}

/// As read_file, as bytes.
inline std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path,
                                                 std::int64_t max_bytes,
                                                 std::string_view what = "input") {
  std::vector<std::uint8_t> out;
  detail::read_regular_file(path, max_bytes, what, [&](std::size_t n) {
    out.resize(n);
    return reinterpret_cast<char*>(out.data());
  });
  return out;
}

}  // namespace psalm::io
