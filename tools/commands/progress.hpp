// tools/commands/progress.hpp — a one-line progress bar on stderr for long commands:
// `label [#########.........] 45/100  12.3/s  eta 4s`, redrawn in place when stderr is a
// terminal and printed at most every 10 % otherwise (so logs stay short). A phase is timed from
// the bar's creation (the first phase) or the previous phase's last update, so the first line
// already has a rate; with nothing done yet it shows `--/s  eta --`.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
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
      start_ = last_;
      last_decile_ = -1;
    }
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const bool known = done > 0 && elapsed > 0;
    const double rate = known ? static_cast<double>(done) / elapsed : 0.0;
    char speed[64] = "--/s  eta --";
    if (known)
      std::snprintf(speed, sizeof speed, "%.1f/s  eta %.0fs", rate,
                    static_cast<double>(total - done) / rate);
    const int width = 24;
    const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
    const int decile = total > 0 ? static_cast<int>(10 * done / total) : 10;
    if (!tty_ && decile == last_decile_ && done != total) return;
    last_decile_ = decile;
    std::fprintf(stderr, "%s%-12s [%s%s] %lld/%lld  %s%s", tty_ ? "\r" : "", label_.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 static_cast<long long>(done), static_cast<long long>(total), speed,
                 tty_ ? "" : "\n");
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
  std::chrono::steady_clock::time_point last_ =
      std::chrono::steady_clock::now();  // previous update
  int last_decile_ = -1;
};

}  // namespace psalm::cli
