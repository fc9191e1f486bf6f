"""Pure-PyTorch multi-scale deformable attention, written fresh from the Deformable DETR paper
(Zhu et al., ICLR 2021) and the description of its pure-PyTorch fallback
(`ms_deform_attn_core_pytorch` in Deformable-DETR models/ops/functions/ms_deform_attn_func.py,
vendored by Mask2Former): every level's value map is sampled with F.grid_sample(bilinear,
padding zeros, align_corners=False) at 2 * loc - 1, weighted by the attention weights and summed.

It is the independent reference of psalm's op (include/psalm/autograd/ops/ms_deform_attn.hpp) and
module (include/psalm/models/deformable/ms_deform_attn.hpp); tools/reference/msda_fixtures.py and
the pixel-decoder reference import it:

    from msda_reference import ms_deform_attn_core_pytorch, MSDeformAttn, reference_points_for

Shapes (letters as in the C++ headers): value (B, S, M, D); spatial_shapes (L, 2) int64 as (H, W);
level_start_index (L,) int64; sampling_locations (B, Q, M, L, P, 2) as (x, y) in [0, 1];
attention_weights (B, Q, M, L, P) -> (B, Q, M * D).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def ms_deform_attn_core_pytorch(value, spatial_shapes, sampling_locations, attention_weights):
    """value (B, S, M, D), spatial_shapes (L, 2) as (H, W), sampling_locations
    (B, Q, M, L, P, 2), attention_weights (B, Q, M, L, P) -> (B, Q, M * D)."""
    b, s, m, d = value.shape
    _, q, _, n_levels, n_points, _ = sampling_locations.shape
    sizes = [int(h) * int(w) for h, w in spatial_shapes.tolist()]
    assert sum(sizes) == s, "value tokens do not match the spatial shapes"
    per_level = value.split(sizes, dim=1)
    grids = 2.0 * sampling_locations - 1.0  # grid_sample's [-1, 1] convention
    sampled = []
    for lvl, (h, w) in enumerate(spatial_shapes.tolist()):
        # (B, H*W, M, D) -> (B*M, D, H, W)
        v = per_level[lvl].flatten(2).transpose(1, 2).reshape(b * m, d, int(h), int(w))
        # (B, Q, M, P, 2) -> (B*M, Q, P, 2)
        g = grids[:, :, :, lvl].transpose(1, 2).flatten(0, 1)
        # (B*M, D, Q, P)
        sampled.append(F.grid_sample(v, g, mode="bilinear", padding_mode="zeros",
                                     align_corners=False))
    # (B, Q, M, L, P) -> (B*M, 1, Q, L*P)
    w = attention_weights.transpose(1, 2).reshape(b * m, 1, q, n_levels * n_points)
    # (B*M, D, Q, L*P) weighted sum over L*P -> (B*M, D, Q) -> (B, M*D, Q)
    out = (torch.stack(sampled, dim=-2).flatten(-2) * w).sum(-1).view(b, m * d, q)
    return out.transpose(1, 2).contiguous()  # (B, Q, M*D)


def level_start_index_of(spatial_shapes):
    """(L, 2) int64 (H, W) -> (L,) int64 first token of each level."""
    sizes = spatial_shapes.prod(1)
    return torch.cat((sizes.new_zeros(1), sizes.cumsum(0)[:-1]))


def reference_points_for(spatial_shapes, batch, dtype=torch.float32):
    """Pixel-centre reference points of every token of every level, repeated over levels, as
    Mask2Former's encoder get_reference_points with valid ratios 1: (B, S, L, 2) as (x, y)."""
    points = []
    for h, w in spatial_shapes.tolist():
        ys, xs = torch.meshgrid(torch.linspace(0.5, h - 0.5, h, dtype=torch.float64),
                                torch.linspace(0.5, w - 0.5, w, dtype=torch.float64),
                                indexing="ij")
        points.append(torch.stack((xs.reshape(-1) / w, ys.reshape(-1) / h), -1))
    ref = torch.cat(points, 0).to(dtype)  # (S, 2)
    n_levels = spatial_shapes.shape[0]
    return ref[None, :, None, :].expand(batch, -1, n_levels, -1).contiguous()


class MSDeformAttn(nn.Module):
    """Multi-scale deformable attention module (Deformable DETR), with Deformable DETR's
    initialisation; parameter names as upstream (sampling_offsets, attention_weights,
    value_proj, output_proj). No padding mask (PSALM runs with valid ratios 1)."""

    def __init__(self, d_model=256, n_levels=4, n_heads=8, n_points=4):
        super().__init__()
        assert d_model % n_heads == 0
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.constant_(self.sampling_offsets.weight, 0.0)
        theta = torch.arange(self.n_heads, dtype=torch.float64) * (2.0 * math.pi / self.n_heads)
        grid = torch.stack((theta.cos(), theta.sin()), -1)  # (M, 2)
        grid = grid / grid.abs().max(-1, keepdim=True)[0]
        grid = grid[:, None, None, :].repeat(1, self.n_levels, self.n_points, 1)  # (M, L, P, 2)
        grid = grid * torch.arange(1, self.n_points + 1, dtype=torch.float64)[None, None, :, None]
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.reshape(-1))
        nn.init.constant_(self.attention_weights.weight, 0.0)
        nn.init.constant_(self.attention_weights.bias, 0.0)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.constant_(self.value_proj.bias, 0.0)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.constant_(self.output_proj.bias, 0.0)

    def forward(self, query, reference_points, input_flatten, spatial_shapes,
                level_start_index=None):
        """query (B, Q, C), reference_points (B, Q, L, 2) as (x, y), input_flatten (B, S, C),
        spatial_shapes (L, 2) int64 as (H, W) -> (B, Q, C)."""
        b, q, _ = query.shape
        s = input_flatten.shape[1]
        m, lv, p = self.n_heads, self.n_levels, self.n_points
        value = self.value_proj(input_flatten).view(b, s, m, self.d_model // m)
        offsets = self.sampling_offsets(query).view(b, q, m, lv, p, 2)
        weights = F.softmax(self.attention_weights(query).view(b, q, m, lv * p), -1)
        weights = weights.view(b, q, m, lv, p)
        normalizer = torch.stack((spatial_shapes[..., 1], spatial_shapes[..., 0]), -1)  # (W, H)
        loc = (reference_points[:, :, None, :, None, :]
               + offsets / normalizer[None, None, None, :, None, :].to(offsets.dtype))
        out = ms_deform_attn_core_pytorch(value, spatial_shapes, loc, weights)
        return self.output_proj(out)
