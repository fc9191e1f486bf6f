"""Golden values for multi-scale deformable attention (tests/msda/), from the pure-PyTorch
reference in tools/reference/msda_reference.py, with PyTorch autograd in float64. CI never runs
this; rerun it after changing a case and commit the output:

    tools/reference/.venv/bin/python tools/reference/msda_fixtures.py

Writes tests/fixtures/msda/:
- op.safetensors: per case "<case>.<name>": inputs value, sampling_locations, attention_weights
  (float32, what the C++ float run sees), spatial_shapes / level_start_index (int64), d_out,
  and in float64 the output and the gradients of sum(output * d_out) (d_value,
  d_sampling_locations, d_attention_weights). Cases cover head dims 30, 32, 64, 71, one to four
  levels (1x1 included), locations outside [0, 1], exactly on the borders 0 and 1, on pixel
  edges and on pixel centres.
- module.safetensors: an MSDeformAttn (d_model 32, 2 levels, 4 heads, 3 points) with random
  weights (float32), its inputs, output and the gradients of every parameter and input
  (float64); "init.*": the Deformable-DETR initial sampling_offsets bias of two configs.
- component.safetensors: case d30 under the plain argument names (value, spatial_shapes,
  level_start_index, sampling_locations, attention_weights) and its output, for the
  `psalm forward --component ms_deform_attn` tests.
"""
import pathlib
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from msda_reference import (MSDeformAttn, level_start_index_of,  # noqa: E402
                            ms_deform_attn_core_pytorch, reference_points_for)

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "msda"
torch.set_num_threads(1)
gen = torch.Generator().manual_seed(20240607)


def rand(*shape, lo=0.0, hi=1.0):
    return torch.rand(*shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo


def randn(*shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def special_locations(loc, shapes):
    """Overwrites some (x, y) with exactly representable special values per level: the borders
    0 and 1, pixel edges j / W, pixel centres (j + 0.5) / W and the zero-corner edge -0.5 / W."""
    b, q, m, n_levels, p, _ = loc.shape
    flat = loc.view(-1, n_levels, p, 2)
    for lvl, (h, w) in enumerate(shapes):
        for axis, size in ((0, w), (1, h)):
            choices = [0.0, 1.0, -0.5 / size, (size + 0.5) / size]
            choices += [j / size for j in range(size + 1)]
            choices += [(j + 0.5) / size for j in range(size)]
            for i in range(flat.shape[0]):
                for k in range(p):
                    if (i + k + lvl + axis) % 2 == 0:
                        flat[i, lvl, k, axis] = choices[(3 * i + 5 * k + axis) % len(choices)]
    return loc


def op_case(name, b, q, m, d, p, shapes, lo, hi, special, out):
    spatial = torch.tensor(shapes, dtype=torch.int64)
    s = int(spatial.prod(1).sum())
    value = randn(b, s, m, d).float()
    loc = rand(b, q, m, len(shapes), p, 2, lo=lo, hi=hi)
    if special:
        loc = special_locations(loc, shapes)
    loc = loc.float()
    attn = torch.softmax(randn(b, q, m, len(shapes) * p), -1).view(b, q, m, len(shapes), p).float()
    d_out = randn(b, q, m * d).float()
    leaves = [x.double().requires_grad_() for x in (value, loc, attn)]
    y = ms_deform_attn_core_pytorch(leaves[0], spatial, leaves[1], leaves[2])
    (y * d_out.double()).sum().backward()
    entries = {"value": value, "sampling_locations": loc, "attention_weights": attn,
               "spatial_shapes": spatial, "level_start_index": level_start_index_of(spatial),
               "d_out": d_out, "output": y.detach(), "d_value": leaves[0].grad,
               "d_sampling_locations": leaves[1].grad, "d_attention_weights": leaves[2].grad}
    for key, t in entries.items():
        out[f"{name}.{key}"] = t.contiguous()


def op_fixtures():
    out = {}
    op_case("d30", 2, 7, 2, 30, 3, [(4, 6), (2, 3)], -0.15, 1.15, False, out)
    op_case("d32", 1, 6, 2, 32, 2, [(8, 8), (4, 4), (2, 2)], 0.0, 1.0, True, out)
    op_case("d64", 2, 5, 1, 64, 4, [(5, 3)], -0.1, 1.1, False, out)
    op_case("d71", 1, 4, 3, 71, 2, [(3, 7), (1, 1), (6, 2), (2, 5)], -0.2, 1.2, False, out)
    op_case("outside", 1, 3, 2, 8, 2, [(4, 4), (2, 2)], 1.6, 2.5, False, out)
    save_file(out, OUT / "op.safetensors")
    # the `psalm forward --component ms_deform_attn` inputs: case d30 under the plain names
    names = ("value", "spatial_shapes", "level_start_index", "sampling_locations",
             "attention_weights", "output")
    save_file({n: out[f"d30.{n}"] for n in names}, OUT / "component.safetensors")


def module_fixtures():
    out = {}
    d_model, n_levels, n_heads, n_points = 32, 2, 4, 3
    shapes = torch.tensor([(4, 5), (2, 3)], dtype=torch.int64)
    torch.manual_seed(7)
    mod = MSDeformAttn(d_model, n_levels, n_heads, n_points).double()
    with torch.no_grad():  # random weights everywhere, so that no offset sits on a pixel kink
        for _, prm in mod.named_parameters():
            prm.copy_(prm + 0.2 * randn(*prm.shape))
            prm.copy_(prm.float().double())
    b, s = 2, int(shapes.prod(1).sum())
    src = randn(b, s, d_model).float().double()
    pos = randn(b, s, d_model).float().double()
    query = (src + pos).float().double().requires_grad_()
    value_input = src.clone().requires_grad_()
    ref = reference_points_for(shapes, b, torch.float32).double()
    y = mod(query, ref, value_input, shapes)
    d_out = randn(*y.shape).float().double()
    (y * d_out).sum().backward()
    for name, prm in mod.named_parameters():
        out[f"param.{name}"] = prm.detach().float()
        out[f"grad.{name}"] = prm.grad.clone()
    out.update({"query": query.detach().float(), "value_input": src.float(),
                "reference_points": ref.float(), "spatial_shapes": shapes,
                "d_out": d_out.float(), "output": y.detach(), "d_query": query.grad,
                "d_value_input": value_input.grad})
    for key, (dm, lv, heads, pts) in {"small": (32, 2, 4, 3), "psalm": (256, 3, 8, 4)}.items():
        init = MSDeformAttn(dm, lv, heads, pts)
        out[f"init.{key}.sampling_offsets.bias"] = init.sampling_offsets.bias.detach().clone()
    save_file({k: v.contiguous() for k, v in out.items()}, OUT / "module.safetensors")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    op_fixtures()
    module_fixtures()
    for f in sorted(OUT.iterdir()):
        print(f, f.stat().st_size)
