"""The released PSALM folder as published (spec §7.1) at tiny shapes, and the three stage-2 inits
`psalm init` assembles (spec §4.3, §7.2-7.4), all written by the real writers (safetensors,
pickle + numpy, torch.save, transformers' save_pretrained); nothing is downloaded. CI never runs
this; rerun it after changing a case and commit the output:

    /work/venv/bin/python tools/reference/released_fixtures.py             # the committed fixtures
    /work/venv/bin/python tools/reference/released_fixtures.py --full OUT  # full shapes (not committed)

Writes tests/fixtures/released/:
  model/    the released folder: config.json (model_type "llava_phi": transformers' PhiConfig
            fields and LLaVA's mm_* fields at the top level, the shapes Hugging Face's file does
            not state in a "psalm" object), generation_config.json, two safetensors shards
            model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json (float32, int64
            buffers; Phi's fused query_key_value; lm_head without bias), and the tokenizer files
            vocab.json, merges.txt, added_tokens.json (two whitespace tokens, [PAD], [SEG]),
            special_tokens_map.json, tokenizer_config.json. The weights are
            psalm_forward_fixtures' tiny composition with a byte-level vocabulary (every text
            tokenizes), randomised; pixel_decoder.{adapter_1,layer_1}.0.bias are 0 (Mask2Former
            has no such bias, so `psalm init` gives 0 there: the init check compares exactly).
  referring.inputs.safetensors / referring.expected.safetensors
            psalm_forward_fixtures' referring case (B = 2) run by the PyTorch composition on the
            folder's weights: what `psalm forward --component psalm --config model/config.json
            --weights model` must give.
  tokenizer.json  {"text": ..., "ids": ...}: transformers' GPT2Tokenizer on the folder.
  init/     the stage-2 inits of the same model: m2f.pkl (a pickled {"model": name -> ndarray}
            in Mask2Former's names: backbone.*, sem_seg_head.pixel_decoder.* with adapter_1 /
            layer_1 as detectron2 Conv2d + norm, sem_seg_head.predictor.* with class_embed and
            without PSALM's SEG_proj / CLASS_proj / REGION_proj / SEG_query_embed,
            criterion.empty_weight), mm_projector.bin (torch.save of the model.mm_projector.*
            dict, float32), phi/ (PhiForCausalLM.save_pretrained: split q/k/v, lm_head with bias,
            vocab_size 8 rows larger than the model's, plus vocab.json, merges.txt and
            added_tokens.json with the two whitespace tokens), init_config.json (the PsalmConfig
            JSON `psalm init --config` takes).

--full OUT writes the released folder at the full shapes (Swin-B, Phi-1.5, 50,297 ids, random
values, ~6.4 GB, float32) into OUT with the GPT-2 vocabulary of third_party/gpt2-bpe; no
forward is run.
"""
import argparse
import json
import pathlib
import pickle
import shutil

import numpy as np
import torch
from safetensors.torch import load_file, save_file

import psalm_fixtures
import psalm_forward_fixtures as pff
from psalm_fixtures import randomise
from psalm_reference import PSALM, load_released_state_dict, released_state_dict

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "released"
WEIGHT_SEED = 20261206
CASE_SEED = 7000
MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "n"), ("Ġ", "s"), ("e", "r"),
          ("o", "n"), ("Ġ", "c"), ("a", "t")]
WHITESPACE = ["  ", "\t\t"]  # Phi's CodeGen whitespace tokens, two of the 38
TEXT = "the cat sat  on the mat [SEG]"


def bytes_to_unicode():
    """GPT-2's byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def tiny_vocab():
    """Byte-level vocabulary: the 256 byte symbols, the merges' products, <|endoftext|>."""
    vocab = {ch: i for i, ch in enumerate(bytes_to_unicode().values())}
    for a, b in MERGES:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab


