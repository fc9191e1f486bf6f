// psalm/core/error.hpp — psalm::Error and the PSALM_CHECK family of macros.
// Host code throws psalm::Error with a message that says what failed and where; device code
// cannot throw, so PSALM_DEVICE_ASSERT traps instead. No fmt here: messages are built by
// streaming the arguments. Depends on: std. Test: tests/core/test_error.cpp.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "psalm/core/macros.hpp"

namespace psalm {

/// The one exception type psalm throws for bad input or misuse. `what()` names the failed
/// condition's meaning (the message), followed by the source location for developers.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Where an error was raised. Built from compiler builtins rather than std::source_location,
/// which clang 14 with libstdc++ 12 (the fuzzing toolchain) lacks.
struct SourceLocation {
  const char* file;
  int line;
  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          int line = __builtin_LINE()) {
    return {file, line};
  }
  const char* file_name() const { return file; }
};

namespace detail {

template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

inline std::string_view basename(std::string_view path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

template <class... Args>
[[noreturn]] void throw_error(const SourceLocation& where, const Args&... args) {
  std::string message = concat(args...);
  message += concat(" [", basename(where.file_name()), ":", where.line, "]");
  throw Error(message);
}

}  // namespace detail

/// Throws psalm::Error built from the streamed arguments, e.g.
/// `fail("shape mismatch: ", a, " vs ", b)`.
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  detail::throw_error(SourceLocation::current(), args...);
}

}  // namespace psalm

/// PSALM_CHECK(cond, message parts...): throws psalm::Error("message parts") when cond is false.
/// The message parts are streamed with operator<<, so shapes, numbers and strings mix freely.
#define PSALM_CHECK(cond, ...)                                                       \
  do {                                                                               \
    if (!(cond)) [[unlikely]]                                                        \
      ::psalm::detail::throw_error(::psalm::SourceLocation::current(), __VA_ARGS__); \
  } while (0)

/// PSALM_DEVICE_ASSERT(cond): for kernel bodies. On the host it throws psalm::Error naming the
/// condition; in CUDA device code it traps (there is no exception to throw).
#if PSALM_IN_DEVICE_CODE
#define PSALM_DEVICE_ASSERT(cond) \
  do {                            \
    if (!(cond)) __trap();        \
  } while (0)
#else
#define PSALM_DEVICE_ASSERT(cond)                                      \
  do {                                                                 \
    if (!(cond)) [[unlikely]]                                          \
      ::psalm::detail::throw_error(::psalm::SourceLocation::current(), \
                                   "kernel assertion failed: " #cond); \
  } while (0)
#endif
