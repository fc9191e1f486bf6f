"""PyTorch timings for benchmarks/pixel_decoder.cpp: the forward (torch.no_grad) of the PyTorch
composition of PSALM's pixel decoder (tools/reference/pixel_decoder_fixtures.py, whose deformable
attention is the pure-PyTorch reference on F.grid_sample) at a 1024 input with PSALM's config
(conv_dim 256, 6 layers, 8 heads, 4 points, FFN 1024, GroupNorm 32; Swin-B channels), float32,
batch 1, best of 3 after a warm-up, torch.set_num_threads(2) (pass --threads to match the C++
run). Also the extra peak resident memory of one forward. Writes {"forward": s,
"peak_extra_mib": MiB} as JSON.

    tools/reference/.venv/bin/python benchmarks/pixel_decoder_torch.py --out /tmp/pixdec_torch.json
    build/benchmarks/bench_pixel_decoder --baseline /tmp/pixdec_torch.json
"""
import argparse
import json
import pathlib
import resource
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools" / "reference"))
from pixel_decoder_fixtures import PixelDecoder  # noqa: E402


def best(fn, repeats=3):
    fn()
    result = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        result = min(result, time.perf_counter() - start)
    return result


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = PixelDecoder(in_channels=(128, 256, 512, 1024), conv_dim=256, mask_dim=256,
                         n_layers=6, d_ffn=1024, n_heads=8, n_points=4, groups=32).eval()
    res2 = torch.randn(1, 128, 256, 256)
    res3 = torch.randn(1, 256, 128, 128)
    res4 = torch.randn(1, 512, 64, 64)
    res5 = torch.randn(1, 1024, 32, 32)

    def fwd():
        with torch.no_grad():
            model(res2, res3, res4, res5)

    before = peak_rss_mib()
    fwd()
    extra = peak_rss_mib() - before
    out = {"forward": best(fwd), "peak_extra_mib": extra, "threads": torch.get_num_threads()}
    print(json.dumps(out))
    pathlib.Path(args.out).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