def write_tokenizer(folder, vocab, added, pad=None):
    """vocab.json, merges.txt, added_tokens.json (content -> id) and, with `pad`, the files
    naming it the pad token (transformers' layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
    (folder / "added_tokens.json").write_text(json.dumps(added, ensure_ascii=False, indent=2))
    special = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    if pad is not None:
        special["pad_token"] = pad
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    decoder = {str(i): {"content": t, "lstrip": False, "normalized": t not in ("[PAD]",),
                        "rstrip": False, "single_word": False, "special": t == "[PAD]"}
               for t, i in added.items()}
    decoder[str(vocab["<|endoftext|>"])] = {
        "content": "<|endoftext|>", "lstrip": False, "normalized": False, "rstrip": False,
        "single_word": False, "special": True}
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"added_tokens_decoder": decoder, "tokenizer_class": "CodeGenTokenizer",
         "model_max_length": 2048, **special}, indent=2))


def tiny_config(vocab_size):
    """psalm_forward_fixtures' tiny PsalmConfig with the byte-level vocabulary: [PAD] and [SEG]
    are its last two ids."""
    cfg = json.loads(json.dumps(pff.CFG))
    cfg["phi"]["vocab_size"] = vocab_size
    cfg["pad_token_id"], cfg["seg_token_id"] = vocab_size - 2, vocab_size - 1
    return cfg


def llava_phi_config(cfg):
    """config.json of the released folder: model_type llava_phi (docs/checkpoints.md)."""
    phi = {k: v for k, v in cfg["phi"].items() if k not in ("model_type", "lm_head_bias")}
    proj = cfg["projector"]
    own = {k: cfg[k] for k in ("image_size", "num_mask_tokens", "condition_mode", "seg_token_id",
                               "pad_token_id", "region_num_points", "swin", "pixel_decoder",
                               "mask_decoder")}
    return {"_name_or_path": "psalm-tiny-released", "architectures": ["PSALM"],
            "model_type": "llava_phi", **phi, "bos_token_id": None, "eos_token_id": None,
            "torch_dtype": "float32", "transformers_version": "4.36.2", "use_cache": True,
            "mm_projector_type": proj["mm_projector_type"],
            "mm_input_embeds": proj["mm_input_embeds"], "mm_hidden_size": proj["mm_input_embeds"],
            "projector_outdim": proj["projector_outdim"],
            "swin_conv_planes": proj["swin_conv_planes"],
            "mm_vision_tower": "model_final_54b88a.pkl", "vision_tower": "model_final_54b88a.pkl",
            "swin_type": "base", "mask_decode_train": True, "mm_use_im_start_end": False,
            "mm_use_im_patch_token": False, "tune_mm_mlp_adapter": False, "psalm": own}


def write_sharded(folder, state):
    """Two shards split by name order, and the index (transformers' layout)."""
    names = sorted(state)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half],
              "model-00002-of-00002.safetensors": names[half:]}
    weight_map, total = {}, 0
    for fname, keys in shards.items():
        save_file({k: state[k] for k in keys}, folder / fname, metadata={"format": "pt"})
        for k in keys:
            weight_map[k] = fname
            total += state[k].numel() * state[k].element_size()
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))


def m2f_state(state):
    """The model's Swin, pixel decoder and decoder under Mask2Former's names (spec §7.3)."""
    out = {}
    for k, v in state.items():
        a = v.numpy()
        if k.startswith("model.vision_tower."):
            out["backbone." + k[len("model.vision_tower."):]] = a
        elif k.startswith("pixel_decoder."):
            rest = k[len("pixel_decoder."):]
            for m in ("adapter_1", "layer_1"):
                if rest is None:
                    break
                if rest == f"{m}.0.bias":
                    assert not v.any(), k
                    rest = None
                elif rest == f"{m}.0.weight":
                    rest = f"{m}.weight"
                elif rest.startswith(f"{m}.1."):
                    rest = f"{m}.norm." + rest[len(f"{m}.1."):]
            if rest is not None:
                out["sem_seg_head.pixel_decoder." + rest] = a
        elif k.startswith("predictor."):
            rest = k[len("predictor."):]
            if not rest.startswith(("SEG_proj.", "CLASS_proj.", "REGION_proj.", "SEG_query_embed.")):
                out["sem_seg_head.predictor." + rest] = a
    rng = np.random.default_rng(3)
    hidden = state["predictor.query_embed.weight"].shape[1]
    out["sem_seg_head.predictor.class_embed.weight"] = rng.standard_normal((134, hidden)).astype(np.float32)
    out["sem_seg_head.predictor.class_embed.bias"] = rng.standard_normal(134).astype(np.float32)
    out["criterion.empty_weight"] = np.ones(134, np.float32)
    return out


