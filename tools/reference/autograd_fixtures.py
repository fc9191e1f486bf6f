"""Golden values for the autograd ops (include/psalm/autograd/), computed with PyTorch autograd in
float64 and written to tests/fixtures/autograd/*.json. CI never runs this; rerun it after changing a
case and commit the output:

    tools/reference/.venv/bin/python tools/reference/autograd_fixtures.py

Each file maps a case name to {"inputs": [...], "d_out": ..., "out": ..., "grads": [...]}: the
output of the case's function and the gradients of sum(out * d_out) with respect to each input.
The C++ tests (tests/autograd/test_<op>.cpp) define the same function under the same name.
The MLP file holds the weights, data and gradients of tests/autograd/test_mlp.cpp.
Every tensor is {"shape": [...], "data": [row-major values]}; infinities are strings.
"""
import math

import torch
import torch.nn.functional as F

from common import FIXTURES, grad_case, tensor_json as t, write_json

OUT = FIXTURES / "autograd"
torch.manual_seed(0)
D = torch.float64


def randn(*shape, scale=1.0, shift=0.0):
    return torch.randn(*shape, dtype=D) * scale + shift


def away_from_zero(*shape):
    """Values with |x| in [0.3, 1.5]: no kinks of relu / abs nearby."""
    return (torch.rand(*shape, dtype=D) * 1.2 + 0.3) * torch.where(torch.rand(*shape) < 0.5, -1.0, 1.0).to(D)


def positive(*shape):
    return torch.rand(*shape, dtype=D) * 2 + 0.5


def case(fn, *inputs):
    return grad_case(fn, inputs)


def write(name, payload):
    write_json(OUT, name, payload)


write("arithmetic", {
    "add_broadcast": case(lambda a, b: a + b, randn(2, 3, 4), randn(3, 1)),
    "sub_broadcast": case(lambda a, b: a - b, randn(2, 3), randn(3)),
    "mul_broadcast": case(lambda a, b: a * b, randn(2, 1, 4), randn(3, 4)),
    "div": case(lambda a, b: a / b, randn(3, 4), positive(3, 4)),
    "scalars": case(lambda a: (2 - a) * 3 + a / 4 - 1 + 2 / (a * a + 1) - (-a), randn(3, 4)),
})

write("unary", {
    "exp": case(torch.exp, randn(3, 4)),
    "log": case(torch.log, positive(3, 4)),
    "sqrt": case(torch.sqrt, positive(3, 4)),
    "rsqrt": case(torch.rsqrt, positive(3, 4)),
    "pow3": case(lambda x: torch.pow(x, 3.0), randn(3, 4)),
    "pow_half": case(lambda x: torch.pow(x, 0.5), positive(3, 4)),
    "abs": case(torch.abs, away_from_zero(3, 4)),
    "clamp": case(lambda x: torch.clamp(x, -0.5, 0.5),
                  torch.tensor([[-1.2, -0.7, -0.3, 0.1], [0.4, 0.6, 1.3, -0.45]], dtype=D)),
})

write("activation", {
    "relu": case(torch.relu, away_from_zero(3, 4)),
    "gelu": case(F.gelu, randn(3, 4, scale=2)),
    "gelu_tanh": case(lambda x: F.gelu(x, approximate="tanh"), randn(3, 4, scale=2)),
    "sigmoid": case(torch.sigmoid, randn(3, 4, scale=3)),
    "tanh": case(torch.tanh, randn(3, 4, scale=2)),
    "softplus": case(F.softplus, torch.cat([randn(8, scale=3), torch.tensor([21.0, 25.0, -25.0, 19.5], dtype=D)])),
})

mask_trailing = torch.zeros(3, 5, dtype=D)
mask_trailing[0, 1] = -math.inf
mask_trailing[2, 4] = -math.inf
mask_trailing[1, 2] = -2.0
mask_bcast = torch.zeros(2, 1, 5, dtype=D)
mask_bcast[0, 0, 3] = -math.inf
mask_bcast[1, 0, 0] = 1.5
write("softmax", {
    "softmax": case(lambda x: torch.softmax(x, -1), randn(2, 3, 5)),
    "log_softmax": case(lambda x: torch.log_softmax(x, -1), randn(2, 3, 5)),
    "softmax_mask_trailing": {**case(lambda x: torch.softmax(x + mask_trailing, -1), randn(2, 3, 5)),
                              "mask": t(mask_trailing)},
    "log_softmax_mask_broadcast": {**case(lambda x: torch.log_softmax(x + mask_bcast, -1), randn(2, 3, 5)),
                                   "mask": t(mask_bcast)},
})

