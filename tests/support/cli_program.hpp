// Test support: runs the built `psalm` program (PSALM_CLI_PATH, set by tests/cli/CMakeLists.txt;
// PSALM_CLI=path in the environment runs another build of it) as a child process with exactly
// the arguments given (no shell, stdin from /dev/null), capturing its exit code, stdout and
// stderr, under a time limit; and a whole file read as a string. Used by the tests in tests/cli/.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/tiny_model.hpp"

extern char** environ;

namespace psalm::testing {

struct ProgramRun {
  int rc = -1;  ///< the exit code; -1 when killed (time limit or signal)
  std::string out, err;
  std::string all() const { return out + err; }
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs `psalm args...` and waits at most `limit_s` seconds (then kills it: rc = -1).
inline ProgramRun psalm_program(const std::vector<std::string>& args, int limit_s = 300) {
  static TempDir logs("program_logs");
  static int counter = 0;
  const std::filesystem::path out = logs.path / ("stdout_" + std::to_string(counter));
  const std::filesystem::path err = logs.path / ("stderr_" + std::to_string(counter++));
  const char* program = std::getenv("PSALM_CLI");
  std::vector<std::string> argv_s{program != nullptr ? program : PSALM_CLI_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0)
    throw std::runtime_error("cannot run " + argv_s[0] + ": " + std::strerror(spawned));
  ProgramRun r;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit_s);
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.err = "(killed after " + std::to_string(limit_s) + " s)\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status) && r.err.empty()) r.rc = WEXITSTATUS(status);
  r.out = slurp(out);
  r.err += slurp(err);
  return r;
}

}  // namespace psalm::testing
