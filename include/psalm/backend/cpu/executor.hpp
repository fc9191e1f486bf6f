// psalm/backend/cpu/executor.hpp — runs kernel bodies on the host with OpenMP.
// launch(n, body) calls body(i) for i in [0, n); parallel_for(n, grain, f) calls f(begin, end)
// on contiguous chunks. Work below `grain` items per thread stays serial, so small tensors
// pay no thread start-up. Depends on: tensor/executor. Test: tests/backend/test_executor.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include <omp.h>

#include "psalm/tensor/executor.hpp"

namespace psalm {

template <>
struct Executor<cpu> {
  /// Items below which a loop runs on one thread.
  static constexpr std::int64_t kDefaultGrain = 1 << 15;

  static int max_threads() { return omp_get_max_threads(); }

  /// Calls f(begin, end) over [0, n) split into at most one chunk per thread, each at least
  /// `grain` items (the last may be shorter).
  template <class F>
  static void parallel_for(std::int64_t n, std::int64_t grain, const F& f) {
    if (n <= 0) return;
    grain = std::max<std::int64_t>(grain, 1);
    const std::int64_t chunks = std::min<std::int64_t>(max_threads(), (n + grain - 1) / grain);
    if (chunks <= 1 || omp_in_parallel()) {
      f(std::int64_t{0}, n);
      return;
    }
#pragma omp parallel for num_threads(static_cast <int>(chunks)) schedule(static, 1)
    for (std::int64_t c = 0; c < chunks; ++c) {
      const std::int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
      f(begin, end);
    }
  }

  /// Calls body(i) for every i in [0, n).
  template <KernelBody Body>
  static void launch(std::int64_t n, const Body& body, std::int64_t grain = kDefaultGrain) {
    parallel_for(n, grain, [&body](std::int64_t begin, std::int64_t end) {
      const Body local = body;  // a private copy keeps the loop free of aliasing with the output
      for (std::int64_t i = begin; i < end; ++i) local(i);
    });
  }
};

}  // namespace psalm
