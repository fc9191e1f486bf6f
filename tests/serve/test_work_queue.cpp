// Tests of psalm/serve/work_queue.hpp: admitted work never overlaps, the request past the
// capacity is refused at once (full), one that cannot start within the timeout gives up
// (timed_out), an exception from the work releases the queue.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

#include "psalm/serve/work_queue.hpp"

using psalm::serve::WorkQueue;
using namespace std::chrono_literals;

TEST_CASE("serve queue: work runs one at a time", "[serve][queue]") {
  WorkQueue q(8, 10s);
  std::atomic<int> inside{0}, most{0}, done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&] {
      const auto o = q.run([&] {
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(2ms);
        --inside;
      });
      if (o.status == WorkQueue::Status::ran) ++done;
    });
  for (auto& th : threads) th.join();
  CHECK(done == 6);
  CHECK(most == 1);
  CHECK(q.admitted() == 0);
}

TEST_CASE("serve queue: full and timed out", "[serve][queue]") {
  WorkQueue q(2, 50ms);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  std::thread holder([&] { q.run([&] { started.set_value(), gate.wait(); }); });
  started.get_future().wait();
  // The second is admitted, waits 50 ms and gives up; while it waits a third is refused.
  std::future<WorkQueue::Outcome> second =
      std::async(std::launch::async, [&] { return q.run([] {}); });
  while (q.admitted() < 2) std::this_thread::sleep_for(1ms);
  const WorkQueue::Outcome third = q.run([] {});
  CHECK(third.status == WorkQueue::Status::full);
  const WorkQueue::Outcome s = second.get();
  CHECK(s.status == WorkQueue::Status::timed_out);
  CHECK(s.waited_ms >= 45.0);
  release.set_value();
  holder.join();
  CHECK(q.admitted() == 0);
  CHECK(q.run([] {}).status == WorkQueue::Status::ran);
}

TEST_CASE("serve queue: an exception releases the queue", "[serve][queue]") {
  WorkQueue q(1, 1s);
  CHECK_THROWS_AS(q.run([] { throw std::runtime_error("boom"); }), std::runtime_error);
  CHECK(q.admitted() == 0);
  CHECK(q.run([] {}).status == WorkQueue::Status::ran);
}
