"""The fixture of `psalm forward --component psalm` (tests/fixtures/psalm/forward/): the whole PSALM
model of tools/reference/psalm_reference.py in eval mode (the projector's BatchNorm on its
running statistics) at a tiny random config, run on upstream-style batch tensors, with the
outputs the component writes. CI never runs this; rerun it after changing a case and commit the
output:

    /work/venv/bin/python tools/reference/psalm_forward_fixtures.py

Writes (float32 on the CPU, one thread):
  config.json               the PsalmConfig JSON (include/psalm/psalm/config.hpp field names);
  weights.safetensors       every tensor under the released names (spec §7.1, Phi's fused
                            query_key_value), float values bfloat16-representable, stored BF16;
  <case>.inputs.safetensors the component's inputs (the names upstream's batches use):
      pixel_values (B, 3, T, T) BF16 (exact), input_ids (B, L) int64 with the sentinels
      (-200 <image>, -201 <seg>, -202 <cls>, -203 <region>, -204 <refer>), attention_mask (B, L)
      (only where the ids are right-padded with [PAD]); class prompts: class_name_ids (B, Lc)
      (every class name's tokens then [SEG], prompt order, -1 padding), cls_indices (B, Lc) (the
      prompt-order class of each entry, -1 padding), random_idx (B, C) (upstream's: the prompt
      position of canonical class c); referring: token_refer_id (B, Lr) (sentence tokens then
      [SEG], -1 padding); interactive: region_masks (K_total, T, T) uint8 or region_points
      (K_total, P, 2), with region_counts (B);
  <case>.expected.safetensors what the component returns: pred_masks (B, Q, Hm, Wm),
      pred_class_logits (B, Q, C) (canonical class order) / pred_seg_logits (B, Q, 1) /
      pred_region_logits (K_total, Q) of the last prediction set, and aux_<i>_pred_... for the
      sets i = 0 (the projected mask tokens) .. dec_layers - 1.

Cases: panoptic (B = 1, the classes shuffled in the prompt), referring (B = 2, sentences of 5
and 3 tokens: token_refer_id and the sequences padded), interactive (B = 1, three visual prompts
given as masks: a 5-pixel point disc (fewer pixels than region_num_points), a box, a stroke;
the component pools them at strided points, a deterministic rule transcribed below), and
interactive_padding (B = 2 with one and three regions given as points drawn by upstream's
rand_sample_repeat; input_ids right-padded with [PAD] and an attention_mask).

Each case's data seed is the first one from its base seed for which every mask logit that
decides a masked-attention mask is at least ATTN_MARGIN away from 0, so float32 rounding cannot
flip a mask. Self-check: the written files are reloaded and the reference recomputes the
expected outputs from them bit for bit.
"""
import json
import pathlib

import torch
from safetensors.torch import load_file, save_file

import psalm_reference as ref
from psalm_fixtures import CLASS_NAMES, bf16, ellipse, interactive_prompt, panoptic_prompt, \
    randomise, rect, referring_prompt, ri, stroke
from psalm_reference import PSALM, load_released_state_dict, released_state_dict, tiny_config

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "psalm" / "forward"
WEIGHT_SEED = 20240815
ATTN_MARGIN = 1e-4


def forward_config():
    """The parity fixture's tiny config with narrower Swin stages and fewer mask tokens and
    decoder layers, so that the committed outputs stay small (masks are T/2 = 32 px)."""
    cfg = tiny_config()
    cfg["num_mask_tokens"] = 4
    cfg["swin"].update({"embed_dim": 4, "num_heads": [1, 1, 2, 2]})
    cfg["projector"].update({"mm_input_embeds": 32, "swin_conv_planes": 8})
    cfg["pixel_decoder"]["in_channels"] = [4, 8, 16, 32]
    cfg["mask_decoder"].update({"num_queries": 4, "dec_layers": 2})
    return cfg


CFG = forward_config()
T = CFG["image_size"]
SEG = CFG["seg_token_id"]
PAD = CFG["pad_token_id"]
P_REGION = CFG["region_num_points"]
assert T == 64  # the shape helpers of psalm_fixtures draw on a 64 x 64 plane


