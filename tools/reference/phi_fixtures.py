"""Reference fixtures for psalm's Phi-1.5 (include/psalm/models/phi/), from Hugging Face
transformers' PhiForCausalLM (the split q_proj/k_proj/v_proj layout of transformers >= 4.37).

Writes tests/fixtures/phi/<name>/{config.json, weights.safetensors, reference.safetensors} for two
small random configs, plus fused.safetensors (the transformers 4.36 `query_key_value` layout,
rows interleaved per head as [heads, 3, head_dim], built here from the split weights with torch
views) for the first:

* tiny_a: 2 layers, hidden 64, 4 heads, vocab 1000, partial rotary 0.5, batch 2 x 7, no padding,
  loss = cross-entropy (mean) of the logits on fixed labels;
* tiny_b: 3 layers, hidden 96, 6 heads, vocab 64, partial rotary 0.4, batch 2 x 9 right-padded
  (lengths 9 and 6), loss = sum(logits * w) with w zero on padded positions.

Weights are rounded to bfloat16 (stored as BF16, used as float32 on both sides) to keep the
fixtures small; every other tensor is float32 / int64. reference.safetensors holds the inputs,
`last_hidden_state`, `logits`, the loss, `grad.<param>` for every parameter (the embedding
gradient as `grad.model.embed_tokens.rows` for the ids in `grad.embed_ids`, all other rows
being zero) and, for tiny_a, transformers' greedy `generate` continuation of a prompt.

Run: tools/reference/.venv/bin/python tools/reference/phi_fixtures.py
"""

import json
import os

import torch
from safetensors.torch import save_file
from transformers import PhiConfig, PhiForCausalLM

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "phi")


def hf_config(vocab, hidden, inter, layers, heads, rotary):
    return {
        "architectures": ["PhiForCausalLM"],
        "model_type": "phi",
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": None,
        "partial_rotary_factor": rotary,
        "rope_theta": 10000.0,
        "layer_norm_eps": 1e-5,
        "hidden_act": "gelu_new",
        "max_position_embeddings": 64,
        "tie_word_embeddings": False,
        "qk_layernorm": False,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    }


def build(cfg_json, seed):
    cfg = PhiConfig(**{k: v for k, v in cfg_json.items() if k not in ("architectures",)})
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = PhiForCausalLM(cfg).float().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Larger-than-default weights so every path (rotary, attention pattern, gelu
            # curvature) matters; LayerNorm affine away from (1, 0) so it is tested.
            if name.endswith("layernorm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.05 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5)
            p.copy_(p.to(torch.bfloat16).float())  # exactly representable in bf16
    return model


def fused_qkv(model, heads):
    """The transformers 4.36 layout: rows [heads, 3, head_dim] (per head q, k, v)."""
    out = {}
    for i, layer in enumerate(model.model.layers):
        a = layer.self_attn
        hidden = a.q_proj.weight.shape[1]
        hd = a.q_proj.weight.shape[0] // heads
        w = torch.stack([a.q_proj.weight.view(heads, hd, hidden), a.k_proj.weight.view(heads, hd, hidden),
                         a.v_proj.weight.view(heads, hd, hidden)], dim=1)  # (H, 3, hd, D)
        b = torch.stack([a.q_proj.bias.view(heads, hd), a.k_proj.bias.view(heads, hd),
                         a.v_proj.bias.view(heads, hd)], dim=1)  # (H, 3, hd)
        p = f"model.layers.{i}.self_attn.query_key_value."
        out[p + "weight"] = w.reshape(3 * heads * hd, hidden).contiguous()
        out[p + "bias"] = b.reshape(3 * heads * hd).contiguous()
    return out


def write(name, cfg_json, model, ref, fused=None):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg_json, f, indent=2)
    weights = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    save_file(weights, os.path.join(d, "weights.safetensors"))
    if fused is not None:
        save_file({k: v.to(torch.bfloat16) for k, v in fused.items()},
                  os.path.join(d, "fused_qkv.safetensors"))
    save_file({k: v.detach().clone().contiguous() for k, v in ref.items()},
              os.path.join(d, "reference.safetensors"))


def run(model, input_ids, attention_mask, loss_fn):
    model.zero_grad()
    out = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    loss = loss_fn(out.logits)
    loss.backward()
    ref = {"input_ids": input_ids, "attention_mask": attention_mask,
           "last_hidden_state": out.hidden_states[-1], "logits": out.logits,
           "loss": loss.detach().reshape(1)}
    embed_ids = torch.unique(input_ids)
    ref["grad.embed_ids"] = embed_ids
    for n, p in model.named_parameters():
        if n == "model.embed_tokens.weight":
            ref["grad.model.embed_tokens.rows"] = p.grad[embed_ids]
            mask = torch.ones(p.shape[0], dtype=torch.bool)
            mask[embed_ids] = False
            assert torch.all(p.grad[mask] == 0)
        else:
            ref["grad." + n] = p.grad
    return ref


def tiny_a():
    cfg = hf_config(vocab=1000, hidden=64, inter=64, layers=2, heads=4, rotary=0.5)
    model = build(cfg, seed=1)
    g = torch.Generator().manual_seed(11)
    input_ids = torch.randint(0, 1000, (2, 7), generator=g)
    attention_mask = torch.ones(2, 7, dtype=torch.int64)
    labels = torch.randint(0, 1000, (2, 7), generator=g)
    ref = run(model, input_ids, attention_mask,
              lambda logits: torch.nn.functional.cross_entropy(logits.reshape(-1, 1000),
                                                               labels.reshape(-1)))
    ref["labels"] = labels
    # transformers' own cached greedy decoding
    prompt = input_ids[:1, :5]
    with torch.no_grad():
        gen = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=6,
                             do_sample=False, pad_token_id=0, eos_token_id=None)
    ref["generate.prompt"] = prompt
    ref["generate.greedy"] = gen
    write("tiny_a", cfg, model, ref, fused_qkv(model, 4))


def tiny_b():
    cfg = hf_config(vocab=64, hidden=96, inter=48, layers=3, heads=6, rotary=0.4)
    model = build(cfg, seed=2)
    g = torch.Generator().manual_seed(22)
    input_ids = torch.randint(0, 64, (2, 9), generator=g)
    attention_mask = torch.ones(2, 9, dtype=torch.int64)
    attention_mask[1, 6:] = 0
    input_ids[1, 6:] = 0  # pad id
    w = torch.randn(2, 9, 64, generator=g) * attention_mask[..., None].float()
    ref = run(model, input_ids, attention_mask, lambda logits: (logits * w).sum())
    ref["loss_weight"] = w
    write("tiny_b", cfg, model, ref)


if __name__ == "__main__":
    tiny_a()
    tiny_b()
