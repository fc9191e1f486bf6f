"""Safetensors fixtures for tests/io/test_safetensors.cpp, made with the `safetensors` package.

1. Writes files with safetensors (all dtypes psalm reads incl. BF16, F16, BOOL; an empty tensor;
   a scalar; metadata; a sharded set with model.safetensors.index.json as Hugging Face writes
   it) plus JSON sidecars with the expected values, under tests/fixtures/safetensors/.
2. Checks the files psalm wrote (tests/fixtures/safetensors/psalm_written/, produced by the C++ test
   with PSALM_WRITE_FIXTURES_DIR set, see docs/io.md): safetensors loads them, the values equal
   the deterministic content below, and safetensors writing the same tensors gives the same bytes
   (up to the order of __metadata__ keys, which the reference writes in hash-map order).

Run: tools/reference/.venv/bin/python tools/reference/safetensors_fixtures.py
Deterministic: no randomness. Versions used: safetensors 0.8.0, torch 2.15.0, numpy 2.4.6.
"""

import json
import math
import pathlib

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save, save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "safetensors"


def values(t: torch.Tensor):
    """Row-major values as JSON numbers, non-finite floats as strings."""
    out = []
    for v in t.reshape(-1).tolist():
        if isinstance(v, bool):
            out.append(int(v))
        elif isinstance(v, float) and not math.isfinite(v):
            out.append("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
        else:
            out.append(v)
    return out


def all_dtypes():
    specials = [0.0, -0.0, 1.0, -2.5, 65504.0, 6.1e-5, 1e-7, float("inf"), float("-inf"), float("nan")]
    tensors = {
        "float32": torch.tensor([[0.1, -1.5, 3.25e10], [1e-40, float("inf"), float("nan")]], dtype=torch.float32),
        "float64": torch.tensor([math.pi, -1e300, 5e-324], dtype=torch.float64),
        "float16": torch.tensor(specials, dtype=torch.float16),
        "bfloat16": torch.tensor([[1.0, -3.140625], [1e30, float("-inf")], [9.2e-41, 0.5]], dtype=torch.bfloat16),
        "int64": torch.tensor([-(2**63), 2**63 - 1, 0, 2**40 + 1], dtype=torch.int64),
        "int32": torch.tensor([[-(2**31), 2**31 - 1], [7, -7]], dtype=torch.int32),
        "int16": torch.tensor([-32768, 32767, 12], dtype=torch.int16),
        "int8": torch.tensor([-128, 127, -1, 0], dtype=torch.int8),
        "uint8": torch.tensor([0, 1, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([[True, False, True], [False, False, True]], dtype=torch.bool),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
        "scalar": torch.tensor(42.5, dtype=torch.float32),
        "nested.module.weight": torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 8,
    }
    # One key only: the reference writes __metadata__ in hash-map order, so several keys would
    # make the file's bytes differ from run to run.
    meta = {"producer": "safetensors_fixtures.py caf\u00e9 \u2713"}
    save_file(tensors, OUT / "all_dtypes.safetensors", metadata=meta)
    expected = {
        "metadata": meta,
        "tensors": {
            k: {"dtype": str(v.dtype).removeprefix("torch."), "shape": list(v.shape), "data": values(v)}
            for k, v in tensors.items()
        },
    }
    (OUT / "all_dtypes.json").write_text(json.dumps(expected, indent=1) + "\n")


def sharded():
    folder = OUT / "sharded"
    folder.mkdir(parents=True, exist_ok=True)
    shards = {
        "model-00001-of-00002.safetensors": {
            "embed.weight": torch.arange(12, dtype=torch.float32).reshape(4, 3) - 5,
            "layers.0.bias": torch.tensor([0.25, -0.75], dtype=torch.bfloat16),
        },
        "model-00002-of-00002.safetensors": {
            "layers.1.weight": torch.arange(6, dtype=torch.float16).reshape(2, 3) / 4,
            "head.index": torch.tensor([3, 1, 2], dtype=torch.int64),
        },
    }
    weight_map, total = {}, 0
    for file, tensors in shards.items():
        save_file(tensors, folder / file, metadata={"format": "pt"})
        for name, t in tensors.items():
            weight_map[name] = file
            total += t.numel() * t.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    # As transformers' save_pretrained writes it.
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    expected = {
        name: {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "data": values(t)}
        for tensors in shards.values()
        for name, t in tensors.items()
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


def psalm_content():
    """The tensors the C++ test writes (tests/io/test_safetensors.cpp: psalm_written_tensors)."""
    i = lambda n: torch.arange(n, dtype=torch.float64)  # noqa: E731
    return {
        "w.f32": (i(6) * 0.5 - 1).to(torch.float32).reshape(2, 3),
        "w.f64": i(3) / 3,
        "w.bf16": (i(4) * 1.5 - 2).to(torch.bfloat16),
        "ids.i64": (torch.arange(4, dtype=torch.int64) * 1000000007 - 3).reshape(2, 2),
        "ids.i32": torch.arange(5, dtype=torch.int32) * 7 - 10,
        "mask.u8": (torch.arange(3, dtype=torch.int32) * 100).to(torch.uint8),
        "flag.bool": torch.tensor([False, True, False, True]),
        "half.f16": torch.tensor([1.0, -2.0], dtype=torch.float16),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
        "scalar": torch.tensor(42.5, dtype=torch.float32),
    }, {"format": "pt", "producer": "psalm"}


def psalm_sharded_content():
    return {f"block.{k}.weight": torch.arange(16, dtype=torch.float32) + 100 * k for k in range(4)}


def split(file_bytes: bytes):
    """(header length, header text without __metadata__, metadata dict, data area): the reference
    writes __metadata__ keys in hash-map order (differing between runs), psalm sorts them, and
    everything else must be byte-identical."""
    n = int.from_bytes(file_bytes[:8], "little")
    text = file_bytes[8 : 8 + n].decode()
    meta = json.loads(text).get("__metadata__")
    if meta is not None:
        start = text.index('"__metadata__":{')
        end = text.index("}", start) + 1  # metadata values here hold no braces
        text = text[:start] + text[end + 1 :]  # drop the entry and its comma
    return n, text, meta, file_bytes[8 + n :]


def check_psalm_written():
    folder = OUT / "psalm_written"
    single = folder / "mixed.safetensors"
    if not single.exists():
        print("psalm_written/ not generated yet: run the C++ test with PSALM_WRITE_FIXTURES_DIR")
        return
    tensors, meta = psalm_content()
    loaded = load_file(single)
    assert set(loaded) == set(tensors), (sorted(loaded), sorted(tensors))
    for k, v in tensors.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape, k
        assert torch.equal(loaded[k], v), k
    with safe_open(single, framework="pt") as f:
        assert f.metadata() == meta, f.metadata()
    assert split(save(tensors, metadata=meta)) == split(single.read_bytes()), "mixed.safetensors bytes differ"

    shard_dir = folder / "sharded"
    index = json.loads((shard_dir / "model.safetensors.index.json").read_text())
    want = psalm_sharded_content()
    got = {}
    for name, file in index["weight_map"].items():
        got[name] = load_file(shard_dir / file)[name]
    assert set(got) == set(want)
    for k in want:
        assert torch.equal(got[k], want[k]), k
    assert index["metadata"]["total_size"] == sum(t.numel() * 4 for t in want.values())
    assert (shard_dir / "model.safetensors.index.json").read_text() == json.dumps(
        index, indent=2, sort_keys=True
    ) + "\n", "index text differs from transformers' formatting"
    print("psalm_written: loads in safetensors with equal values; bytes identical to safetensors' writer (metadata key order aside)")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    all_dtypes()
    sharded()
    check_psalm_written()