def strided_points(mask, num_points):
    """psalm::strided_region_points (include/psalm/psalm/region_pooling.hpp): the row-major
    nonzero pixels of mask (H, W), rank floor(i * n / P) for i = 0 .. P-1, as (x, y) =
    (col / W, row / H) in float32 -> (P, 2)."""
    h, w = mask.shape
    px = mask.flatten().nonzero().flatten()
    n = px.numel()
    assert n > 0, "empty visual prompt"
    chosen = px[torch.tensor([i * n // num_points for i in range(num_points)])]
    x = (chosen % w).to(torch.float32) / torch.tensor(float(w))
    y = torch.div(chosen, w, rounding_mode="floor").to(torch.float32) / torch.tensor(float(h))
    return torch.stack((x, y), 1)


def padded(rows, value):
    """Right-pads lists of ints to the longest -> (B, N) int64."""
    n = max(len(r) for r in rows)
    return torch.tensor([list(r) + [value] * (n - len(r)) for r in rows], dtype=torch.int64)


def upstream_inputs(case):
    """The component's inputs of a case (see the docstring)."""
    prompts = case["prompts"]
    t = {"pixel_values": case["pixels"].to(torch.bfloat16).contiguous(),
         "input_ids": padded([p["ids"] for p in prompts], PAD)}
    lengths = [len(p["ids"]) for p in prompts]
    if len(set(lengths)) > 1:
        t["attention_mask"] = padded([[1] * n for n in lengths], 0)
    if case["task"] == "panoptic":
        names, index = [], []
        for p in prompts:
            names.append([tok for c in p["class_name_ids"] for tok in c + [SEG]])
            index.append([i for i, c in enumerate(p["class_name_ids"]) for _ in c + [SEG]])
        t["class_name_ids"] = padded(names, -1)
        t["cls_indices"] = padded(index, -1)
        t["random_idx"] = torch.stack([torch.argsort(torch.tensor(p["prompt_order"]))
                                       for p in prompts]).to(torch.int64)
    elif case["task"] == "referring":
        t["token_refer_id"] = padded([p["refer_ids"] + [SEG] for p in prompts], -1)
    else:
        t["region_counts"] = torch.tensor([len(p) for p in case["region_points"]],
                                          dtype=torch.int64)
        if case["region_masks"] is not None:
            t["region_masks"] = torch.cat(case["region_masks"]).to(torch.uint8).contiguous()
        else:
            t["region_points"] = torch.cat(case["region_points"]).contiguous()
    return t


def make_case(name, gen):
    b = {"panoptic": 1, "referring": 2, "interactive": 1, "interactive_padding": 2}[name]
    case = {"name": name, "pixels": bf16(torch.randn(b, 3, T, T, generator=gen)),
            "region_masks": None, "region_points": None}
    if name == "panoptic":
        case["task"] = "panoptic"
        case["prompts"] = [panoptic_prompt([2, 4, 0, 3, 1])]
    elif name == "referring":
        case["task"] = "referring"
        case["prompts"] = [referring_prompt([60, 61, 62, 63, 64]), referring_prompt([65, 66, 67])]
    elif name == "interactive":
        case["task"] = "interactive"
        cy, cx = ri(gen, 10, 54), ri(gen, 10, 54)
        disc = ellipse(cy, cx, 1, 1)  # 5 pixels < region_num_points: some repeat
        y0, x0 = ri(gen, 0, 40), ri(gen, 0, 40)
        box = rect(y0, x0, y0 + ri(gen, 8, 24), x0 + ri(gen, 8, 24))
        sy, sx = ri(gen, 12, 52), ri(gen, 12, 52)
        line = stroke([(sy - 8, sx - 10), (sy + 3, sx), (sy - 2, sx + 9)], 1.0)
        masks = torch.stack([disc, box, line])
        assert 0 < disc.sum() < P_REGION and (masks.flatten(1).sum(1) > 0).all()
        case["prompts"] = [interactive_prompt(3)]
        case["region_masks"] = [masks]
        case["region_points"] = [torch.stack([strided_points(m, P_REGION) for m in masks])]
    elif name == "interactive_padding":
        case["task"] = "interactive"
        planes = [[ellipse(ri(gen, 16, 48), ri(gen, 16, 48), ri(gen, 4, 10), ri(gen, 4, 10))],
                  [rect(4, 6, 20, 30), ellipse(ri(gen, 30, 50), ri(gen, 30, 50), 6, 9),
                   ellipse(ri(gen, 8, 56), ri(gen, 8, 56), 2, 2)]]
        case["prompts"] = [interactive_prompt(len(p)) for p in planes]
        case["region_points"] = [torch.stack([ref.sample_region_points(m, P_REGION, gen)
                                              for m in p]) for p in planes]
    else:
        raise ValueError(name)
    return case


def run(model, case):
    with torch.no_grad():
        return model(case["pixels"], case["prompts"], case["task"], case["region_points"])


def expected_outputs(out):
    """PSALM.forward's prediction sets under the component's output names."""
    names = {"pred_masks": "pred_masks", "pred_class_name_logits": "pred_class_logits",
             "pred_SEG_logits": "pred_seg_logits"}
    t = {}
    sets = out["predictions"]
    for s, p in enumerate(sets):
        prefix = "" if s + 1 == len(sets) else f"aux_{s}_"
        for key, name in names.items():
            if p[key] is not None:
                t[prefix + name] = p[key].detach().to(torch.float32).contiguous()
        if p["pred_region_logits"] is not None:
            t[prefix + "pred_region_logits"] = torch.cat(p["pred_region_logits"]).contiguous()
    return t


def choose_case(model, name, base_seed):
    for attempt in range(500):
        case = make_case(name, torch.Generator().manual_seed(base_seed + attempt))
        out = run(model, case)
        margin = min(float(x.abs().min()) for x in out["attn_logits_used"])
        if margin >= ATTN_MARGIN:
            case["seed"], case["attn_logit_min_abs"] = base_seed + attempt, margin
            return case, out
    raise RuntimeError(f"{name}: no seed with the required margin")


def reference_from_files(model, inputs):
    """The reference run again from a written inputs file: the prompts rebuilt from the
    upstream-style tensors (the inverse of upstream_inputs)."""
    ids, b = inputs["input_ids"], inputs["input_ids"].shape[0]
    mask = inputs.get("attention_mask", torch.ones_like(ids))
    prompts, task = [], None
    for s in range(b):
        row = ids[s][mask[s] != 0].tolist()
        p = {"ids": row, "class_name_ids": [], "refer_ids": [], "prompt_order": []}
        if ref.CLS_TOKEN_INDEX in row:
            task = "panoptic"
            names, cls = inputs["class_name_ids"][s].tolist(), inputs["cls_indices"][s].tolist()
            for c in range(max(cls) + 1):
                p["class_name_ids"].append([t for t, i in zip(names, cls) if i == c][:-1])
            p["prompt_order"] = torch.argsort(inputs["random_idx"][s]).tolist()
        elif ref.REFER_TOKEN_INDEX in row:
            task = "referring"
            p["refer_ids"] = [t for t in inputs["token_refer_id"][s].tolist() if t != -1][:-1]
        else:
            task = "interactive"
        prompts.append(p)
    points = None
    if task == "interactive":
        counts = inputs["region_counts"].tolist()
        if "region_points" in inputs:
            points = list(inputs["region_points"].split(counts))
        else:
            points = [torch.stack([strided_points(m, P_REGION) for m in ms])
                      for ms in inputs["region_masks"].split(counts)]
    with torch.no_grad():
        return model(inputs["pixel_values"].to(torch.float32), prompts, task, points)


def main():
    torch.manual_seed(0)  # module construction draws default inits; all are overwritten
    model = PSALM(CFG)
    randomise(model, torch.Generator().manual_seed(WEIGHT_SEED))
    model.eval()
    state = released_state_dict(model)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "config.json").write_text(json.dumps(CFG, indent=1) + "\n")
    save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v
               for k, v in state.items()}, OUT / "weights.safetensors")
    cases = {}
    for i, name in enumerate(("panoptic", "referring", "interactive", "interactive_padding")):
        case, out = choose_case(model, name, 5000 + 1000 * i)
        save_file(upstream_inputs(case), OUT / f"{name}.inputs.safetensors")
        save_file(expected_outputs(out), OUT / f"{name}.expected.safetensors")
        cases[name] = {"seed": case["seed"], "attn_logit_min_abs": case["attn_logit_min_abs"]}
        print(name, cases[name])

    # Reload check: weights and inputs from the files give the expected outputs bit for bit.
    probe = PSALM(CFG).eval()
    load_released_state_dict(probe, {k: v.to(torch.float32) if v.is_floating_point() else v
                                     for k, v in load_file(OUT / "weights.safetensors").items()})
    for name in cases:
        got = expected_outputs(reference_from_files(
            probe, load_file(OUT / f"{name}.inputs.safetensors")))
        want = load_file(OUT / f"{name}.expected.safetensors")
        assert got.keys() == want.keys(), (name, sorted(got), sorted(want))
        for k in want:
            assert torch.equal(got[k], want[k]), f"{name}: {k} differs after reload"
    print("reload check: the written fixture recomputes bit for bit")
    sizes = {f.name: f.stat().st_size for f in sorted(OUT.iterdir())}
    print(f"wrote {OUT}: total {sum(sizes.values())} bytes: {sizes}")


if __name__ == "__main__":
    main()
