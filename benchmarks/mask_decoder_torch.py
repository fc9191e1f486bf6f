"""PyTorch eager timing for benchmarks/mask_decoder.cpp: the PyTorch composition of PSALM's
decoder (tools/reference/mask_decoder_fixtures.py, the module tree of the official
MultiScaleMaskedTransformerDecoderForOPTPreTrain) at the same shapes, float32, forward under
torch.no_grad(), best of N after a warm-up, with as many threads as the machine has cores
(psalm's OpenMP default). Writes {case name: seconds, "peak_rss_mb": process peak RSS,
"steady_rss_mb": resident memory before the first forward} as JSON.

    tools/reference/.venv/bin/python benchmarks/mask_decoder_torch.py --out /tmp/torch_maskdec.json
    build/benchmarks/bench_mask_decoder --baseline /tmp/torch_maskdec.json
"""
import argparse
import json
import os
import pathlib
import resource
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools" / "reference"))
import mask_decoder_fixtures as ref  # noqa: E402

ref.D = torch.float32  # the sine position encoding in float32, as the module runs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(1)
    dec = ref.Decoder(256, 8, 2048, 9, 100, 256).eval()
    queries = torch.randn(1, 100, 256)
    ms = [torch.randn(1, 256, s, s) for s in (32, 64, 128)]
    mask_features = torch.randn(1, 256, 256, 256)
    cls = torch.randn(1, 134, 256)
    refer = torch.randn(1, 0, 256)  # no referring condition (the C++ side passes none)
    regions = []

    def once():
        with torch.no_grad():
            preds, _, _ = dec(queries, ms, mask_features, cls, refer, regions)
        assert len(preds) == 10

    with open("/proc/self/statm") as statm:  # resident memory before the first forward
        steady = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    once()
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        once()
        best = min(best, time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = {"mask decoder forward (1024 input)": best, "peak_rss_mb": peak,
              "steady_rss_mb": steady}
    pathlib.Path(args.out).write_text(json.dumps(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
