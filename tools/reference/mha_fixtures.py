"""Golden values for nn::MultiheadAttention (include/psalm/nn/multihead_attention.hpp), computed
with torch.nn.MultiheadAttention and written to tests/fixtures/nn_mha/*.safetensors. CI never runs
this; rerun it after changing a case and commit the output:

    tools/reference/.venv/bin/python tools/reference/mha_fixtures.py

Each file holds the module's state_dict (in_proj_weight, in_proj_bias, out_proj.weight,
out_proj.bias), the inputs (query, key, value, sequence-first (L, B, E)), the boolean mask as
float 0/1 ("attn_mask", true = blocked), the upstream output ("out"), a fixed output gradient
("d_out") and the gradients of every parameter and input ("grad.<name>"), all float32
(the forward and backward run in float64 and are rounded once).

Cases:
  per_head_mask.safetensors : E 16, 4 heads, Lq 5, Lk 7, B 2, mask (B*heads, Lq, Lk)
  shared_mask.safetensors   : E 12, 3 heads, Lq 4, Lk 6, B 3, mask (Lq, Lk)
  self_no_mask.safetensors  : E 8, 2 heads, L 5, B 2, query = key = value input (no mask)
"""
import pathlib

import torch
from safetensors.torch import save_file

torch.set_num_threads(1)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "nn_mha"
D = torch.float64


def make_case(seed, e, heads, lq, lk, b, mask_kind):
    g = torch.Generator().manual_seed(seed)
    mha = torch.nn.MultiheadAttention(e, heads).to(D)
    with torch.no_grad():  # random biases too, so their gradients and routing are tested
        for p in mha.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=D) * 0.5)
    query = torch.randn(lq, b, e, generator=g, dtype=D)
    if mask_kind == "self":
        key = value = query
    else:
        key = torch.randn(lk, b, e, generator=g, dtype=D)
        value = torch.randn(lk, b, e, generator=g, dtype=D)
    mask = None
    if mask_kind == "per_head":
        mask = torch.rand(b * heads, lq, lk, generator=g) < 0.4
        mask[:, :, 0] = False  # every row keeps one key (torch gives NaN on fully blocked rows)
    elif mask_kind == "shared":
        mask = torch.rand(lq, lk, generator=g) < 0.4
        mask[:, -1] = False
    leaves = {"query": query.clone().requires_grad_(True)}
    if mask_kind != "self":
        leaves["key"] = key.clone().requires_grad_(True)
        leaves["value"] = value.clone().requires_grad_(True)
    q = leaves["query"]
    k = leaves.get("key", q)
    v = leaves.get("value", q)
    out, _ = mha(q, k, v, attn_mask=mask, need_weights=False)
    d_out = torch.randn(out.shape, generator=g, dtype=D)
    params = dict(mha.named_parameters())
    names = list(params) + list(leaves)
    grads = torch.autograd.grad(out, [params[n] for n in params] + list(leaves.values()), d_out)
    tensors = {n: p.detach() for n, p in mha.state_dict().items()}
    tensors.update({"query": query, "out": out.detach(), "d_out": d_out})
    if mask_kind != "self":
        tensors.update({"key": key, "value": value})
    if mask is not None:
        tensors["attn_mask"] = mask.to(D)
    for n, gr in zip(names, grads):
        tensors["grad." + n] = gr
    return {k: t.to(torch.float32).contiguous() for k, t in tensors.items()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(make_case(1, 16, 4, 5, 7, 2, "per_head"), OUT / "per_head_mask.safetensors")
    save_file(make_case(2, 12, 3, 4, 6, 3, "shared"), OUT / "shared_mask.safetensors")
    save_file(make_case(3, 8, 2, 5, 5, 2, "self"), OUT / "self_no_mask.safetensors")
    print("wrote", sorted(p.name for p in OUT.iterdir()))


if __name__ == "__main__":
    main()
