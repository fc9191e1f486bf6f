"""Golden values for PSALM's masked-attention decoder (include/psalm/models/mask2former/), from a
PyTorch composition written here after the official module structure (PSALM's
MultiScaleMaskedTransformerDecoderForOPTPreTrain.forward_woconcat, itself Mask2Former's
decoder): torch.nn.MultiheadAttention, LayerNorm, Linear, F.interpolate and the sine position
encoding transcribed. Written to tests/fixtures/mask2former/decoder_tiny.safetensors. CI never runs
this; rerun it after changing the case and commit the output:

    tools/reference/.venv/bin/python tools/reference/mask_decoder_fixtures.py

The case: hidden 32, 4 heads, FFN 64, 4 layers (levels cycle 0, 1, 2, 0), 6 queries, batch 2,
memories 2x2 / 4x4 / 8x8, mask_features 16x16, 5 class conditions, one referring condition,
3 + 2 region conditions. Forward and backward run in float64; tensors are stored float32.
The file holds
  predictor.<name>            the decoder's state_dict under PSALM's prefix (§7.1 names);
  queries, mask_features, multi_scale_{0,1,2}, class_conditions, referring_conditions,
  region_conditions (K_total, D: the samples' rows stacked), region_counts (B) — the inputs,
  named as `psalm forward --component mask_decoder` reads them;
  out.{s}.pred_masks / pred_class_logits / pred_seg_logits / pred_region_logits.{b} — every
  prediction set s = 0 (initial queries) .. 4 (after the last layer);
  attn_mask.{i}               the boolean mask layer i's cross-attention used (B*heads, Q, S), 0/1;
  grad.<name>                 d loss / d every parameter (predictor.<name>) and input, where
  loss = sum over sets and outputs of mean(output ** 2).
The seed is chosen so that no resized mask logit feeding an attention mask lies within 1e-3 of
0 (sigmoid within 2.5e-4 of 0.5), and some query rows are blocked everywhere (the unblocking
rule is exercised).
"""
import math
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

torch.set_num_threads(1)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "mask2former"
D = torch.float64


def sine_position_encoding(h, w, num_pos_feats, temperature=10000.0, scale=2 * math.pi, dtype=D):
    """PositionEmbeddingSine(normalize=True) without a padding mask, (1, 2F, h, w), computed in
    `dtype` (this fixture: float64; tools/reference/psalm_reference.py: float32 as upstream)."""
    ones = torch.ones(1, h, w, dtype=dtype)
    y = ones.cumsum(1)
    x = ones.cumsum(2)
    eps = 1e-6
    y = y / (y[:, -1:, :] + eps) * scale
    x = x / (x[:, :, -1:] + eps) * scale
    k = torch.arange(num_pos_feats, dtype=dtype)
    dim_t = temperature ** (2 * torch.div(k, 2, rounding_mode="floor") / num_pos_feats)
    px = x[..., None] / dim_t
    py = y[..., None] / dim_t
    px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), dim=4).flatten(3)
    py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), dim=4).flatten(3)
    return torch.cat((py, px), dim=3).permute(0, 3, 1, 2)


def xavier_matrices(module):
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


class SelfAttentionLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads)
        self.norm = nn.LayerNorm(d)
        xavier_matrices(self)

    def forward(self, tgt, query_pos):  # sequence-first (Q, B, D)
        qk = tgt + query_pos
        return self.norm(tgt + self.self_attn(qk, qk, tgt)[0])


class CrossAttentionLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d, heads)
        self.norm = nn.LayerNorm(d)
        xavier_matrices(self)

    def forward(self, tgt, memory, mask, pos, query_pos):
        att = self.multihead_attn(tgt + query_pos, memory + pos, memory, attn_mask=mask)[0]
        return self.norm(tgt + att)


class FFNLayer(nn.Module):
    def __init__(self, d, ffn):
        super().__init__()
        self.linear1 = nn.Linear(d, ffn)
        self.linear2 = nn.Linear(ffn, d)
        self.norm = nn.LayerNorm(d)
        xavier_matrices(self)

    def forward(self, tgt):
        return self.norm(tgt + self.linear2(F.relu(self.linear1(tgt))))


