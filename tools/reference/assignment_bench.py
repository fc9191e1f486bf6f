#!/usr/bin/env python3
"""Times scipy.optimize.linear_sum_assignment on the matrices that benchmarks/assignment.cpp
solves, and writes the timings (and scipy's optimal totals, so the C++ side can check it solved
the same matrices) to a JSON file that `bench_assignment --baseline FILE` reads.

    tools/reference/.venv/bin/python tools/reference/assignment_bench.py --out /tmp/scipy_lsap.json
    build/benchmarks/bench_assignment --baseline /tmp/scipy_lsap.json

Matrix generator (the same in benchmarks/assignment.cpp): matrix m (0-based) of shape rows x cols
has seed s = 0x5053414C4D + rows * 65536 + cols + m * 2**32; its row-major element k is
splitmix64(s + (k + 1) * 0x9E3779B97F4A7C15) >> 11, times 2**-53 (uniform in [0, 1)), where
splitmix64's mix is z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
z ^= z >> 31 (all mod 2**64).
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import scipy
from scipy.optimize import linear_sum_assignment

# (rows, cols, matrices): PSALM's matcher sizes (100 queries x targets), then larger problems.
SHAPES = [(100, 1, 8), (100, 10, 8), (100, 50, 8), (100, 134, 8), (1000, 1000, 2), (500, 2000, 2)]
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def matrix(rows, cols, m):
    seed = np.uint64((0x5053414C4D + rows * 65536 + cols + m * 2**32) % 2**64)
    k = np.arange(1, rows * cols + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = seed + k * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) * 2.0**-53).reshape(rows, cols)


def time_shape(mats, min_seconds, min_rounds):
    """Best round's (seconds for one solve of every matrix) / number of matrices."""
    rounds = []
    start = time.perf_counter()
    while len(rounds) < min_rounds or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        for c in mats:
            linear_sum_assignment(c)
        rounds.append((time.perf_counter() - t0) / len(mats))
    return min(rounds), len(rounds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--min-seconds", type=float, default=1.0, help="time spent per shape")
    args = ap.parse_args()
    results = []
    for rows, cols, count in SHAPES:
        mats = [matrix(rows, cols, m) for m in range(count)]
        totals = []
        for c in mats:
            r, k = linear_sum_assignment(c)
            totals.append(float(c[r, k].sum()))
        seconds, n_rounds = time_shape(mats, args.min_seconds, 5)
        results.append({"rows": rows, "cols": cols, "matrices": count,
                        "seconds_per_solve": seconds, "rounds": n_rounds, "totals": totals})
        print(f"scipy {rows:5d} x {cols:5d}: {seconds * 1e6:12.1f} us per solve")
    doc = {"tool": "scipy.optimize.linear_sum_assignment", "scipy": scipy.__version__,
           "numpy": np.__version__, "python": platform.python_version(),
           "machine": platform.machine(), "cpu_count": os.cpu_count(), "shapes": results}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
