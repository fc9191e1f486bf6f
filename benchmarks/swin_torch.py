"""PyTorch eager baseline for benchmarks/swin.cpp: Swin-B (embed 128, depths 2-2-18-2, heads
4-8-16-32, window 12; PSALM's encoder) as transformers' SwinBackbone with the four per-stage
norms, random weights, eval mode, torch.no_grad(), float32, batch B, S x S input; best wall
and best process CPU time of --repeats after --warmup runs, with --threads threads (psalm's
OpenMP default is the core count). Writes {"seconds", "cpu_seconds", "peak_rss_mb" (this
process's peak RSS), ...} as JSON.

    tools/reference/.venv/bin/python benchmarks/swin_torch.py --size 1024 --out /tmp/torch_swin.json
    build/benchmarks/bench_swin --size 1024 --baseline /tmp/torch_swin.json
"""
import argparse
import json
import resource
import time

import torch
from transformers import SwinBackbone, SwinConfig


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = SwinConfig(image_size=384, patch_size=4, embed_dim=128, depths=[2, 2, 18, 2],
                        num_heads=[4, 8, 16, 32], window_size=12, drop_path_rate=0.3,
                        out_features=["stage1", "stage2", "stage3", "stage4"])
    config._attn_implementation = args.attn
    model = SwinBackbone(config).eval()
    image = torch.randn(args.batch, 3, args.size, args.size)
    best, best_cpu = float("inf"), float("inf")
    with torch.no_grad():
        for _ in range(args.warmup):
            model(image)
        for _ in range(args.repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            model(image)
            best_cpu = min(best_cpu, time.process_time() - cpu_start)
            best = min(best, time.perf_counter() - start)
    result = {"seconds": best, "cpu_seconds": best_cpu,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
              "size": args.size, "batch": args.batch, "threads": args.threads,
              "attn_implementation": args.attn, "torch": torch.__version__}
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
