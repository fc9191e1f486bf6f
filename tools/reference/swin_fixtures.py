"""Golden values for the Swin backbone (include/psalm/models/swin/), computed with Hugging Face
transformers' SwinBackbone (per-stage LayerNorms `hidden_states_norms`, always_partition=True so
no window is shrunk) in float64 at a small random config, its weights renamed to Mask2Former's
Swin keys. CI never runs this; rerun it after changing a case and commit the output:

    tools/reference/.venv/bin/python tools/reference/swin_fixtures.py

Writes tests/fixtures/swin/:
  tiny_config.json          the HF SwinConfig (config.to_dict(): HF field names)
  tiny_weights.safetensors  float32 weights named "backbone." + Mask2Former key, including
                            relative_position_index (int64, as Mask2Former saves it)
  tiny_reference.safetensors  pixel_values (2, 3, 57, 59); res2..res5 (NCHW, after norm{s});
                            loss_weight.res{k} (fixed N(0, 1)) defining the scalar loss
                            L = sum_k sum(res_k * loss_weight.res_k); grad.<Mask2Former key> for
                            every parameter and grad.pixel_values; all float32 of float64 values.
Patch size 2 and a 57 x 59 image give a 29 x 30 token grid (padded input), window 3: the
stages are 29x30, 15x15, 8x8, 4x4, so every stage but the second pads to the window, and the
shifted blocks (depth 2 everywhere) use the -100 region mask on the padded size.
"""
import json
import pathlib

import torch
from safetensors.torch import save_file
from transformers import SwinBackbone, SwinConfig

torch.set_num_threads(1)
torch.manual_seed(0)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "swin"
D = torch.float64


def hf_to_m2f(name):
    """Maps an HF SwinBackbone parameter name to (Mask2Former name, q/k/v slot or None)."""
    if name.startswith("hidden_states_norms.stage"):
        stage, rest = name[len("hidden_states_norms.stage"):].split(".", 1)
        return f"norm{int(stage) - 1}.{rest}", None
    name = name.replace("swin.embeddings.patch_embeddings.projection.", "patch_embed.proj.")
    name = name.replace("swin.embeddings.norm.", "patch_embed.norm.")
    name = name.replace("swin.encoder.layers.", "layers.")
    name = name.replace(".layernorm_before.", ".norm1.").replace(".layernorm_after.", ".norm2.")
    name = name.replace(".attention.relative_position_bias.relative_position_bias_table",
                        ".attn.relative_position_bias_table")
    name = name.replace(".attention.o_proj.", ".attn.proj.")
    for slot, proj in enumerate(("q_proj", "k_proj", "v_proj")):
        if f".attention.{proj}." in name:
            return name.replace(f".attention.{proj}.", ".attn.qkv."), slot
    return name, None


def relative_position_index(w):
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (w - 1)
    return rel[:, :, 0] * (2 * w - 1) + rel[:, :, 1]


def main():
    config = SwinConfig(image_size=64, patch_size=2, num_channels=3, embed_dim=6,
                        depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=3,
                        mlp_ratio=4.0, qkv_bias=True, drop_path_rate=0.0,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        out_features=["stage1", "stage2", "stage3", "stage4"])
    config._attn_implementation = "eager"
    model = SwinBackbone(config).to(D).eval()
    # Random values everywhere (LayerNorm affines too), large enough that the bias table and the
    # shifted-window mask change the result.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "relative_position_bias_table" in name:
                p.copy_(torch.randn_like(p) * 0.5)
            elif name.endswith("norm.weight") or "layernorm" in name and name.endswith("weight") \
                    or ("hidden_states_norms" in name and name.endswith("weight")):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn_like(p) / fan_in ** 0.5)

    pixels = torch.randn(2, 3, 57, 59, dtype=D, requires_grad=True)
    maps = model(pixels).feature_maps
    weights = [torch.randn_like(m) for m in maps]
    loss = sum((m * w).sum() for m, w in zip(maps, weights))
    loss.backward()

    # Weights and gradients under Mask2Former names (q | k | v rows fused into attn.qkv).
    tensors, grads = {}, {}
    fused = {}
    for name, p in model.named_parameters():
        if name.startswith("swin.layernorm."):  # SwinModel's final norm: unused by the backbone
            continue
        m2f, slot = hf_to_m2f(name)
        if slot is None:
            tensors[m2f] = p.detach()
            grads[m2f] = p.grad.detach()
        else:
            fused.setdefault(m2f, [None, None, None])[slot] = (p.detach(), p.grad.detach())
    for m2f, parts in fused.items():
        tensors[m2f] = torch.cat([v for v, _ in parts], 0)
        grads[m2f] = torch.cat([g for _, g in parts], 0)
    for s, depth in enumerate(config.depths):
        for b in range(depth):
            tensors[f"layers.{s}.blocks.{b}.attn.relative_position_index"] = \
                relative_position_index(config.window_size)
    # Cross-check the mapping against the HF module's own index buffer.
    hf_index = model.swin.encoder.layers[0].blocks[0].attention.relative_position_bias \
        .relative_position_index.view(9, 9)
    assert torch.equal(hf_index, relative_position_index(3))

    OUT.mkdir(parents=True, exist_ok=True)
    save_file({"backbone." + k: (v.float() if v.is_floating_point() else v).contiguous()
               for k, v in sorted(tensors.items())}, OUT / "tiny_weights.safetensors")
    ref = {"pixel_values": pixels.detach().float()}
    for k, (m, w) in enumerate(zip(maps, weights), start=2):
        ref[f"res{k}"] = m.detach().float().contiguous()
        ref[f"loss_weight.res{k}"] = w.float().contiguous()
    ref["grad.pixel_values"] = pixels.grad.float()
    for k, g in grads.items():
        ref["grad." + k] = g.float().contiguous()
    save_file(ref, OUT / "tiny_reference.safetensors", metadata={"loss": repr(loss.item())})
    cfg = config.to_dict()
    cfg.pop("_attn_implementation", None)
    (OUT / "tiny_config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    print("loss", loss.item(), "shapes", [tuple(m.shape) for m in maps])


if __name__ == "__main__":
    main()
