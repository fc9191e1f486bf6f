"""Helpers shared by the fixture scripts of tools/reference/: where fixtures go, the JSON forms
of tensors and masks the C++ tests read (tests/support/fixtures.hpp, tests/support/rle.hpp),
the autograd case layout of tests/autograd/op_check.hpp, and the DAVIS palette.

The scripts import it as `from common import ...` (Python puts a script's own folder on
sys.path). torch is imported only by the helpers that need it, so numpy-only scripts stay so.
Test: the fixtures these helpers write are read by tests/autograd/test_arithmetic.cpp,
tests/eval/test_referring.cpp, tests/io/test_rle.cpp, tests/tensor/test_reduce.cpp and others.
"""
import json
import math
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Where the committed fixtures live.
FIXTURES = ROOT / "tests" / "fixtures"


def value_runs(a):
    """[value, count, value, count, ...] over the row-major elements of `a` (masks, label
    maps), as tests/support/rle.hpp's decode_rle reads them."""
    flat = a.reshape(-1)
    out = []
    start = 0
    for i in range(1, len(flat) + 1):
        if i == len(flat) or flat[i] != flat[start]:
            out += [int(flat[start]), i - start]
            start = i
    return out


def coco_uncompressed_counts(mask):
    """COCO's uncompressed RLE counts: runs in column-major order, starting with zeros."""
    flat = mask.flatten(order="F").astype("uint8")
    counts, value, run = [], 0, 0
    for p in flat:
        if p != value:
            counts.append(run)
            run, value = 0, p
        run += 1
    counts.append(run)
    return counts


def tensor_json(x):
    """{"shape", "data"} of a tensor in float64 (bf16 widened exactly); non-finite values as
    the strings "inf", "-inf", "nan" (tests/support/fixtures.hpp's doubles_from_json)."""
    import torch

    x = torch.as_tensor(x)
    data = x.detach().to(torch.float64).reshape(-1).tolist()
    data = [v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
            for v in data]
    return {"shape": list(x.shape), "data": data}


def int_tensor_json(x):
    """{"shape", "data"} of an integer tensor, as ints."""
    return {"shape": list(x.shape), "data": [int(v) for v in x.reshape(-1).tolist()]}


def grad_case(fn, inputs):
    """An autograd case in float64: the output of fn(*inputs) and the gradients of
    sum(out * d_out), d_out drawn from torch's global generator (unused inputs get zeros)."""
    import torch

    leaves = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    d_out = torch.randn(tuple(out.shape), dtype=torch.float64)
    grads = torch.autograd.grad(out, leaves, d_out, allow_unused=True)
    grads = [torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads)]
    return {"inputs": [tensor_json(x) for x in inputs], "d_out": tensor_json(d_out),
            "out": tensor_json(out), "grads": [tensor_json(g) for g in grads]}


def write_json(folder, name, payload):
    """folder/name.json, without NaN or infinities (they must be strings)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(payload, allow_nan=False))


def davis_palette():
    """PASCAL VOC / DAVIS colour map: 256 [r, g, b] (bit-interleaved index, as
    io::davis_palette)."""
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal.append([r, g, b])
    return pal