write("reduce", {
    "sum_all": case(lambda x: x.sum(), randn(3, 4)),
    "sum_axis1_keepdim": case(lambda x: x.sum(1, keepdim=True), randn(2, 3, 4)),
    "sum_last": case(lambda x: x.sum(-1), randn(2, 3, 4)),
    "mean_all": case(lambda x: x.mean(), randn(3, 4)),
    "mean_axis0": case(lambda x: x.mean(0), randn(2, 3, 4)),
    "max_axis1": case(lambda x: x.max(1).values, randn(2, 3, 4)),
    "max_all": case(lambda x: x.max(), randn(3, 4)),
})

write("matmul", {
    "plain": case(torch.matmul, randn(3, 4), randn(4, 5)),
    "batched": case(torch.matmul, randn(2, 3, 4), randn(2, 4, 5)),
    "batched_by_matrix": case(torch.matmul, randn(2, 3, 4), randn(4, 5)),
    "matrix_by_batched": case(torch.matmul, randn(3, 4), randn(2, 4, 5)),
})

write("linear", {
    "bias": case(F.linear, randn(2, 3, 4), randn(5, 4), randn(5)),
    "no_bias": case(F.linear, randn(3, 4), randn(5, 4)),
})

write("layer_norm", {
    "affine": case(lambda x, w, b: F.layer_norm(x, (6,), w, b, 1e-5), randn(2, 3, 6, scale=2, shift=1),
                   randn(6, shift=1), randn(6)),
    "plain": case(lambda x: F.layer_norm(x, (6,), eps=1e-5), randn(4, 6, scale=3)),
})

write("shape", {
    "permute": case(lambda x: x.permute(2, 0, 1) * torch.arange(24, dtype=D).reshape(4, 2, 3), randn(2, 3, 4)),
    "transpose_reshape": case(lambda x: x.transpose(0, 1).reshape(4, 6), randn(2, 3, 4)),
    "slice_step": case(lambda x: x[:, 0:3:2], randn(2, 4, 3)),
    "concat": case(lambda a, b: torch.cat([a, b], 1), randn(2, 3), randn(2, 2)),
    "stack": case(lambda a, b: torch.stack([a, b], 1), randn(2, 3), randn(2, 3)),
})

cond = torch.tensor([[1, 0, 1], [0, 0, 1]], dtype=torch.bool)
fill = torch.tensor([[0, 1, 0, 1]], dtype=torch.bool)
write("select", {
    "where": {**case(lambda a, b: torch.where(cond, a, b), randn(2, 3), randn(3)),
              "cond": t(cond.to(D))},
    "masked_fill": {**case(lambda x: x.masked_fill(fill, -2.0), randn(3, 4)), "mask": t(fill.to(D))},
})

# ---- the MLP of tests/autograd/test_mlp.cpp ---------------------------------------------------
# XOR-like data: label 1 when the point's coordinates have the same sign. Linear(2, 16) ->
# LayerNorm(16) -> GELU -> Linear(16, 2) -> log_softmax, mean negative log-likelihood.
g = torch.Generator().manual_seed(1)
points = torch.rand(64, 2, generator=g, dtype=D) * 2 - 1
points = points + 0.1 * torch.sign(points)  # keep a margin from the axes
labels = ((points[:, 0] > 0) == (points[:, 1] > 0)).long()
params = {
    "w1": torch.randn(16, 2, generator=g, dtype=D) * 0.7,
    "b1": torch.randn(16, generator=g, dtype=D) * 0.1,
    "ln_w": 1 + 0.1 * torch.randn(16, generator=g, dtype=D),
    "ln_b": 0.1 * torch.randn(16, generator=g, dtype=D),
    "w2": torch.randn(2, 16, generator=g, dtype=D) * 0.3,
    "b2": torch.zeros(2, dtype=D),
}
LR = 0.5


def mlp_loss(p):
    h = F.gelu(F.layer_norm(F.linear(points, p["w1"], p["b1"]), (16,), p["ln_w"], p["ln_b"], 1e-5))
    return -F.log_softmax(F.linear(h, p["w2"], p["b2"]), -1)[torch.arange(64), labels].mean()


p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
loss0 = mlp_loss(p)
grads0 = torch.autograd.grad(loss0, list(p.values()))
p1 = {k: (v - LR * gr).detach().requires_grad_(True) for (k, v), gr in zip(p.items(), grads0)}
loss1 = mlp_loss(p1)
grads1 = torch.autograd.grad(loss1, list(p1.values()))
write("mlp", {
    "points": t(points), "labels": t(labels), "lr": LR,
    "params": {k: t(v) for k, v in params.items()},
    "loss0": loss0.item(), "grads0": {k: t(v) for k, v in zip(params, grads0)},
    "loss1": loss1.item(), "grads1": {k: t(v) for k, v in zip(params, grads1)},
})
print("wrote", sorted(f.name for f in OUT.glob("*.json")))