def write_phi_folder(folder, cfg, state, vocab, gen):
    """A Hugging Face Phi folder (transformers' current split layout, lm_head with bias) whose
    decoder is the model's and whose vocabulary has 8 rows more than the model's: rows below
    [PAD] are the model's, the rest random."""
    from transformers import PhiConfig, PhiForCausalLM
    c = cfg["phi"]
    rows = c["vocab_size"] + 8
    config = PhiConfig(vocab_size=rows, hidden_size=c["hidden_size"],
                       intermediate_size=c["intermediate_size"],
                       num_hidden_layers=c["num_hidden_layers"],
                       num_attention_heads=c["num_attention_heads"],
                       partial_rotary_factor=c["partial_rotary_factor"], rope_theta=c["rope_theta"],
                       layer_norm_eps=c["layer_norm_eps"], hidden_act=c["hidden_act"],
                       max_position_embeddings=c["max_position_embeddings"],
                       tie_word_embeddings=False, bos_token_id=vocab["<|endoftext|>"],
                       eos_token_id=vocab["<|endoftext|>"])
    torch.manual_seed(1)
    lm = PhiForCausalLM(config)
    keep = cfg["pad_token_id"]
    split = {}
    for k, v in state.items():
        if k.startswith("model.layers.") and ".query_key_value." in k:
            heads = c["num_attention_heads"]
            for slot, proj in enumerate(("q_proj", "k_proj", "v_proj")):
                part = v.reshape((heads, 3, -1) + tuple(v.shape[1:]))[:, slot]
                split[k.replace("query_key_value", proj)] = part.reshape((-1,) + tuple(v.shape[1:]))
        elif k.startswith(("model.layers.", "model.final_layernorm.")):
            split[k] = v
    with torch.no_grad():
        params = dict(lm.named_parameters())
        for k, v in split.items():
            params[k].copy_(v)
        for k in ("model.embed_tokens.weight", "lm_head.weight"):
            params[k].copy_(torch.randn(params[k].shape, generator=gen) * 0.5)
            params[k][:keep].copy_(state[k][:keep])
        params["lm_head.bias"].copy_(torch.randn(rows, generator=gen) * 0.1)
    lm.save_pretrained(folder, safe_serialization=True)
    added = {t: len(vocab) + i for i, t in enumerate(WHITESPACE)}
    write_tokenizer(folder, vocab, added)
    return lm


def init_config(cfg):
    """The PsalmConfig JSON (psalm's layout) `psalm init --config` takes for the tiny model."""
    out = json.loads(json.dumps(cfg))
    out["phi"]["lm_head_bias"] = False
    return out


