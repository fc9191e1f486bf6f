"""Golden values for fused attention, the losses and the optimizers (include/psalm/autograd/ops/
{attention,cross_entropy,bce,focal,dice}.hpp, include/psalm/optim/), computed with PyTorch and
written to tests/fixtures/autograd_ops3/*.json. CI never runs this; rerun it after changing a case
and commit the output:

    tools/reference/.venv/bin/python tools/reference/autograd_ops3_fixtures.py

Op files map a case name to {"inputs": [...], "d_out": ..., "out": ..., "grads": [...]} plus the
constant tensors of the case (masks, targets, weights) under their own keys, in float64; the C++
tests (tests/autograd/test_<op>.cpp) define the same function under the same name.
optim.json holds fixed parameters, per-step gradients and the parameters after each of 20 steps
of torch.optim.AdamW + LambdaLR and torch.optim.SGD, in float32 and float64, and a
clip_grad_norm_ case. Every tensor is {"shape": [...], "data": [row-major values]}.
"""
import math

import torch
import torch.nn.functional as F

from common import FIXTURES, grad_case, tensor_json as t, write_json

OUT = FIXTURES / "autograd_ops3"
torch.manual_seed(0)
D = torch.float64


def randn(*shape, scale=1.0):
    return torch.randn(*shape, dtype=D) * scale


def case(fn, inputs, **constants):
    c = grad_case(fn, inputs)
    c.update({k: t(v) for k, v in constants.items()})
    return c


def write(name, payload):
    write_json(OUT, name, payload)


# ---- attention ---------------------------------------------------------------------------------
B, H, LQ, LK, DH, DV = 2, 3, 4, 5, 6, 7
q, k, v = randn(B, H, LQ, DH), randn(B, H, LK, DH), randn(B, H, LK, DV)
add_mask = randn(B, 1, LQ, LK)
add_mask[0, 0, 1, 2] = -math.inf
blocked = torch.rand(LQ, LK) < 0.3
blocked[:, 0] = False  # no row blocked everywhere (PyTorch gives NaN there)
write("attention", {
    "plain": case(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [q, k, v]),
    "additive_mask": case(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=add_mask),
                          [q, k, v], mask=add_mask),
    # psalm's boolean mask is True = blocked (nn.MultiheadAttention); SDPA's is True = attend.
    "bool_mask_scale": case(lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, attn_mask=~blocked, scale=0.3), [q, k, v], blocked=blocked.to(D)),
})

# ---- cross-entropy -----------------------------------------------------------------------------
N, C = 7, 5
logits = randn(N, C, scale=2.0)
target = torch.tensor([0, 4, 2, -100, 4, 1, 3])
weight = torch.tensor([1.0, 0.5, 2.0, 1.5, 0.1], dtype=D)
ce = {}
for red in ["mean", "sum", "none"]:
    ce[f"weighted_{red}"] = case(lambda x, red=red: F.cross_entropy(x, target, weight=weight,
                                                                     reduction=red),
                                 [logits], target=target.to(D), weight=weight)
ce["unweighted_mean"] = case(lambda x: F.cross_entropy(x, target), [logits], target=target.to(D))
write("cross_entropy", ce)

# ---- binary cross-entropy with logits ----------------------------------------------------------
x = randn(4, 6, scale=3.0)
x[0, 0], x[0, 1] = 40.0, -40.0  # far tails: the stable form must stay finite and exact
y = (torch.rand(4, 6) < 0.4).to(D)
y[1, :3] = torch.tensor([0.3, 0.7, 0.5], dtype=D)  # soft targets
pw_scalar = torch.tensor([3.5], dtype=D)
pw_class = torch.rand(6, dtype=D) * 3 + 0.2
write("bce", {
    "mean": case(lambda x: F.binary_cross_entropy_with_logits(x, y), [x], target=y),
    "pos_weight_scalar_mean": case(lambda x: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=pw_scalar), [x], target=y, pos_weight=pw_scalar),
    "pos_weight_class_none": case(lambda x: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=pw_class, reduction="none"), [x], target=y, pos_weight=pw_class),
    "sum": case(lambda x: F.binary_cross_entropy_with_logits(x, y, reduction="sum"), [x], target=y),
})


# ---- sigmoid focal loss (as torchvision.ops.sigmoid_focal_loss) --------------------------------
def focal(x, y, alpha, gamma, reduction):
    # torchvision.ops.sigmoid_focal_loss restated (torchvision is not in the venv): composed of
    # PyTorch ops, so autograd differentiates it independently of psalm's hand-written backward.
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


