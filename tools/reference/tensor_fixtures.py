"""Golden values for the foundation layer (core, kernels, tensor), computed with PyTorch and
NumPy and written to tests/fixtures/tensor/*.json. CI never runs this; rerun it after changing a
case and commit the output:

    tools/reference/.venv/bin/python tools/reference/tensor_fixtures.py

Every tensor is stored as {"shape": [...], "data": [row-major values]} in float64 text.
"""

import numpy as np
import torch
import torch.nn.functional as F

from common import FIXTURES, tensor_json as t, write_json

OUT = FIXTURES / "tensor"
torch.manual_seed(0)
np.random.seed(0)


def write(name, payload):
    write_json(OUT, name, payload)


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64)


# ---- element functors ------------------------------------------------------------------------
x = torch.linspace(-6, 6, 97, dtype=torch.float64)
write("elementwise", {
    "x": t(x),
    "gelu_erf": t(F.gelu(x)),
    "gelu_tanh": t(F.gelu(x, approximate="tanh")),
    "sigmoid": t(torch.sigmoid(x)),
    "softplus": t(F.softplus(x)),
    "tanh": t(torch.tanh(x)),
    "relu": t(torch.relu(x)),
    "exp": t(torch.exp(x)),
    # derivatives by autograd
    "d_gelu_erf": t(torch.autograd.functional.jacobian(lambda v: F.gelu(v).sum(), x)),
    "d_gelu_tanh": t(torch.autograd.functional.jacobian(lambda v: F.gelu(v, approximate="tanh").sum(), x)),
    "d_sigmoid": t(torch.autograd.functional.jacobian(lambda v: torch.sigmoid(v).sum(), x)),
})

# ---- bf16 rounding (round to nearest even) ----------------------------------------------------
vals = torch.cat([randn(200) * 10, torch.tensor([0.0, -0.0, 1.0, 1.00390625, 1.01171875, 3.4e38, -3.4e38, 1e-40, 65504.0],
                                                  dtype=torch.float64)]).float()
write("bf16", {"x": t(vals), "rounded": t(vals.to(torch.bfloat16))})

# ---- broadcasting expressions ----------------------------------------------------------------
a, b, c = randn(2, 3, 4), randn(3, 1), randn(4)
write("expression", {
    "a": t(a), "b": t(b), "c": t(c),
    "a_mul_b_plus_exp_c_minus_2": t(a * b + torch.exp(c) - 2.0),
    "max_a_c_div_b": t(torch.maximum(a, c) / b),
    "where_a_gt_0_a_c": t(torch.where(a > 0, a, c)),
    "permuted_sum": t(a.permute(2, 0, 1) + c.reshape(4, 1, 1)),
})

# ---- reductions ------------------------------------------------------------------------------
r = randn(3, 4, 5)
write("reduce", {
    "x": t(r),
    "sum_0": t(r.sum(0)), "sum_1": t(r.sum(1)), "sum_2_keepdim": t(r.sum(2, keepdim=True)),
    "mean_1": t(r.mean(1)), "max_2": t(r.max(2).values), "min_0": t(r.min(0).values),
    "argmax_1": t(r.argmax(1)), "argmin_2": t(r.argmin(2)),
    "sum_all": t(r.sum()), "mean_all": t(r.mean()),
    "sum_1_of_transpose_0_2": t(r.transpose(0, 2).sum(1)),
})

# ---- matmul ----------------------------------------------------------------------------------
A, B = randn(2, 5, 7), randn(2, 7, 3)
W = randn(3, 7)
write("matmul", {
    "a": t(A), "b": t(B), "w": t(W),
    "ab": t(A @ B),
    "a_wt": t(A @ W.T),                # (2, 5, 3): linear layer, weight [out, in]
    "at_a": t(A.transpose(1, 2) @ A),  # (2, 7, 7): TN
})

# ---- row kernels -----------------------------------------------------------------------------
s = randn(6, 11)
mask = torch.zeros(2, 11, dtype=torch.float64)
mask[0, 3:] = float("-inf")
mask[1, :] = -0.5
g = randn(6, 11)
sx = s.clone().requires_grad_(True)
y = torch.softmax(sx + mask.repeat(3, 1), dim=-1)
y.backward(g)
lsx = s.clone().requires_grad_(True)
ly = torch.log_softmax(lsx, dim=-1)
ly.backward(g)
write("softmax", {
    "x": t(s), "mask": t(mask), "d_y": t(g),
    "softmax_masked": t(y), "d_x_softmax_masked": t(sx.grad),
    "log_softmax": t(ly), "d_x_log_softmax": t(lsx.grad),
})

ln_x = (randn(5, 16) * 3 + 2).requires_grad_(True)
ln_w, ln_b = randn(16).requires_grad_(True), randn(16).requires_grad_(True)
ln_y = F.layer_norm(ln_x, (16,), ln_w, ln_b, eps=1e-5)
ln_g = randn(5, 16)
ln_y.backward(ln_g)
write("layer_norm", {
    "x": t(ln_x), "weight": t(ln_w), "bias": t(ln_b), "y": t(ln_y), "d_y": t(ln_g),
    "d_x": t(ln_x.grad), "d_weight": t(ln_w.grad), "d_bias": t(ln_b.grad),
    "mean": t(ln_x.mean(-1)), "rstd": t(1.0 / torch.sqrt(ln_x.var(-1, unbiased=False) + 1e-5)),
})

# ---- grid_sample ------------------------------------------------------------------------------
gs = {}
inp = randn(2, 3, 5, 7)
grid = torch.rand(2, 4, 6, 2, dtype=torch.float64) * 2.4 - 1.2  # some points fall outside
gs["input"], gs["grid"] = t(inp), t(grid)
for align in (False, True):
    i = inp.clone().requires_grad_(True)
    gr = grid.clone().requires_grad_(True)
    out = F.grid_sample(i, gr, mode="bilinear", padding_mode="zeros", align_corners=align)
    d_out = torch.ones_like(out) * torch.arange(out.numel(), dtype=torch.float64).reshape(out.shape) / out.numel()
    out.backward(d_out)
    key = "align" if align else "noalign"
    gs[f"out_{key}"], gs[f"d_out_{key}"] = t(out), t(d_out)
    gs[f"d_input_{key}"], gs[f"d_grid_{key}"] = t(i.grad), t(gr.grad)
write("grid_sample", gs)

print("wrote", sorted(p.name for p in OUT.iterdir()))
