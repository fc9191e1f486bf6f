"""PyTorch timings for benchmarks/ms_deform_attn.cpp: forward and forward + backward of the
pure-PyTorch multi-scale deformable attention (tools/reference/msda_reference.py,
ms_deform_attn_core_pytorch on F.grid_sample) at PSALM's pixel-decoder shape, float32, best of 3
after a warm-up, torch.set_num_threads(2) (the development machine's cores; pass --threads to
match OMP_NUM_THREADS of the C++ run). Also the extra peak resident memory of one forward +
backward. Writes {"forward": s, "forward+backward": s, "peak_extra_mib": MiB} as JSON.

    tools/reference/.venv/bin/python benchmarks/ms_deform_attn_torch.py --out /tmp/msda_torch.json
    build/benchmarks/bench_ms_deform_attn --baseline /tmp/msda_torch.json
"""
import argparse
import json
import pathlib
import resource
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools" / "reference"))
from msda_reference import ms_deform_attn_core_pytorch, reference_points_for  # noqa: E402
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_timing import best_seconds as best  # noqa: E402




def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    b, m, d, n_levels, p = 1, 8, 32, 3, 4
    shapes = torch.tensor([[32, 32], [64, 64], [128, 128]], dtype=torch.int64)
    s = q = int(shapes.prod(1).sum())
    value = torch.randn(b, s, m, d).requires_grad_()
    # as in the pixel decoder: each query samples around its own pixel centre on every level,
    # within +-4 pixels of that level (trained offsets are a few pixels)
    ref = reference_points_for(shapes, b)  # (B, Q, L, 2)
    wh = shapes.flip(-1).to(torch.float32)  # (L, 2) as (W, H)
    offsets = torch.rand(b, q, m, n_levels, p, 2) * 8 - 4
    loc = (ref[:, :, None, :, None, :] + offsets / wh[None, None, None, :, None, :]).requires_grad_()
    attn = (torch.rand(b, q, m, n_levels, p) / 12).requires_grad_()
    d_out = torch.randn(b, q, m * d)

    def fwd_bwd():
        for t in (value, loc, attn):
            t.grad = None
        ms_deform_attn_core_pytorch(value, shapes, loc, attn).backward(d_out)

    before = peak_rss_mib()
    fwd_bwd()
    extra = peak_rss_mib() - before

    def fwd():
        with torch.no_grad():
            ms_deform_attn_core_pytorch(value, shapes, loc, attn)

    out = {"forward": best(fwd), "forward+backward": best(fwd_bwd), "peak_extra_mib": extra,
           "threads": torch.get_num_threads()}
    print(json.dumps(out))
    pathlib.Path(args.out).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
