"""Golden values for the second set of autograd ops (conv2d, group_norm, batch_norm2d, embedding,
index_select, gather, pad, interpolate, grid_sample), computed with PyTorch autograd in float64 and
written to tests/fixtures/autograd_ops2/*.json. CI never runs this; rerun it after changing a case and
commit the output:

    tools/reference/.venv/bin/python tools/reference/autograd_ops2_fixtures.py

Each file maps a case name to {"inputs": [...], "d_out": ..., "out": ..., "grads": [...]} (the same
layout as tools/reference/autograd_fixtures.py): the output of the case's function and the
gradients of sum(out * d_out) with respect to each input. Integer arguments (indices) and buffers
(running statistics) sit beside them under their own keys. The C++ tests
(tests/autograd/test_<op>.cpp) define the same function under the same name.
Every tensor is {"shape": [...], "data": [row-major values]}.
"""

import torch
import torch.nn.functional as F

from common import FIXTURES, grad_case, int_tensor_json as ti, tensor_json as t, write_json

OUT = FIXTURES / "autograd_ops2"
torch.manual_seed(0)
D = torch.float64


def randn(*shape, scale=1.0, shift=0.0):
    return torch.randn(*shape, dtype=D) * scale + shift


def case(fn, *inputs, **extra):
    result = grad_case(fn, inputs)
    for key, value in extra.items():
        result[key] = ti(value) if not value.is_floating_point() else t(value)
    return result


def write(name, payload):
    write_json(OUT, name, payload)


# ---- conv2d -------------------------------------------------------------------------------------
write("conv2d", {
    "3x3_pad1_bias": case(lambda x, w, b: F.conv2d(x, w, b, padding=1),
                          randn(2, 3, 5, 6), randn(4, 3, 3, 3, scale=0.3), randn(4)),
    "1x1": case(lambda x, w, b: F.conv2d(x, w, b), randn(2, 6, 3, 4), randn(5, 6, 1, 1), randn(5)),
    "4x4_stride4": case(lambda x, w, b: F.conv2d(x, w, b, stride=4),
                        randn(1, 3, 8, 12), randn(6, 3, 4, 4, scale=0.3), randn(6)),
    "stride2_dilation2_groups2": case(
        lambda x, w: F.conv2d(x, w, None, stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2),
        randn(2, 4, 7, 5), randn(6, 2, 3, 2, scale=0.4)),
    "depthwise_3x3": case(lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=3),
                          randn(1, 3, 4, 5), randn(3, 1, 3, 3), randn(3)),
})

# ---- group_norm ---------------------------------------------------------------------------------
write("group_norm", {
    "affine_4d": case(lambda x, w, b: F.group_norm(x, 2, w, b, eps=1e-5),
                      randn(2, 6, 3, 5, scale=2.0, shift=1.0), randn(6, shift=1.0), randn(6)),
    "plain_3d": case(lambda x: F.group_norm(x, 3, eps=1e-5), randn(2, 6, 7)),
    "one_channel_per_group": case(lambda x, w, b: F.group_norm(x, 4, w, b, eps=1e-3),
                                  randn(1, 4, 2, 3), randn(4), randn(4)),
})


# ---- batch_norm2d -------------------------------------------------------------------------------
def bn_case(training, momentum, x, w, b, rm, rv):
    rm_after, rv_after = rm.clone(), rv.clone()
    result = case(lambda x, w, b: F.batch_norm(x, rm_after, rv_after, w, b, training=training,
                                               momentum=momentum, eps=1e-5),
                  x, w, b, running_mean=rm, running_var=rv)
    result["running_mean_after"] = t(rm_after)
    result["running_var_after"] = t(rv_after)
    return result


write("batch_norm", {
    "train": bn_case(True, 0.1, randn(3, 4, 3, 5, scale=1.5, shift=0.5), randn(4, shift=1.0),
                     randn(4), randn(4, scale=0.1), torch.rand(4, dtype=D) + 0.5),
    "train_momentum_03": bn_case(True, 0.3, randn(2, 3, 2, 2), randn(3), randn(3),
                                 torch.zeros(3, dtype=D), torch.ones(3, dtype=D)),
    "eval": bn_case(False, 0.1, randn(2, 4, 3, 3), randn(4), randn(4), randn(4, scale=0.5),
                    torch.rand(4, dtype=D) + 0.5),
})


# ---- embedding, index_select, gather, pad -------------------------------------------------------
ids = torch.tensor([[1, 4, 4, 0], [2, 1, 3, 4]])
write("embedding", {
    "repeated_ids": case(lambda w: F.embedding(ids, w), randn(5, 3), index=ids),
    "padding_idx": case(lambda w: F.embedding(ids, w, padding_idx=4), randn(5, 3), index=ids),
})

sel = torch.tensor([2, 0, 2, 3])
write("index_select", {
    "axis1": case(lambda x: torch.index_select(x, 1, sel), randn(2, 4, 3), index=sel),
    "axis0": case(lambda x: torch.index_select(x, 0, sel), randn(5, 2), index=sel),
})

g1 = torch.tensor([[0, 2, 2], [1, 1, 0]])
g2 = torch.tensor([[[1], [0]], [[2], [2]]])
write("gather", {
    "axis1": case(lambda x: torch.gather(x, 1, g1), randn(2, 4), index=g1),
    "axis0_smaller_index": case(lambda x: torch.gather(x, 0, g2), randn(3, 3, 2), index=g2),
})

write("pad", {
    "last_two_axes": case(lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), randn(2, 3, 4)),
    "last_axis": case(lambda x: F.pad(x, (3, 0)), randn(3, 2)),
})


# ---- interpolate, grid_sample, point_sample -----------------------------------------------------
def resize(size, mode, align_corners=None):
    return lambda x: F.interpolate(x, size=size, mode=mode, align_corners=align_corners)


write("interpolate", {
    "bilinear_up": case(resize((5, 7), "bilinear", False), randn(2, 2, 3, 4)),
    "bilinear_up_align": case(resize((5, 7), "bilinear", True), randn(2, 2, 3, 4)),
    "bilinear_down": case(resize((4, 3), "bilinear", False), randn(1, 2, 6, 5)),
    "bilinear_down_align": case(resize((4, 1), "bilinear", True), randn(1, 2, 6, 5)),
    "bilinear_2x": case(resize((6, 8), "bilinear", False), randn(1, 1, 3, 4)),
    "nearest_up": case(resize((7, 9), "nearest"), randn(1, 2, 3, 4)),
    "nearest_down": case(resize((3, 4), "nearest"), randn(2, 1, 7, 6)),
})


def grid(*shape):
    return torch.rand(*shape, dtype=D) * 2.4 - 1.2  # some points fall outside [-1, 1]


write("grid_sample", {
    "zeros": case(lambda x, g: F.grid_sample(x, g, mode="bilinear", padding_mode="zeros",
                                             align_corners=False),
                  randn(2, 3, 4, 5), grid(2, 3, 2, 2)),
    "zeros_align": case(lambda x, g: F.grid_sample(x, g, mode="bilinear", padding_mode="zeros",
                                                   align_corners=True),
                        randn(2, 3, 4, 5), grid(2, 3, 2, 2)),
    # detectron2 point_sample: grid_sample(x, 2 * p - 1) on an (N, P, 1, 2) grid, squeezed.
    "point_sample": case(lambda x, p: F.grid_sample(x, 2.0 * p.unsqueeze(2) - 1.0,
                                                    align_corners=False).squeeze(3),
                         randn(2, 3, 6, 5), torch.rand(2, 7, 2, dtype=D)),
})
