// psalm/io/mapped_file.hpp — MappedFile: a whole file memory-mapped for reading (RAII).
// The mapping is private copy-on-write, so tensors viewing it may be written to without ever
// changing the file. Depends on: std, POSIX mmap, core/error. Test: tests/io/test_safetensors.cpp.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include "psalm/core/error.hpp"

namespace psalm::io {

/// A read-only view of a file's bytes through mmap. Empty files map to an empty span.
/// Pages are mapped MAP_PRIVATE: writes through data() stay in this process (copy-on-write).
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    PSALM_CHECK(fd >= 0, path.string(), ": cannot open for reading: ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      fail(path.string(), ": cannot stat: ", std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(path.string(), ": not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        fail(path.string(), ": mmap of ", size_, " bytes failed: ", std::strerror(err));
      }
      data_ = static_cast<std::byte*>(p);
    }
    ::close(fd);  // the mapping stays valid after the descriptor is closed
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }
  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~MappedFile() { unmap(); }

  const std::filesystem::path& path() const { return path_; }
  std::size_t size() const { return size_; }
  /// Start of the mapping (page-aligned), or nullptr for an empty file.
  std::byte* data() const { return data_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  void unmap() {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
  }

  std::filesystem::path path_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace psalm::io
