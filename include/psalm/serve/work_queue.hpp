// psalm/serve/work_queue.hpp — WorkQueue: one model, many requests. At most `capacity` requests
// are admitted at a time (running or waiting); one more is refused at once (`full`: the server's
// 503), an admitted one that cannot start within `timeout` gives up (`timed_out`), and admitted
// work runs one piece at a time (the model's weights and an encoded image's key/value cache are
// not shared between concurrent forward passes).
// Host code. Depends on: std only. Test: tests/serve/test_work_queue.cpp.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <utility>

namespace psalm::serve {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Status { ran, full, timed_out };
  struct Outcome {
    Status status = Status::ran;
    double waited_ms = 0.0;  ///< from admission to the start of the work (or to giving up)
  };

  WorkQueue(std::size_t capacity, std::chrono::milliseconds timeout)
      : capacity_(capacity), timeout_(timeout) {}

  /// Runs `work()` alone if admitted and started within the timeout; an exception from `work`
  /// propagates after the queue is released.
  template <class F>
  Outcome run(F&& work) {
    std::unique_lock lock(mutex_);
    if (admitted_ >= capacity_) return {Status::full, 0.0};
    ++admitted_;
    const auto start = Clock::now();
    const bool got = idle_.wait_until(lock, start + timeout_, [this] { return !busy_; });
    const double waited = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!got) {
      --admitted_;
      return {Status::timed_out, waited};
    }
    busy_ = true;
    lock.unlock();
    struct Release {
      WorkQueue* q;
      ~Release() {
        {
          const std::lock_guard g(q->mutex_);
          q->busy_ = false;
          --q->admitted_;
        }
        q->idle_.notify_one();
      }
    } release{this};
    std::forward<F>(work)();
    return {Status::ran, waited};
  }

  std::size_t admitted() const {
    const std::lock_guard lock(mutex_);
    return admitted_;
  }
  std::size_t capacity() const { return capacity_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::size_t capacity_;
  std::chrono::milliseconds timeout_;
  std::size_t admitted_ = 0;
  bool busy_ = false;
};

}  // namespace psalm::serve
