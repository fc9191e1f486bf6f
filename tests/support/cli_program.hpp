// Test support: runs the built `psalm` program (PSALM_CLI_PROGRAM, set by tests/cli/CMakeLists)
// with arguments through the shell, capturing its exit code, stdout and stderr; and a whole
// file read as a string. Used by the tests in tests/cli/.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/tiny_model.hpp"

namespace psalm::testing {

struct ProgramRun {
  int rc = -1;  ///< the exit code; -1 when the program did not exit normally
  std::string out, err;
};

inline std::string shell_quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs `psalm args...`; stdout and stderr captured.
inline ProgramRun psalm_program(const std::vector<std::string>& args) {
  static TempDir logs("program_logs");
  std::string cmd = shell_quoted(PSALM_CLI_PROGRAM);
  for (const std::string& a : args) cmd += " " + shell_quoted(a);
  cmd += " >" + shell_quoted((logs.path / "out").string()) + " 2>" +
         shell_quoted((logs.path / "err").string());
  const int status = std::system(cmd.c_str());
  ProgramRun r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(logs.path / "out");
  r.err = slurp(logs.path / "err");
  return r;
}

}  // namespace psalm::testing
