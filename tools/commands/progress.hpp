// tools/commands/progress.hpp — a one-line progress bar on stderr for long commands:
// `label [#########.........] 45/100  12.3/s  eta 4s`, redrawn in place when stderr is a
// terminal and printed at most every 10 % otherwise (so logs stay short).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace psalm::cli {

class ProgressBar {
 public:
  void update(std::string_view label, std::int64_t done, std::int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (label != label_) {
      finish();
      label_ = std::string(label);
      start_ = now;
      last_decile_ = -1;
    }
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
    const int width = 24;
    const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
    const int decile = total > 0 ? static_cast<int>(10 * done / total) : 10;
    if (!tty_ && decile == last_decile_ && done != total) return;
    last_decile_ = decile;
    std::fprintf(stderr, "%s%-12s [%s%s] %lld/%lld  %.1f/s  eta %.0fs%s", tty_ ? "\r" : "",
                 label_.c_str(), std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 static_cast<long long>(done), static_cast<long long>(total), rate, eta, tty_ ? "" : "\n");
    open_ = tty_;
    std::fflush(stderr);
  }
  void finish() {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
  }
  ~ProgressBar() { finish(); }

 private:
  bool tty_ = isatty(fileno(stderr)) != 0;
  bool open_ = false;
  std::string label_;
  std::chrono::steady_clock::time_point start_;
  int last_decile_ = -1;
};

}  // namespace psalm::cli