class MLP(nn.Module):
    def __init__(self, i, h, o, n):
        super().__init__()
        dims = [i] + [h] * (n - 1)
        outs = [h] * (n - 1) + [o]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, outs))

    def forward(self, x):
        for j, layer in enumerate(self.layers):
            x = layer(x)
            if j + 1 < len(self.layers):
                x = F.relu(x)
        return x


class Decoder(nn.Module):
    """Module tree and names as the official decoder (the input projections are identity)."""

    def __init__(self, d, heads, ffn, layers, queries, mask_dim):
        super().__init__()
        self.heads = heads
        self.transformer_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(d, heads) for _ in range(layers))
        self.transformer_cross_attention_layers = nn.ModuleList(
            CrossAttentionLayer(d, heads) for _ in range(layers))
        self.transformer_ffn_layers = nn.ModuleList(FFNLayer(d, ffn) for _ in range(layers))
        self.decoder_norm = nn.LayerNorm(d)
        self.query_feat = nn.Embedding(queries, d)
        self.query_embed = nn.Embedding(queries, d)
        self.SEG_query_embed = nn.Embedding(queries + 1, d)
        self.level_embed = nn.Embedding(3, d)
        self.mask_embed = MLP(d, d, mask_dim, 3)
        self.SEG_proj = MLP(d, d, d, 2)
        self.CLASS_proj = MLP(d, d, d, 2)
        self.REGION_proj = MLP(d, d, d, 2)

    def head(self, output, mask_features, size, cls, refer, regions):
        """A condition passed as None (upstream: the heads a task does not use) gives None logits."""
        dec = self.decoder_norm(output).transpose(0, 1)  # (B, Q, D)
        out = {"pred_seg_logits": None if refer is None else
               torch.einsum("bld,bcd->blc", self.SEG_proj(dec), refer),
               "pred_class_logits": None if cls is None else
               torch.einsum("bld,bcd->blc", self.CLASS_proj(dec), cls),
               "pred_region_logits": None}
        if regions is not None:
            reg = self.REGION_proj(dec)
            out["pred_region_logits"] = [torch.einsum("kd,ld->kl", r, s)
                                         for s, r in zip(reg, regions)]
        masks = torch.einsum("bqc,bchw->bqhw", self.mask_embed(dec), mask_features)
        out["pred_masks"] = masks
        small = F.interpolate(masks, size=size, mode="bilinear", align_corners=False)
        attn = (small.sigmoid().flatten(2).unsqueeze(1).repeat(1, self.heads, 1, 1)
                .flatten(0, 1) < 0.5).detach()
        return out, attn, small.detach()

    def forward(self, queries, multi_scale, mask_features, cls, refer, regions):
        src, pos, sizes = [], [], []
        for lvl, x in enumerate(multi_scale):
            sizes.append(tuple(x.shape[-2:]))
            d = x.shape[1]
            pos.append(sine_position_encoding(*x.shape[-2:], d // 2, dtype=x.dtype)
                       .flatten(2).permute(2, 0, 1))
            src.append((x.flatten(2) + self.level_embed.weight[lvl][None, :, None])
                       .permute(2, 0, 1))
        b = queries.shape[0]
        query_pos = self.query_embed.weight.unsqueeze(1).repeat(1, b, 1)
        output = queries.permute(1, 0, 2)
        preds, masks_used, logits_used = [], [], []
        p, attn, small = self.head(output, mask_features, sizes[0], cls, refer, regions)
        preds.append(p)
        for i in range(len(self.transformer_ffn_layers)):
            lvl = i % 3
            attn[torch.where(attn.sum(-1) == attn.shape[-1])] = False
            masks_used.append(attn.clone())
            logits_used.append(small)
            output = self.transformer_cross_attention_layers[i](output, src[lvl], attn, pos[lvl],
                                                                query_pos)
            output = self.transformer_self_attention_layers[i](output, query_pos)
            output = self.transformer_ffn_layers[i](output)
            p, attn, small = self.head(output, mask_features, sizes[(i + 1) % 3], cls, refer,
                                       regions)
            preds.append(p)
        return preds, masks_used, logits_used


def build(seed):
    torch.manual_seed(seed)
    d, heads, ffn, layers, q, b = 32, 4, 64, 4, 6, 2
    dec = Decoder(d, heads, ffn, layers, q, d).to(D)
    with torch.no_grad():  # non-trivial norms and attention biases (default init: 1 / 0)
        for name, p in dec.named_parameters():
            if "norm" in name or "in_proj_bias" in name or "out_proj.bias" in name:
                p.add_(torch.randn_like(p) * 0.2)
    inputs = {
        "queries": torch.randn(b, q, d, dtype=D),
        "mask_features": torch.randn(b, d, 16, 16, dtype=D),
        "multi_scale_0": torch.randn(b, d, 2, 2, dtype=D),
        "multi_scale_1": torch.randn(b, d, 4, 4, dtype=D),
        "multi_scale_2": torch.randn(b, d, 8, 8, dtype=D),
        "class_conditions": torch.randn(b, 5, d, dtype=D),
        "referring_conditions": torch.randn(b, 1, d, dtype=D),
        "region_conditions": torch.randn(5, d, dtype=D),
    }
    counts = [3, 2]
    return dec, inputs, counts


def run(dec, inputs, counts):
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    regions = list(torch.split(leaves["region_conditions"], counts, 0))
    ms = [leaves[f"multi_scale_{i}"] for i in range(3)]
    preds, masks_used, logits_used = dec(leaves["queries"], ms, leaves["mask_features"],
                                         leaves["class_conditions"],
                                         leaves["referring_conditions"], regions)
    loss = 0
    for p in preds:
        for key in ("pred_masks", "pred_class_logits", "pred_seg_logits"):
            loss = loss + (p[key] ** 2).mean()
        for r in p["pred_region_logits"]:
            loss = loss + (r ** 2).mean()
    return leaves, preds, masks_used, logits_used, loss


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for seed in range(100):
        dec, inputs, counts = build(seed)
        leaves, preds, masks_used, logits_used, loss = run(dec, inputs, counts)
        margin = min(x.abs().min().item() for x in logits_used)
        full_rows = sum(int((m.view(-1, m.shape[-1]).sum(-1) == 0).sum()) for m in masks_used)
        # fully blocked rows were unblocked: count rows with no blocked key whose logits are
        # all negative (they were all blocked before the rule)
        unblocked = sum(int(((lg < 0).flatten(2).all(-1)).sum()) for lg in logits_used)
        if margin > 1e-3 and unblocked > 0:
            break
    print(f"seed {seed}: min |resized logit| {margin:.2e}, rows unblocked {unblocked}, "
          f"rows with nothing blocked {full_rows}")
    params = dict(dec.named_parameters())
    grads = torch.autograd.grad(loss, list(params.values()) + list(leaves.values()),
                                allow_unused=True)  # query_feat, SEG_query_embed: unused
    grads = [torch.zeros_like(x) if g is None else g
             for x, g in zip(list(params.values()) + list(leaves.values()), grads)]
    tensors = {"predictor." + k: v.detach() for k, v in dec.state_dict().items()}
    tensors.update(inputs)
    tensors["region_counts"] = torch.tensor(counts, dtype=D)
    for s, p in enumerate(preds):
        for key in ("pred_masks", "pred_class_logits", "pred_seg_logits"):
            tensors[f"out.{s}.{key}"] = p[key].detach()
        for i, r in enumerate(p["pred_region_logits"]):
            tensors[f"out.{s}.pred_region_logits.{i}"] = r.detach()
    for i, m in enumerate(masks_used):
        tensors[f"attn_mask.{i}"] = m.to(D)
    for name, g in zip(list(params) + list(leaves), grads):
        tensors["grad." + ("predictor." + name if name in params else name)] = g
    tensors["loss"] = loss.detach().reshape(1)
    tensors = {k: v.to(torch.float32).contiguous() for k, v in tensors.items()}
    save_file(tensors, OUT / "decoder_tiny.safetensors")
    size = (OUT / "decoder_tiny.safetensors").stat().st_size
    print(f"wrote decoder_tiny.safetensors ({len(tensors)} tensors, {size} bytes)")


if __name__ == "__main__":
    main()
