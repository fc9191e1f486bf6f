#!/usr/bin/env python3
"""Writes tests/fixtures/assignment/lsap_cases.bin: random cost matrices with the optimal
assignment found by scipy.optimize.linear_sum_assignment, for tests/psalm/test_linear_assignment.cpp.

Deterministic (numpy default_rng with a fixed seed). Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/assignment_fixtures.py

Binary format (little endian), documented in tests/fixtures/assignment/README.md:
    header: 8 bytes magic b"PSLSAP01", u32 number of cases
    case:   u16 rows, u16 cols, u8 flags, u8 unique, f64 scipy total (sum of the chosen float64
            costs, numpy order), rows*cols f32 costs (row-major), then min(rows, cols) pairs
            (u16 row, u16 col) exactly as scipy returned them (rows ascending).
    flags:  bit 0 = integer costs with many ties, bit 1 = maximize.
    unique: 1 when the optimum was verified unique (every alternative assignment is worse by
            more than 1e-9 relative), so the pairs themselves must match; 0 otherwise.
The solve runs on the float64 widening of the stored float32 values, so C++ sees the same matrix.
"""

import os
import struct
import sys

import numpy as np
import scipy
from scipy.optimize import linear_sum_assignment

SEED = 20240817
MAGIC = b"PSLSAP01"
OUT = os.path.join("tests", "fixtures", "assignment", "lsap_cases.bin")


def make_costs(rng, rows, cols, ties):
    """float32 costs: small integers 0..3 (tie-heavy) or continuous values of varied scale."""
    if ties:
        hi = int(rng.integers(1, 5))  # values 0..hi-1, many equal entries and equal totals
        return rng.integers(0, hi, size=(rows, cols)).astype(np.float32)
    scale = 10.0 ** float(rng.integers(-3, 4))
    offset = float(rng.choice([0.0, -0.5, 3.0]))
    return ((rng.random((rows, cols)) + offset) * scale).astype(np.float32)


def is_unique(cost, maximize, row_ind, col_ind, total):
    """True when forbidding any chosen pair makes the optimum strictly worse (by > 1e-9 rel)."""
    sign = -1.0 if maximize else 1.0
    best = sign * total
    tol = 1e-9 * max(1.0, np.abs(cost).sum())
    for r, c in zip(row_ind, col_ind):
        alt = sign * cost.copy()
        alt[r, c] = np.inf  # scipy treats +inf as a forbidden pair
        try:
            ri, ci = linear_sum_assignment(alt)
        except ValueError:  # no complete assignment without this pair
            continue
        if alt[ri, ci].sum() <= best + tol:
            return False
    return True


def cases(rng):
    for _ in range(2000):
        rows, cols = int(rng.integers(1, 13)), int(rng.integers(1, 13))
        u = rng.random()
        yield rows, cols, u < 0.45, rng.random() < 0.15
    # PSALM's matcher sizes (100 queries x 1..134 targets), both orientations, both cost kinds.
    for rows, cols in [(100, 1), (1, 100), (100, 10), (100, 50), (100, 134), (134, 100),
                       (12, 100), (60, 61)]:
        for ties in (False, True):
            yield rows, cols, ties, False
    yield 100, 134, False, True


def main():
    rng = np.random.default_rng(SEED)
    blob = bytearray()
    n = 0
    n_unique = 0
    for rows, cols, ties, maximize in cases(rng):
        cost32 = make_costs(rng, rows, cols, ties)
        cost = cost32.astype(np.float64)
        row_ind, col_ind = linear_sum_assignment(cost, maximize=maximize)
        total = float(cost[row_ind, col_ind].sum())
        unique = is_unique(cost, maximize, row_ind, col_ind, total)
        n_unique += unique
        flags = (1 if ties else 0) | (2 if maximize else 0)
        blob += struct.pack("<HHBBd", rows, cols, flags, 1 if unique else 0, total)
        blob += cost32.astype("<f4").tobytes()
        pairs = np.stack([row_ind, col_ind], axis=1).astype("<u2")
        blob += pairs.tobytes()
        n += 1
    with open(OUT, "wb") as f:
        f.write(MAGIC + struct.pack("<I", n) + bytes(blob))
    print(f"scipy {scipy.__version__} numpy {np.__version__}: wrote {n} cases "
          f"({n_unique} with a unique optimum), {8 + 4 + len(blob)} bytes to {OUT}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
