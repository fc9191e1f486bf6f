"""Golden values for the sine position encoding (include/psalm/nn/position_encoding.hpp) and the
pixel decoder (include/psalm/models/deformable/pixel_decoder.hpp), written to
tests/fixtures/pixel_decoder/*.safetensors. CI never runs this; rerun it after changing a case and
commit the output:

    tools/reference/.venv/bin/python tools/reference/pixel_decoder_fixtures.py

position_encoding.safetensors: for each case "<H>x<W>_f<F>_<norm|raw>", `<case>.f64` (the
transcription below in float64), `<case>.f32` (the same in float32, as upstream computes it) and,
for normalised cases, `<case>.hf` (transformers' Mask2FormerSinePositionEmbedding, float32).

pixel_decoder.safetensors: see pixel_decoder_fixtures() below (the SMALL config, which is
PixelDecoderConfig::tiny() in C++; tests/fixtures/pixel_decoder/tiny_config.json).
"""
import math
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from msda_reference import MSDeformAttn, reference_points_for

torch.set_num_threads(1)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "pixel_decoder"


# --- sine position encoding --------------------------------------------------------------------
def position_embedding_sine(x, num_pos_feats, temperature=10000, normalize=True, scale=None,
                            dtype=torch.float32):
    """Mask2Former's PositionEmbeddingSine.forward(x, mask=None), transcribed from
    mask2former/modeling/transformer_decoder/position_encoding.py with a dtype argument."""
    scale = 2 * math.pi if scale is None else scale
    mask = torch.zeros((x.size(0), x.size(2), x.size(3)), dtype=torch.bool)
    not_mask = ~mask
    y_embed = not_mask.cumsum(1, dtype=dtype)
    x_embed = not_mask.cumsum(2, dtype=dtype)
    if normalize:
        eps = 1e-6
        y_embed = y_embed / (y_embed[:, -1:, :] + eps) * scale
        x_embed = x_embed / (x_embed[:, :, -1:] + eps) * scale
    dim_t = torch.arange(num_pos_feats, dtype=dtype)
    dim_t = temperature ** (2 * (dim_t // 2) / num_pos_feats)
    pos_x = x_embed[:, :, :, None] / dim_t
    pos_y = y_embed[:, :, :, None] / dim_t
    pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


def position_encoding_fixtures():
    from transformers.models.mask2former.modeling_mask2former import (
        Mask2FormerSinePositionEmbedding)
    out = {}
    for h, w, f, normalize in [(4, 6, 8, True), (7, 5, 16, True), (1, 3, 4, True),
                               (3, 4, 8, False), (4, 4, 128, True)]:
        name = f"{h}x{w}_f{f}_{'norm' if normalize else 'raw'}"
        x = torch.zeros(1, 3, h, w)
        out[f"{name}.f64"] = position_embedding_sine(x, f, normalize=normalize,
                                                     dtype=torch.float64)
        out[f"{name}.f32"] = position_embedding_sine(x, f, normalize=normalize)
        if normalize:
            hf = Mask2FormerSinePositionEmbedding(num_position_features=f, normalize=True)
            out[f"{name}.hf"] = hf(x.shape, x.device, x.dtype)
            assert torch.allclose(out[f"{name}.hf"], out[f"{name}.f32"], atol=1e-6)
    save_file({k: v.contiguous() for k, v in out.items()}, OUT / "position_encoding.safetensors")



# --- the pixel decoder, composed from torch.nn layers and msda_reference -----------------------
# Written from the module structure of PSALM's vendored Mask2Former pixel decoder
# (psalm/model/mask_decoder/Mask2Former_Simplify/modeling/pixel_decoder/msdeformattn.py):
# input_proj per level (res5, res4, res3), an encoder-only deformable transformer with level
# embeddings, split back into maps, one FPN level on res2 (adapter_1 / layer_1, with conv biases),
# mask_features. Parameter names are the upstream state_dict keys.
class EncoderLayer(nn.Module):
    def __init__(self, d_model, d_ffn, n_levels, n_heads, n_points):
        super().__init__()
        self.self_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, src, pos, reference_points, spatial_shapes):
        src = self.norm1(src + self.self_attn(src + pos, reference_points, src, spatial_shapes))
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))


