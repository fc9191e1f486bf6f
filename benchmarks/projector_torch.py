"""PyTorch eager side of benchmarks/projector.cpp: PSALM's swin_conv projector at the released
size (res5 (1, 1024, 32, 32) -> tokens (1, 256, 2048)) built from nn.Conv2d / nn.BatchNorm2d /
nn.Linear as PSALM's builder.py runs it (conv2 applied twice), Pillow + torch preprocessing of
a 640x480 image to 1024, and detectron2-style post-processing of 100 mask logits. Float32, best
of 3 after a warm-up, as many threads as psalm's OpenMP default (all cores). Saves the weights,
input and eval output (--weights) for the C++ program, and {case: {seconds, peak_mib}} (--out).

    tools/reference/.venv/bin/python benchmarks/projector_torch.py \\
        --weights /tmp/projector_bench.safetensors --out /tmp/projector_torch.json
    build/benchmarks/bench_projector --weights /tmp/projector_bench.safetensors \\
        --baseline /tmp/projector_torch.json
"""
import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_timing import best_seconds as best  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, cin, planes):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride=2, bias=False),
                                        nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(self.conv2(out)))
        return F.relu(out + self.downsample(x))


class SwinConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(BasicBlock(1024, 2048))
        self.fc = nn.Linear(2048, 2048)

    def forward(self, x):
        y = self.layer1(x)
        return self.fc(y.reshape(y.shape[0], y.shape[1], -1).permute(0, 2, 1))


def rss_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024.0
    return 0.0


def peak_extra_mib(fn):
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = rss_mib("VmRSS")
    fn()
    return max(0.0, rss_mib("VmHWM") - before)




def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)

    model = SwinConv()
    with torch.no_grad():  # non-trivial BN statistics
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    res5 = torch.randn(1, 1024, 32, 32)
    model.eval()
    with torch.no_grad():
        tokens = model(res5)
    state = {"model.mm_projector." + k: v.float().contiguous() for k, v in model.state_dict().items()}
    state.update({"res5": res5, "tokens": tokens.contiguous()})
    save_file(state, args.weights)

    def eval_forward():
        model.eval()
        with torch.no_grad():
            model(res5)

    def train_step():
        model.train()
        model.zero_grad(set_to_none=True)
        y = model(res5)
        y.backward(torch.ones_like(y))

    i = np.arange(480 * 640 * 3, dtype=np.uint64)
    image = ((i * np.uint64(2654435761)) >> np.uint64(24)).astype(np.uint8).reshape(480, 640, 3)
    mean = torch.Tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
    std = torch.Tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)

    def preprocess():
        resized = np.asarray(Image.fromarray(image).resize((1024, 768), Image.BILINEAR))
        padded = np.pad(resized, ((0, 256), (0, 0), (0, 0)), constant_values=128)
        chw = torch.as_tensor(np.ascontiguousarray(padded.transpose(2, 0, 1)))
        return (chw - mean) / std

    masks = torch.randn(100, 256, 256)

    def postprocess():
        up = F.interpolate(masks[None], size=(1024, 1024), mode="bilinear", align_corners=False)[0]
        crop = up[:, :768, :1024].expand(1, -1, -1, -1)
        return F.interpolate(crop, size=(480, 640), mode="bilinear", align_corners=False)[0]

    cases = {"swin_conv eval forward": eval_forward, "swin_conv train fwd+bwd": train_step,
             "preprocess 640x480 -> 1024": preprocess,
             "postprocess 100x256^2 -> 640x480": postprocess}
    out = {}
    for name, fn in cases.items():
        peak = peak_extra_mib(fn)
        seconds = best(fn)
        out[name] = {"seconds": seconds, "peak_mib": peak}
        print(f"{name:36s} {seconds * 1e3:10.3f} ms  peak {peak:8.1f} MiB")
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