def main_tiny():
    vocab = tiny_vocab()
    added = {t: len(vocab) + i for i, t in enumerate(WHITESPACE + ["[PAD]", "[SEG]"])}
    cfg = tiny_config(len(vocab) + len(added))
    assert added["[SEG]"] == cfg["seg_token_id"] and added["[PAD]"] == cfg["pad_token_id"]
    pff.SEG, pff.PAD = cfg["seg_token_id"], cfg["pad_token_id"]
    psalm_fixtures.SEG = cfg["seg_token_id"]

    torch.manual_seed(0)
    model = PSALM(cfg)
    randomise(model, torch.Generator().manual_seed(WEIGHT_SEED))
    with torch.no_grad():
        model.pixel_decoder.adapter_1[0].bias.zero_()
        model.pixel_decoder.layer_1[0].bias.zero_()
    model.eval()
    state = released_state_dict(model)

    if OUT.exists():
        shutil.rmtree(OUT)
    folder = OUT / "model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(llava_phi_config(cfg), indent=2) + "\n")
    (folder / "generation_config.json").write_text(json.dumps(
        {"_from_model_config": True, "transformers_version": "4.36.2"}, indent=2) + "\n")
    write_sharded(folder, state)
    write_tokenizer(folder, vocab, added, pad="[PAD]")

    from transformers import GPT2Tokenizer
    tok = GPT2Tokenizer.from_pretrained(str(folder))
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    assert ids[-1] == cfg["seg_token_id"], ids
    (OUT / "tokenizer.json").write_text(json.dumps({"text": TEXT, "ids": ids}) + "\n")

    case, out = pff.choose_case(model, "referring", CASE_SEED)
    save_file(pff.upstream_inputs(case), OUT / "referring.inputs.safetensors")
    save_file(pff.expected_outputs(out), OUT / "referring.expected.safetensors")
    print("referring", case["seed"], case["attn_logit_min_abs"])

    # Reload check: the folder's shards give the same outputs bit for bit.
    probe = PSALM(cfg).eval()
    loaded = {}
    for f in sorted(folder.glob("model-*.safetensors")):
        loaded.update(load_file(f))
    load_released_state_dict(probe, loaded)
    got = pff.expected_outputs(pff.reference_from_files(
        probe, load_file(OUT / "referring.inputs.safetensors")))
    want = load_file(OUT / "referring.expected.safetensors")
    assert all(torch.equal(got[k], want[k]) for k in want)

    init = OUT / "init"
    init.mkdir()
    with open(init / "m2f.pkl", "wb") as f:
        pickle.dump({"model": m2f_state(state), "__author__": "psalm synthetic"}, f, protocol=4)
    proj = {k: v.clone() for k, v in state.items() if k.startswith("model.mm_projector.")}
    torch.save(proj, init / "mm_projector.bin")
    write_phi_folder(init / "phi", cfg, state, vocab, torch.Generator().manual_seed(11))
    (init / "init_config.json").write_text(json.dumps(init_config(cfg), indent=2) + "\n")
    sizes = {str(p.relative_to(OUT)): p.stat().st_size for p in sorted(OUT.rglob("*"))
             if p.is_file()}
    print(f"wrote {OUT}: total {sum(sizes.values())} bytes: {sizes}")


def main_full(out):
    """The released folder at the full shapes with random values (not committed)."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gpt2 = ROOT / "third_party" / "gpt2-bpe"
    vocab = json.loads((gpt2 / "encoder.json").read_text())
    ws = [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]
    added = {t: 50257 + i for i, t in enumerate(ws + ["[PAD]", "[SEG]"])}
    assert added["[SEG]"] == 50296
    cfg = json.loads(json.dumps(pff.CFG))
    # The released shapes (include/psalm/psalm/config.hpp psalm_swin_b_phi_1_5).
    cfg.update({"image_size": 1024, "num_mask_tokens": 100, "seg_token_id": 50296,
                "pad_token_id": 50295, "region_num_points": 256})
    cfg["swin"].update({"image_size": 384, "patch_size": 4, "embed_dim": 128,
                        "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32], "window_size": 12})
    cfg["projector"].update({"mm_input_embeds": 1024, "swin_conv_planes": 2048,
                             "projector_outdim": 2048})
    cfg["phi"].update({"vocab_size": 50297, "hidden_size": 2048, "intermediate_size": 8192,
                       "num_hidden_layers": 24, "num_attention_heads": 32})
    cfg["pixel_decoder"].update({"in_channels": [128, 256, 512, 1024], "conv_dim": 256,
                                 "mask_dim": 256, "transformer_enc_layers": 6,
                                 "transformer_nheads": 8, "transformer_dim_feedforward": 1024,
                                 "enc_n_points": 4, "norm_groups": 32})
    cfg["mask_decoder"].update({"hidden_dim": 256, "in_channels": 256, "num_queries": 100,
                                "nheads": 8, "dim_feedforward": 2048, "dec_layers": 9,
                                "mask_dim": 256})
    torch.manual_seed(0)
    model = PSALM(cfg).eval()  # PyTorch's default initialisation: random values
    state = released_state_dict(model)
    config = llava_phi_config(cfg)
    del config["psalm"]  # the released folder states none of it: the defaults are these shapes
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    write_sharded(out, state)
    shutil.copy(gpt2 / "vocab.bpe", out / "merges.txt")
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (out / "added_tokens.json").write_text(json.dumps(added, ensure_ascii=False, indent=2))
    (out / "special_tokens_map.json").write_text(json.dumps({"pad_token": "[PAD]"}))
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", metavar="OUT", help="write the full-shape folder to OUT")
    args = parser.parse_args()
    if args.full:
        main_full(args.full)
    else:
        main_tiny()