xf = randn(3, 8, scale=2.0)
yf = (torch.rand(3, 8) < 0.5).to(D)
write("focal", {
    "default_none": case(lambda x: focal(x, yf, 0.25, 2.0, "none"), [xf], target=yf),
    "alpha_off_gamma_1_5_mean": case(lambda x: focal(x, yf, -1.0, 1.5, "mean"), [xf], target=yf),
    "gamma_0_sum": case(lambda x: focal(x, yf, 0.6, 0.0, "sum"), [xf], target=yf),
})


# ---- dice loss (Mask2Former's dice_loss) -------------------------------------------------------
def dice_m2f(inputs, targets, num_masks):
    # ref: mask2former/modeling/criterion.py dice_loss, restated.
    p = inputs.sigmoid().flatten(1)
    numerator = 2 * (p * targets.flatten(1)).sum(-1)
    denominator = p.sum(-1) + targets.flatten(1).sum(-1)
    return (1 - (numerator + 1) / (denominator + 1)).sum() / num_masks


xd = randn(4, 3, 5, scale=2.0)
yd = (torch.rand(4, 3, 5) < 0.4).to(D)
yd[3] = 0.0  # an empty target mask
write("dice", {
    "num_masks_3": case(lambda x: dice_m2f(x, yd, 3.0), [xd], target=yd),
    "mean": case(lambda x: dice_m2f(x, yd, 4.0), [xd], target=yd),
    "none": case(lambda x: 1 - (2 * (x.sigmoid().flatten(1) * yd.flatten(1)).sum(-1) + 1)
                 / (x.sigmoid().flatten(1).sum(-1) + yd.flatten(1).sum(-1) + 1), [xd], target=yd),
})

# ---- optimizers --------------------------------------------------------------------------------
STEPS = 20
shapes = [(3, 4), (5,), (2, 3)]
init = [torch.randn(*s, dtype=D) for s in shapes]
grads = [[torch.randn(*s, dtype=D) for s in shapes] for _ in range(STEPS)]
WARMUP, TOTAL, FLOOR = 4, STEPS, 0.1


def warmup_cosine(step):
    if step < WARMUP:
        return step / max(1, WARMUP)
    progress = min(1.0, (step - WARMUP) / max(1, TOTAL - WARMUP))
    return FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))


def run(make_opt, dtype, schedule):
    params = [p.clone().to(dtype).requires_grad_(True) for p in init]
    opt = make_opt(params)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    trace, lrs = [], []
    for s in range(STEPS):
        lrs.append([g["lr"] for g in opt.param_groups])
        for p, g in zip(params, grads[s]):
            p.grad = g.to(dtype)
        opt.step()
        sched.step()
        trace.append(torch.cat([p.detach().reshape(-1) for p in params]))
    return {"params": t(torch.stack(trace)), "lr": lrs}


def adamw(params):
    return torch.optim.AdamW([{"params": params[:2], "lr": 1e-2, "weight_decay": 0.1},
                              {"params": params[2:], "lr": 3e-3, "weight_decay": 0.0}],
                             betas=(0.9, 0.999), eps=1e-8)


def sgd(nesterov):
    return lambda params: torch.optim.SGD(
        [{"params": params[:2], "lr": 5e-2, "weight_decay": 1e-2},
         {"params": params[2:], "lr": 2e-2, "weight_decay": 0.0}],
        momentum=0.9, dampening=0.0, nesterov=nesterov)


optim = {"init": [t(p) for p in init],
         "grads": [t(torch.stack([torch.cat([g.reshape(-1) for g in gs]) for gs in grads]))],
         "warmup": WARMUP, "total": TOTAL, "floor": FLOOR,
         "multipliers": [warmup_cosine(s) for s in range(STEPS + 1)]}
for name, dtype in [("f64", torch.float64), ("f32", torch.float32)]:
    optim[f"adamw_{name}"] = run(adamw, dtype, warmup_cosine)
    optim[f"sgd_{name}"] = run(sgd(False), dtype, lambda s: 1.0)
    optim[f"sgd_nesterov_{name}"] = run(sgd(True), dtype, lambda s: 1.0)

clip = {}
for max_norm in [1.0, 100.0]:
    ps = [torch.zeros(*s, dtype=D, requires_grad=True) for s in shapes]
    for p, g in zip(ps, grads[0]):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    clip[str(max_norm)] = {"total_norm": float(total), "grads": [t(p.grad) for p in ps]}
optim["clip"] = clip
write("optim", optim)
