"""PyTorch eager timings for benchmarks/ops.cpp: forward + backward of the same ops at the same
shapes, float32, best of 3 after a warm-up, with as many threads as the machine has cores
(psalm's OpenMP default). Writes {case name: seconds} as JSON.

    tools/reference/.venv/bin/python tools/reference/ops_bench.py --out /tmp/torch_ops.json
    build/ci/benchmarks/bench_ops --baseline /tmp/torch_ops.json

--cpu-time --threads 1 measures process CPU time with one thread (compare with
OMP_NUM_THREADS=1 bench_ops --cpu-time): steadier than wall time on a shared machine.
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F


CLOCK = time.perf_counter


def best(fn, inputs, repeats=3, min_seconds=0.3):
    def once():
        for t in inputs:
            t.grad = None
        y = fn(*inputs)
        y.backward(torch.ones_like(y))
    once()
    result = float("inf")
    for _ in range(repeats):
        calls, start = 0, CLOCK()
        while True:
            once()
            calls += 1
            elapsed = CLOCK() - start
            if elapsed >= min_seconds:
                break
        result = min(result, elapsed / calls)
    return result


def p(*shape, std=1.0):
    return (torch.randn(*shape) * std).requires_grad_(True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = {
        "layer_norm (1100, 2048)": (lambda x, w, b: F.layer_norm(x, (2048,), w, b), [p(1100, 2048), p(2048), p(2048)]),
        "softmax (32, 1100, 1100)": (lambda x: torch.softmax(x, -1), [p(32, 1100, 1100)]),
        "attention (1, 32, 1100, 64)": (F.scaled_dot_product_attention, [p(1, 32, 1100, 64) for _ in range(3)]),
        "conv2d 3x3 (1, 2048, 16, 16)": (lambda x, w: F.conv2d(x, w, padding=1), [p(1, 2048, 16, 16), p(2048, 2048, 3, 3, std=0.01)]),
        "gelu (1100, 8192)": (F.gelu, [p(1100, 8192)]),
    }
    out = {name: best(fn, inputs) for name, (fn, inputs) in cases.items()}
    out["torch_version"] = torch.__version__
    out["threads"] = torch.get_num_threads()
    out["clock"] = "process CPU time" if args.cpu_time else "wall time"
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    for k, v in out.items():
        print(k, v)


if __name__ == "__main__":
    main()