class Encoder(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class EncoderOnly(nn.Module):
    def __init__(self, d_model, d_ffn, n_layers, n_levels, n_heads, n_points):
        super().__init__()
        self.encoder = Encoder([EncoderLayer(d_model, d_ffn, n_levels, n_heads, n_points)
                                for _ in range(n_layers)])
        self.level_embed = nn.Parameter(torch.empty(n_levels, d_model))
        for p in self.parameters():  # upstream: xavier on every matrix, then MSDeformAttn's init
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for layer in self.encoder.layers:
            layer.self_attn.reset_parameters()
        nn.init.normal_(self.level_embed)

    def forward(self, srcs, pos_embeds):
        flat, pos_flat, shapes = [], [], []
        for lvl, (src, pos) in enumerate(zip(srcs, pos_embeds)):
            shapes.append(src.shape[-2:])
            flat.append(src.flatten(2).transpose(1, 2))
            pos_flat.append(pos.flatten(2).transpose(1, 2) + self.level_embed[lvl].view(1, 1, -1))
        src, pos = torch.cat(flat, 1), torch.cat(pos_flat, 1)
        spatial_shapes = torch.as_tensor(shapes, dtype=torch.long)
        ref = reference_points_for(spatial_shapes, src.shape[0], dtype=src.dtype)
        for layer in self.encoder.layers:
            src = layer(src, pos, ref, spatial_shapes)
        return src, spatial_shapes


def c2_xavier_fill(conv):
    nn.init.kaiming_uniform_(conv.weight, a=1)
    nn.init.constant_(conv.bias, 0)


class PixelDecoder(nn.Module):
    def __init__(self, in_channels, conv_dim, mask_dim, n_layers, d_ffn, n_heads, n_points, groups,
                 lateral_relu=True):
        """lateral_relu=False gives upstream Mask2Former's FPN (no ReLU after adapter_1), used only
        to cross-check this composition against transformers' Mask2FormerPixelDecoder."""
        super().__init__()
        res2, res3, res4, res5 = in_channels
        self.input_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, conv_dim, 1), nn.GroupNorm(groups, conv_dim))
            for c in (res5, res4, res3))
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight)
            nn.init.constant_(proj[0].bias, 0)
        self.transformer = EncoderOnly(conv_dim, d_ffn, n_layers, 3, n_heads, n_points)
        self.mask_features = nn.Conv2d(conv_dim, mask_dim, 1)
        c2_xavier_fill(self.mask_features)
        self.adapter_1 = nn.Sequential(nn.Conv2d(res2, conv_dim, 1), nn.GroupNorm(groups, conv_dim),
                                       nn.ReLU() if lateral_relu else nn.Identity())
        self.layer_1 = nn.Sequential(nn.Conv2d(conv_dim, conv_dim, 3, padding=1),
                                     nn.GroupNorm(groups, conv_dim), nn.ReLU())
        c2_xavier_fill(self.adapter_1[0])
        c2_xavier_fill(self.layer_1[0])
        self.conv_dim = conv_dim

    def forward(self, res2, res3, res4, res5):
        srcs, pos = [], []
        for proj, x in zip(self.input_proj, (res5, res4, res3)):
            srcs.append(proj(x))
            pos.append(position_embedding_sine(x, self.conv_dim // 2, dtype=x.dtype))
        y, shapes = self.transformer(srcs, pos)
        b = y.shape[0]
        sizes = [int(h) * int(w) for h, w in shapes.tolist()]
        out = [z.transpose(1, 2).reshape(b, -1, int(h), int(w))
               for z, (h, w) in zip(y.split(sizes, 1), shapes.tolist())]
        lateral = self.adapter_1(res2)
        y = lateral + F.interpolate(out[-1], size=lateral.shape[-2:], mode="bilinear",
                                    align_corners=False)
        y = self.layer_1(y)
        return self.mask_features(y), out  # out: 1/32, 1/16, 1/8


SMALL = dict(in_channels=(8, 12, 16, 20), conv_dim=32, mask_dim=24, n_layers=2, d_ffn=64,
             n_heads=4, n_points=2, groups=8)
SMALL_SIZES = {"res2": (16, 20), "res3": (8, 10), "res4": (4, 5), "res5": (2, 3)}


def pixel_decoder_fixtures():
    """pixel_decoder.safetensors: the SMALL config with every parameter moved off its init
    (stored float32 under `pixel_decoder.` + upstream names), inputs res2..res5 (batch 2,
    float32), upstream gradients d_<output> (float32); then, computed in float64 from those
    float32 values: outputs `out.mask_features`, `out.multi_scale_{0,1,2}` and the gradients of
    loss = sum_k <output_k, d_output_k> as `grad.<parameter name>` and `grad.res{2..5}`."""
    torch.manual_seed(7)
    model = PixelDecoder(**SMALL)
    with torch.no_grad():  # move every parameter off its (often zero or constant) init
        for name, p in model.named_parameters():
            scale = 0.3 if "sampling_offsets.bias" in name else 0.1
            p.add_(torch.randn_like(p) * scale)
    inputs = {k: torch.randn(2, c, *SMALL_SIZES[k])
              for k, c in zip(("res2", "res3", "res4", "res5"), SMALL["in_channels"])}
    names = ["mask_features", "multi_scale_0", "multi_scale_1", "multi_scale_2"]
    shapes = {"mask_features": (2, SMALL["mask_dim"], *SMALL_SIZES["res2"])}
    for i, r in enumerate(("res5", "res4", "res3")):
        shapes[f"multi_scale_{i}"] = (2, SMALL["conv_dim"], *SMALL_SIZES[r])
    d_out = {n: torch.randn(*shapes[n]) for n in names}

    fixture = {f"pixel_decoder.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    fixture.update({k: v.clone() for k, v in inputs.items()})
    fixture.update({f"d_{k}": v.clone() for k, v in d_out.items()})

    model = model.double()
    x = {k: v.double().requires_grad_(True) for k, v in inputs.items()}
    mask_features, multi_scale = model(x["res2"], x["res3"], x["res4"], x["res5"])
    outs = dict(zip(names, [mask_features] + multi_scale))
    loss = sum((outs[n] * d_out[n].double()).sum() for n in names)
    loss.backward()
    for n in names:
        fixture[f"out.{n}"] = outs[n].detach()
    for k, p in model.named_parameters():
        fixture[f"grad.pixel_decoder.{k}"] = p.grad.detach()
    for k, v in x.items():
        fixture[f"grad.{k}"] = v.grad.detach()
    save_file({k: v.contiguous() for k, v in fixture.items()}, OUT / "pixel_decoder.safetensors")

    # The same composition in float32 agrees with the float64 result (a check of this script).
    model32 = PixelDecoder(**SMALL)
    model32.load_state_dict({k[len("pixel_decoder."):]: v for k, v in fixture.items()
                             if k.startswith("pixel_decoder.")})
    m32, ms32 = model32(inputs["res2"], inputs["res3"], inputs["res4"], inputs["res5"])
    assert torch.allclose(m32.double(), mask_features, atol=1e-5), "float32 drifts"


def check_against_transformers():
    """Where the architectures coincide (Mask2Former's FPN: no conv biases, no lateral ReLU;
    GroupNorm 32 and 4 points, which transformers hard-codes), this composition must equal
    transformers' Mask2FormerPixelDecoder in float64. A check of this script: nothing is written."""
    from transformers import Mask2FormerConfig
    from transformers.models.mask2former.modeling_mask2former import Mask2FormerPixelDecoder
    torch.manual_seed(11)
    ours = PixelDecoder(in_channels=SMALL["in_channels"], conv_dim=32, mask_dim=24, n_layers=2,
                        d_ffn=64, n_heads=4, n_points=4, groups=32, lateral_relu=False).double()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            p.add_(torch.randn_like(p) * (0.3 if "sampling_offsets.bias" in name else 0.1))
        ours.adapter_1[0].bias.zero_()
        ours.layer_1[0].bias.zero_()
    config = Mask2FormerConfig(feature_size=32, mask_feature_size=24, encoder_layers=2,
                               num_attention_heads=4, encoder_feedforward_dim=64, dropout=0.0)
    theirs = Mask2FormerPixelDecoder(config, list(SMALL["in_channels"])).double().eval()
    renames = [("input_proj.", "input_projections."), ("transformer.level_embed", "level_embed"),
               ("transformer.encoder.", "encoder."), (".norm1.", ".self_attn_layer_norm."),
               (".linear1.", ".fc1."), (".linear2.", ".fc2."), (".norm2.", ".final_layer_norm."),
               ("mask_features.", "mask_projection.")]
    state = {}
    for name, value in ours.state_dict().items():
        if name in ("adapter_1.0.bias", "layer_1.0.bias"):
            continue
        for a, b in renames:
            name = name.replace(a, b)
        state[name] = value
    theirs.load_state_dict(state, strict=True)
    x = [torch.randn(2, c, *SMALL_SIZES[k], dtype=torch.float64)
         for k, c in zip(("res2", "res3", "res4", "res5"), SMALL["in_channels"])]
    with torch.no_grad():
        mask_features, multi_scale = ours(*x)
        ref = theirs(x)
    assert torch.allclose(mask_features, ref.mask_features, atol=1e-10), "mask_features differ"
    for a, b in zip(multi_scale, ref.multi_scale_features):
        assert torch.allclose(a, b, atol=1e-10), "multi-scale features differ"
    print("composition == transformers' Mask2FormerPixelDecoder (float64, atol 1e-10)")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    position_encoding_fixtures()
    pixel_decoder_fixtures()
    check_against_transformers()
