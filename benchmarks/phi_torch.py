"""PyTorch eager baseline of benchmarks/phi.cpp: transformers' Phi at Phi-1.5 width (hidden 2048,
32 heads, intermediate 8192) with --layers decoder layers and random weights, 2 threads:
no-grad PhiModel forward over --tokens tokens (best of 2 after a warm-up), cached greedy
decoding tokens/s (prompt 32, 32 new tokens, lm_head included; best of --decode-runs runs),
and peak RSS (getrusage), with the CPU it ran on. --threads N sets torch's threads (default 2);
--decode-only skips the long forward. Prints one JSON object; save it and pass it to
`bench_phi --baseline FILE`.

Run: tools/reference/.venv/bin/python benchmarks/phi_torch.py --layers 4 > torch.json
"""

import argparse
import datetime
import json
import os
import resource
import time

import torch
from transformers import DynamicCache, PhiConfig, PhiForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=1100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--decode-runs", type=int, default=3)
    ap.add_argument("--decode-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = PhiConfig(vocab_size=51200, hidden_size=2048, intermediate_size=8192,
                    num_hidden_layers=args.layers, num_attention_heads=32,
                    partial_rotary_factor=0.5, max_position_embeddings=2048,
                    layer_norm_eps=1e-5, hidden_act="gelu_new")
    cfg._attn_implementation = "sdpa"
    lm = PhiForCausalLM(cfg).float().eval()
    ids = (torch.arange(args.tokens) * 7919 + 13) % cfg.vocab_size
    ids = ids[None]
    with torch.no_grad():
        best = 0.0
        if not args.decode_only:
            lm.model(input_ids=ids)  # warm-up
            best = 1e30
            for _ in range(2):
                t = time.perf_counter()
                lm.model(input_ids=ids)
                best = min(best, time.perf_counter() - t)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        tps = 0.0
        for _ in range(args.decode_runs):
            prompt = ((torch.arange(32) * 7919 + 13) % cfg.vocab_size)[None]
            cache = DynamicCache(config=cfg)
            lm(input_ids=prompt, past_key_values=cache, use_cache=True)
            nxt = torch.tensor([[42]])
            t = time.perf_counter()
            for _ in range(32):
                logits = lm(input_ids=nxt, past_key_values=cache, use_cache=True).logits
                nxt = logits[:, -1:].argmax(-1)
            tps = max(tps, 32 / (time.perf_counter() - t))
    print(json.dumps({"layers": args.layers, "tokens": args.tokens, "forward_s": best,
                      "peak_rss_mib": rss, "decode_tokens_per_s": tps,
                      "threads": args.threads, "torch": torch.__version__,
                      "machine": machine()}))


def machine():
    """CPU model, the flags that matter here, torch's CPU capability, load average, date."""
    model, flags = "unknown", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            if key.strip() == "flags" and not flags:
                flags = set(value.split())
    wanted = ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16"]
    return {"cpu": model, "isa": " ".join(f for f in wanted if f in flags),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "load_average": os.getloadavg()[0],
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


if __name__ == "__main__":
    main()
