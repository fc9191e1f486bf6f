"""Timing shared by the PyTorch / Pillow baseline scripts in benchmarks/ (the Python side of
benchmarks/bench_util.hpp): the best per-call time of a function, each repeat running it until
at least `min_seconds` have passed."""
import time


def best_seconds(fn, repeats=3, min_seconds=0.3):
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return best
