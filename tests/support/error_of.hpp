// Test support: the message of the psalm::Error an action throws, for checks on what an error
// says ("" when it throws none, which no message check accepts). Depends on psalm/core/error.hpp.
// Test: tests/io/test_read_file.cpp
#pragma once

#include <string>
#include <utility>

#include "psalm/core/error.hpp"

namespace psalm::testing {

template <class F>
std::string error_of(F&& action) {
  try {
    std::forward<F>(action)();
  } catch (const psalm::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace psalm::testing
