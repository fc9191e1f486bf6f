"""The PSALM parity fixture (tests/fixtures/psalm/parity/): the whole model of
tools/reference/psalm_reference.py at a tiny random config, one batch of each task type, with
every random choice (region points, matcher points, importance-sampling points) stored so the
C++ side can feed the same ones. CI never runs this; rerun it after changing a case and commit
the output:

    tools/reference/.venv/bin/python tools/reference/psalm_fixtures.py

Writes (float32 forward and backward on the CPU, one thread; two runs give identical bytes):
  config.json               the PsalmConfig JSON (include/psalm/psalm/config.hpp field names);
  weights.safetensors       every parameter and buffer under the released names (spec §7.1):
                            Phi in the fused `query_key_value` layout ([heads, 3, head_dim]
                            rows), Swin under Mask2Former's names (fused attn.qkv, int64
                            relative_position_index), the projector's BatchNorm buffers
                            (num_batches_tracked int64). Float values are bfloat16-representable
                            and stored as BF16 (read them as float32: exact);
  <case>.safetensors        one per case (panoptic, referring, gres, interactive): inputs, the
                            stored random points, intermediates and their gradients, every
                            prediction set, every loss term, and the gradients of the parameters
                            where the tasks differ (the splice and the condition heads) (see
                            cases.json "tensors");
  grad_sum.safetensors      the gradient of EVERY parameter (Swin included, all trainable) of
                            the sum of the four cases' weighted totals (every parameter per case
                            would make the fixture 3 MB larger);
  cases.json                every case's prompts (unexpanded, with sentinels), expanded layouts,
                            targets' labels, matchings, loss values, the margins that make the
                            discrete choices robust, and the name / shape / meaning of every
                            tensor.

Cases (B = 2 each): panoptic (C = 5, "background" last; the samples' <cls> orders shuffled
differently; N = 3 with labels [0, 2, 2] and N = 2), referring (sentences of 5 and 3 tokens:
right padding; one target each), gres (sample 0: two targets; sample 1: NO target), interactive
(sample 0: a small disc (fewer pixels than region_num_points: the repeat branch) and a box;
sample 1: a scribble-like stroke and a mask; one target per region in region order).

No-target behaviour (upstream crashes, its issue #20), which the C++ side follows: a sample
with N_b = 0 has no matched pair (the matcher is not run on it and draws no points), each of its
queries gets target 0 in the referring / region BCE (class CE: "background"), it contributes no
mask / dice term, and num_masks = max(1, total targets of the batch).

Each case's data seed is the first one from its base seed for which every discrete choice has
a margin: |every resized mask logit feeding an attention mask| >= ATTN_MARGIN, the optimal
assignment of every (set, sample) beats the second best by >= MATCH_MARGIN (brute force over
all assignments), and the importance-sampling top-k of every matched pair is separated from
the rest by >= TOPK_MARGIN in -|logit|. The achieved margins are in cases.json, with the
deviation of the same computation in float64 (the discrete choices are checked to agree).

The criterion is psalm_criterion_reference.py (helper "criterion"'s transcription; its loss_total
sums the final set's terms first, then the auxiliary sets', as upstream's dict order).

Self-checks: before anything is written, the splice / pooling / condition code and the
criterion's terms pass torch.autograd.gradcheck in float64 on small inputs, and every case is
recomputed in float64 (same matching and importance-sampled points required); after writing,
the fixture is reloaded from the files and recomputed, bit for bit.
"""
import itertools
import json
import math
import pathlib

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import psalm_criterion_reference as pcr
import psalm_reference as ref
from psalm_reference import PSALM, released_state_dict, load_released_state_dict, tiny_config

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "psalm" / "parity"
CFG = tiny_config()
T = CFG["image_size"]
Q = CFG["num_mask_tokens"]
SEG = CFG["seg_token_id"]
P_REGION = CFG["region_num_points"]
SETS = CFG["mask_decoder"]["dec_layers"] + 1
WEIGHT_SEED = 20240701
ATTN_MARGIN = 1e-4
MATCH_MARGIN = 1e-3
TOPK_MARGIN = 1e-4
SWIN = "model.vision_tower."


def bf16(t):
    return t.to(torch.bfloat16).to(t.dtype)


# --- weights --------------------------------------------------------------------------------
def randomise(model, gen):
    """Non-trivial bfloat16-representable values everywhere: matrices N(0, 1/fan_in), biases
    N(0, 0.1^2), norm scales 1 + N(0, 0.2^2), BN running statistics away from (0, 1), Swin bias
    tables N(0, 0.25), seg_query and the word embeddings N(0, 0.25), MSDeformAttn sampling
    offsets = Deformable DETR's grid + N(0, 0.09)."""
    def rn(shape, scale=1.0, shift=0.0):
        return shift + scale * torch.randn(shape, generator=gen)

    done = set()
    with torch.no_grad():
        for mname, m in model.named_modules():
            if isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)):
                m.weight.copy_(rn(m.weight.shape, 0.2, 1.0))
                m.bias.copy_(rn(m.bias.shape, 0.1))
                done.update({id(m.weight), id(m.bias)})
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.copy_(bf16(rn(m.running_mean.shape, 0.3)))
                    m.running_var.copy_(bf16(0.5 + torch.rand(m.running_var.shape, generator=gen)))
                    m.num_batches_tracked.fill_(3)
            elif isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.copy_(rn(m.weight.shape, 1.0 / m.weight[0].numel() ** 0.5))
                done.add(id(m.weight))
                if m.bias is not None:
                    if mname.endswith("sampling_offsets"):
                        m.bias.add_(rn(m.bias.shape, 0.3))
                    else:
                        m.bias.copy_(rn(m.bias.shape, 0.1))
                    done.add(id(m.bias))
            elif isinstance(m, nn.MultiheadAttention):
                m.in_proj_weight.copy_(rn(m.in_proj_weight.shape, 1.0 / m.embed_dim ** 0.5))
                m.in_proj_bias.copy_(rn(m.in_proj_bias.shape, 0.1))
                done.update({id(m.in_proj_weight), id(m.in_proj_bias)})
        for name, p in model.named_parameters():
            if id(p) not in done:
                scale = 0.5 if ("embed_tokens" in name or name == "seg_query"
                                or "relative_position_bias_table" in name) else 1.0
                p.copy_(rn(p.shape, scale))
            p.copy_(bf16(p))


def build_model():
    torch.manual_seed(0)  # module construction draws default inits; all are overwritten
    model = PSALM(CFG)
    randomise(model, torch.Generator().manual_seed(WEIGHT_SEED))
    return model.train()


# --- cases ----------------------------------------------------------------------------------
def grid():
    ys, xs = torch.meshgrid(torch.arange(T, dtype=torch.float32),
                            torch.arange(T, dtype=torch.float32), indexing="ij")
    return ys, xs


def ellipse(cy, cx, ry, rx):
    ys, xs = grid()
    return (((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1.0).float()


def rect(y0, x0, y1, x1):
    m = torch.zeros(T, T)
    m[y0:y1, x0:x1] = 1.0
    return m


def stroke(points, radius):
    """A polyline through `points` ((row, col) pairs), every pixel within `radius` of it."""
    ys, xs = grid()
    m = torch.zeros(T, T, dtype=torch.bool)
    for (y0, x0), (y1, x1) in zip(points[:-1], points[1:]):
        dy, dx = y1 - y0, x1 - x0
        t = (((ys - y0) * dy + (xs - x0) * dx) / max(dy * dy + dx * dx, 1e-9)).clamp(0, 1)
        d2 = (ys - (y0 + t * dy)) ** 2 + (xs - (x0 + t * dx)) ** 2
        m |= d2 <= radius * radius
    return m.float()


def ri(gen, lo, hi):
    return int(torch.randint(lo, hi, (1,), generator=gen))


# Word ids (arbitrary, < 98) standing in for the template text of spec §2.
SYS = [11, 12, 13, 14]                # "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n"
IMG_PRE = [21, 22, 23]                # "This is an image"
INST_END = [31, 32]                   # " [/INST]"
ANSWER = [33, 34, 35]                 # " \nSure, the segmentation result is"
TAIL = [36, 37]                       # " " <|endoftext|>
COMMA, PERIOD, NEWLINE = 28, 29, 30
CLASS_NAMES = [[40], [41, 42], [43, 44, 45], [46], [47, 48]]  # class 4 = "background"


def panoptic_prompt(order):
    ids = SYS + IMG_PRE + [ref.IMAGE_TOKEN_INDEX, 24, 25, 26, NEWLINE, 27]
    for i in range(len(order)):
        ids += [ref.CLS_TOKEN_INDEX, COMMA if i + 1 < len(order) else PERIOD]
    ids += [NEWLINE] + INST_END + ANSWER + [ref.SEG_TOKEN_INDEX] + TAIL
    return {"ids": ids, "class_name_ids": [CLASS_NAMES[c] for c in order], "refer_ids": [],
            "prompt_order": list(order), "labels": []}


def referring_prompt(sentence):
    ids = SYS + IMG_PRE + [ref.IMAGE_TOKEN_INDEX, 50, 51, 52, NEWLINE, ref.REFER_TOKEN_INDEX]
    ids += INST_END + ANSWER + [ref.SEG_TOKEN_INDEX] + TAIL
    return {"ids": ids, "class_name_ids": [], "refer_ids": list(sentence), "prompt_order": [],
            "labels": []}


def interactive_prompt(k):
    ids = SYS + IMG_PRE + [ref.IMAGE_TOKEN_INDEX, 80, 81, 82, NEWLINE, 83, 84, 85]
    for i in range(k):
        ids += [ref.REGION_TOKEN_INDEX, COMMA if i + 1 < k else PERIOD]
    ids += [NEWLINE] + INST_END + [NEWLINE, SEG, ref.SEG_TOKEN_INDEX] + TAIL
    return {"ids": ids, "class_name_ids": [], "refer_ids": [], "prompt_order": [], "labels": []}


def paint(gen, n):
    """n non-overlapping segments: rectangles / ellipses painted in order on an id map (drawn
    again until every segment keeps more than 40 pixels)."""
    for _ in range(100):
        idmap = torch.full((T, T), -1)
        for i in range(n):
            if i % 2 == 0:
                y0, x0 = ri(gen, 0, T - 20), ri(gen, 0, T - 20)
                m = rect(y0, x0, y0 + ri(gen, 12, 30), x0 + ri(gen, 12, 30))
            else:
                m = ellipse(ri(gen, 12, T - 12), ri(gen, 12, T - 12), ri(gen, 6, 14),
                            ri(gen, 6, 14))
            idmap[m > 0] = i
        masks = torch.stack([(idmap == i).float() for i in range(n)])
        if (masks.flatten(1).sum(1) > 40).all():
            return masks
    raise RuntimeError("paint: no layout keeps every segment")


def make_case(name, gen):
    pixels = bf16(torch.randn(2, 3, T, T, generator=gen))
    case = {"name": name, "pixels": pixels, "region_masks": None}
    if name == "panoptic":
        case["task"] = "panoptic"
        orders = [[3, 0, 4, 1, 2], [1, 4, 2, 0, 3]]
        case["prompts"] = [panoptic_prompt(o) for o in orders]
        case["targets"] = [{"masks": paint(gen, 3), "labels": torch.tensor([0, 2, 2])},
                           {"masks": paint(gen, 2), "labels": torch.tensor([1, 3])}]
    elif name in ("referring", "gres"):
        case["task"] = name
        sentences = [[60, 61, 62, 63, 64], [65, 66, 67]] if name == "referring" else \
            [[70, 71, 72, 73], [74, 75, 76, 77, 78, 79]]
        case["prompts"] = [referring_prompt(s) for s in sentences]
        counts = [1, 1] if name == "referring" else [2, 0]
        case["targets"] = [{"masks": paint(gen, n) if n else torch.zeros(0, T, T),
                            "labels": None} for n in counts]
    elif name == "interactive":
        case["task"] = "interactive"
        # sample 0: an ellipse prompted by a small disc (13 px < 16 points), a box prompted by
        # a box around it; sample 1: an ellipse prompted by a stroke, a blob by a mask.
        cy, cx = ri(gen, 14, 26), ri(gen, 14, 50)
        a = ellipse(cy, cx, 9, 12)
        py, px = cy + ri(gen, -3, 4), cx + ri(gen, -4, 5)
        disc = ellipse(py, px, 2, 2)
        y0, x0 = ri(gen, 36, 44), ri(gen, 4, 30)
        b = rect(y0, x0, y0 + 16, x0 + 22) * (1 - a)
        box = rect(y0 + 1, x0 - 1, y0 + 15, x0 + 23)
        cy2, cx2 = ri(gen, 16, 30), ri(gen, 16, 48)
        c = ellipse(cy2, cx2, 12, 14)
        scribble = stroke([(cy2 - 6, cx2 - 8), (cy2 + 2, cx2 - 1), (cy2 - 1, cx2 + 6),
                           (cy2 + 5, cx2 + 9)], 1.0) * c
        d = ((ellipse(50, 20, 7, 12) + ellipse(46, 44, 9, 8)) > 0).float() * (1 - c)
        mask_prompt = d * ellipse(48, 30, 9, 22)
        case["prompts"] = [interactive_prompt(2), interactive_prompt(2)]
        case["region_masks"] = [torch.stack([disc, box]), torch.stack([scribble, mask_prompt])]
        case["targets"] = [{"masks": torch.stack([a, b]), "labels": None},
                           {"masks": torch.stack([c, d]), "labels": None}]
        for rm in case["region_masks"]:
            assert (rm.flatten(1).sum(1) > 0).all()
        assert case["region_masks"][0][0].sum() < P_REGION  # the repeat branch
    else:
        raise ValueError(name)
    if case["region_masks"] is not None:
        case["region_points"] = [torch.stack([ref.sample_region_points(m, P_REGION, gen)
                                              for m in rm]) for rm in case["region_masks"]]
    else:
        case["region_points"] = None
    case["matcher_points"] = [[ref.sample_matcher_points(CFG["matcher"]["num_points"], gen)
                               if t["masks"].shape[0] > 0 else None for t in case["targets"]]
                              for _ in range(SETS)]
    case["gen"] = gen  # the criterion points are drawn once the matched pair counts are known
    return case


# --- running and margins --------------------------------------------------------------------
def forward(model, case):
    return model(case["pixels"], case["prompts"], case["task"], case["region_points"])


def matchings(out, case):
    """Every set's matching (pcr.hungarian_match, the stored matcher points), as tensors."""
    res = []
    kind = ref.TASK_KIND[case["task"]]
    for s, p in enumerate(out["predictions"]):
        pts = torch.stack([torch.zeros(CFG["matcher"]["num_points"], 2) if x is None else x
                           for x in case["matcher_points"][s]])
        m = pcr.hungarian_match(p["pred_masks"], p["pred_class_name_logits"]
                                if kind == "classes" else None, case["targets"], pts,
                                CFG["matcher"])
        res.append([(torch.as_tensor(i), torch.as_tensor(j)) for i, j in m])
    return res


def criterion_points(case, matches):
    pts = []
    for s in range(SETS):
        r = sum(int(i.numel()) for i, _ in matches[s])
        pts.append(ref.sample_criterion_points(r, CFG["criterion"], case["gen"]))
    return pts


def assignment_gap(cost):
    """Second-best minus best total cost over every injective target -> query assignment."""
    c = cost.double().numpy()
    q, n = c.shape
    totals = sorted(sum(c[p[j], j] for j in range(n)) for p in itertools.permutations(range(q), n))
    return totals[1] - totals[0]


def margins(out, coords_unc, case):
    attn = min(float(x.abs().min()) for x in out["attn_logits_used"])
    blocked_rows = sum(int(((x < 0).flatten(2).all(-1)).sum()) for x in out["attn_logits_used"])
    costs = [c for s, p in enumerate(out["predictions"])
             for c in ref.match_costs(p, case["targets"], case["matcher_points"][s], CFG,
                                      case["task"]) if c is not None]
    match = min(assignment_gap(c) for c in costs)
    k = int(CFG["criterion"]["importance_sample_ratio"] * CFG["criterion"]["num_points"])
    topk = math.inf
    for unc in coords_unc:
        if unc is None:
            continue
        srt = unc.sort(1, descending=True)[0]
        topk = min(topk, float((srt[:, k - 1] - srt[:, k]).min()))
    return {"attn_logit_min_abs": attn, "assignment_gap_min": match,
            "topk_uncertainty_gap_min": topk, "fully_blocked_query_rows": blocked_rows}


def choose_case(model, name, base_seed):
    for attempt in range(500):
        seed = base_seed + attempt
        case = make_case(name, torch.Generator().manual_seed(seed))
        with torch.no_grad():
            out = forward(model, case)
        matches = matchings(out, case)
        cpoints = criterion_points(case, matches)
        unc = ref.pair_uncertainties(out["predictions"], matches, cpoints)
        m = margins(out, unc, case)
        if (m["attn_logit_min_abs"] >= ATTN_MARGIN and m["assignment_gap_min"] >= MATCH_MARGIN
                and m["topk_uncertainty_gap_min"] >= TOPK_MARGIN):
            case["criterion_points"] = cpoints
            case["seed"] = seed
            case["margins"] = m
            return case
    raise RuntimeError(f"{name}: no seed with the required margins")


def run_case(model, case, state):
    """Forward + criterion + backward from the stored weights."""
    load_released_state_dict(model, state)
    model.zero_grad(set_to_none=True)
    out = model(case["pixels"], case["prompts"], case["task"], case["region_points"],
                retain_grads=True)
    losses, total, matches, coords = ref.criterion(out["predictions"], case["targets"],
                                                   case["task"], case["matcher_points"],
                                                   case["criterion_points"], CFG)
    total.backward()
    return out, losses, total, matches, coords


# --- writing --------------------------------------------------------------------------------
# Parameters whose gradient is stored per case (the splice and the condition heads, where the
# tasks differ); every parameter's gradient of the sum of the cases is in grad_sum.safetensors.
PER_CASE_GRADS = ("model.embed_tokens.weight", "seg_query", "seg_query_projector.",
                  "SEG_token_projector.", "class_name_projector.", "region_projector.")


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def case_tensors(case, out, losses, total, coords, grads):
    t = {"pixels": case["pixels"].to(torch.bfloat16).contiguous()}
    for b, tg in enumerate(case["targets"]):
        if tg["masks"].shape[0]:
            t[f"targets.{b}.masks"] = tg["masks"].to(torch.uint8).contiguous()
    if case["region_masks"] is not None:
        for b, (rm, rp) in enumerate(zip(case["region_masks"], case["region_points"])):
            t[f"region_masks.{b}"] = rm.to(torch.uint8).contiguous()
            t[f"region_points.{b}"] = f32(rp)
            t[f"region_features.{b}"] = f32(out["region_features"][b])
    for s in range(SETS):
        for b, p in enumerate(case["matcher_points"][s]):
            if p is not None:
                t[f"matcher_points.{s}.{b}"] = f32(p)
        over, fresh = case["criterion_points"][s]
        if over.shape[0]:
            t[f"criterion_points.{s}.oversampled"] = f32(over)
            t[f"criterion_points.{s}.fresh"] = f32(fresh)
            t[f"criterion_points.{s}.selected"] = f32(coords[s])
    t["res5"] = f32(out["res"][3])
    acts = {"image_tokens": out["image_tokens"], "inputs_embeds": out["inputs_embeds"],
            "hidden": out["hidden"], "queries": out["queries"],
            "class_conditions": out["class_conditions"],
            "referring_conditions": out["referring_conditions"]}
    if out["region_conditions"] is not None:
        for b, r in enumerate(out["region_conditions"]):
            acts[f"region_conditions.{b}"] = r
    for k, v in acts.items():
        if v is not None:
            t[k] = f32(v)
            t[f"grad_act.{k}"] = f32(v.grad)
    t["attention_mask"] = out["attention_mask"].to(torch.int64).contiguous()
    for i, m in enumerate(out["attn_masks_used"]):
        t[f"attn_mask.{i}"] = m.to(torch.uint8).contiguous()
    for s, p in enumerate(out["predictions"]):
        t[f"out.{s}.pred_masks"] = f32(p["pred_masks"])
        for key in ("pred_class_name_logits", "pred_SEG_logits"):
            if p[key] is not None:
                t[f"out.{s}.{key}"] = f32(p[key])
        if p["pred_region_logits"] is not None:
            for b, r in enumerate(p["pred_region_logits"]):
                t[f"out.{s}.pred_region_logits.{b}"] = f32(r)
    for k, v in losses.items():
        t[f"loss.{k}"] = f32(v).reshape(1)
    t["loss_total"] = f32(total).reshape(1)
    for k, g in grads.items():
        if k.startswith(PER_CASE_GRADS):
            t[f"grad.{k}"] = f32(g)
    return t


def case_json(case, out, losses, total, matches):
    samples = []
    for b, (p, tg) in enumerate(zip(case["prompts"], case["targets"])):
        lay = out["layouts"][b]
        n = int(out["attention_mask"][b].sum())
        samples.append({
            "prompt": p,
            "num_targets": int(tg["masks"].shape[0]),
            "target_labels": None if tg["labels"] is None else tg["labels"].tolist(),
            "num_regions": 0 if case["region_masks"] is None
            else int(case["region_masks"][b].shape[0]),
            "expanded_length": n,
            "layout": {k: v[:n] for k, v in lay.items()},
        })
    match_json, pairs = [], []
    for s in range(SETS):
        match_json.append([{"pred": i.tolist(), "tgt": j.tolist()} for i, j in matches[s]])
        pairs.append([[b, int(q), int(n)] for b, (i, j) in enumerate(matches[s])
                      for q, n in zip(i.tolist(), j.tolist())])
    return {
        "name": case["name"], "task": case["task"], "file": f"{case['name']}.safetensors",
        "seed": case["seed"], "batch": len(case["prompts"]),
        "padded_length": int(out["inputs_embeds"].shape[1]),
        "samples": samples,
        "num_masks": max(1.0, float(sum(t["masks"].shape[0] for t in case["targets"]))),
        "matching": match_json,
        "matched_pairs": pairs,
        "losses": {k: float(v) for k, v in losses.items()},
        "loss_total": float(total),
        "margins": case["margins"],
    }


TENSOR_DOCS = {
    "pixels": "(B, 3, T, T) BF16: the normalised input images (read as float32: exact)",
    "targets.{b}.masks": "(N_b, T, T) U8 0/1: sample b's target masks (absent when N_b = 0); "
                         "labels in cases.json samples[b].target_labels (panoptic only)",
    "region_masks.{b}": "(K_b, T, T) U8 0/1: the visual prompts of sample b (interactive)",
    "region_points.{b}": "(K_b, P_r, 2) F32: the sampled prompt pixels, (x, y) = (col / T, "
                         "row / T), P_r = region_num_points; pooling = grid_sample(bilinear, "
                         "zeros, align_corners=True) of the sample's image tokens viewed as a "
                         "G x G grid at 2 * p - 1, mean over the points",
    "region_features.{b}": "(K_b, D) F32: the pooled region vectors spliced at the <region> "
                           "positions",
    "matcher_points.{s}.{b}": "(P_m, 2) F32: the matcher's uniform points for prediction set s, "
                              "sample b, (x, y) in [0, 1], shared by all its predictions and "
                              "targets (point_sample = grid_sample(bilinear, zeros, "
                              "align_corners=False) at 2 * p - 1); absent for N_b = 0",
    "criterion_points.{s}.oversampled": "(R_s, oversample_ratio * P, 2) F32: the uniform points "
                                        "of importance sampling for set s, row r for the r-th "
                                        "pair of cases.json matched_pairs[s]",
    "criterion_points.{s}.fresh": "(R_s, P - int(importance_sample_ratio * P), 2) F32: the "
                                  "fresh uniform points appended after the top-k",
    "criterion_points.{s}.selected": "(R_s, P, 2) F32 (debugging): the points the mask losses "
                                     "used: the top int(importance_sample_ratio * P) oversampled "
                                     "points by -|logit| (torch.topk order) then the fresh ones",
    "res5": "(B, 8 * embed_dim, 2G, 2G) F32: Swin's last stage (after norm3), the projector input",
    "image_tokens": "(B, G*G, D) F32: projector output (token = row * G + col)",
    "inputs_embeds": "(B, Lb, D) F32: the spliced LLM input, right padding = 0",
    "attention_mask": "(B, Lb) I64: 1 on tokens, 0 on padding",
    "hidden": "(B, Lb, D) F32: Phi's last_hidden_state (after final_layernorm)",
    "queries": "(B, Q, Dm) F32: seg_query_projector(hidden at the mask tokens)",
    "class_conditions": "(B, C, Dm) F32: class_name_projector(mean of hidden over each <cls> "
                        "expansion), canonical class order (panoptic)",
    "referring_conditions": "(B, 1, Dm) F32: SEG_token_projector(mean of hidden over the "
                            "<refer> expansion) (referring, gres)",
    "region_conditions.{b}": "(K_b, Dm) F32: region_projector(hidden at the <region> "
                             "positions) (interactive)",
    "grad_act.{x}": "d loss_total / d x for x = image_tokens, inputs_embeds, hidden, queries "
                    "and the case's conditions (same shapes as x)",
    "attn_mask.{i}": "(B * nheads, Q, H_l * W_l) U8: the boolean mask (1 = blocked) decoder "
                     "layer i used (after the all-blocked-rows rule), l = i mod 3",
    "out.{s}.pred_masks": "(B, Q, Hm, Wm) F32: mask logits of prediction set s (s = 0: from "
                          "the projected mask tokens; s = dec_layers: the final set)",
    "out.{s}.pred_class_name_logits": "(B, Q, C) F32 (panoptic)",
    "out.{s}.pred_SEG_logits": "(B, Q, 1) F32 (referring, gres)",
    "out.{s}.pred_region_logits.{b}": "(K_b, Q) F32 (interactive)",
    "loss.{name}": "(1) F32: an UNWEIGHTED loss term by upstream name: loss_mask, loss_dice, "
                   "loss_class_name_class, loss_SEG_class, loss_region_class for the final set, "
                   "with suffix _s for the auxiliary set s < dec_layers; absent when the task "
                   "has no such head",
    "loss_total": "(1) F32: sum over present terms of weight * term (class terms x "
                  "class_weight, loss_mask x mask_weight, loss_dice x dice_weight)",
    "grad.{param}": "F32, shape of the released parameter: d loss_total / d parameter for the "
                    "parameters named in per_case_grads (zeros where the task does not use "
                    "them)",
}


def write_all(state, cases, results):
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    (OUT / "config.json").write_text(json.dumps(CFG, indent=2) + "\n")
    weights = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v).contiguous()
               for k, v in state.items()}
    save_file(weights, str(OUT / "weights.safetensors"))
    grad_sum = {}
    entries = []
    for case, (out, losses, total, matches, coords, grads) in zip(cases, results):
        save_file(case_tensors(case, out, losses, total, coords, grads),
                  str(OUT / f"{case['name']}.safetensors"))
        for k, g in grads.items():
            grad_sum[k] = grad_sum[k] + g if k in grad_sum else g.clone()
        entries.append(case_json(case, out, losses, total, matches))
    save_file({f"grad.{k}": f32(v) for k, v in sorted(grad_sum.items())},
              str(OUT / "grad_sum.safetensors"))
    return entries


# --- self-checks ----------------------------------------------------------------------------
def gradchecks():
    """float64 gradcheck of the splice, region pooling, the condition builders and the
    differentiable part of the criterion, on small random inputs with fixed points."""
    g = torch.Generator().manual_seed(5)
    d, gg, dm = 3, 2, 2
    dt = torch.float64
    prompt = {"ids": [1, 2, ref.IMAGE_TOKEN_INDEX, 3, ref.CLS_TOKEN_INDEX, 4, ref.CLS_TOKEN_INDEX,
                      ref.REGION_TOKEN_INDEX, ref.REFER_TOKEN_INDEX, 5, ref.SEG_TOKEN_INDEX, 6],
              "class_name_ids": [[7, 8], [9]], "refer_ids": [2, 3, 4], "prompt_order": [1, 0]}
    points = torch.rand(1, 5, 2, generator=g, dtype=dt)
    w_proj = torch.randn(dm, d, generator=g, dtype=dt)

    def fn(embed, tokens, seg_query, mix):
        region = ref.region_pooling(tokens, points)
        s = ref.concat_image_seg_cls_embeds(prompt, embed, tokens, seg_query, region, 10)
        batch = ref.pad_batch([s, ref.concat_image_seg_cls_embeds(
            prompt, embed, tokens * 0.5, seg_query, region * 2.0, 10)])
        x = batch["inputs_embeds"]  # a causal stand-in for the LLM: cumulative mean, then tanh
        h = torch.tanh(torch.cumsum(x, 1) / torch.arange(1, x.shape[1] + 1, dtype=dt)[:, None]
                       @ mix)
        proj = lambda v: v @ w_proj.T  # noqa: E731
        q = ref.get_seg_query(h, batch["seg_query_mask"])
        cls = ref.class_conditions(h, batch["class_name_embedding_indices"],
                                   torch.tensor([[1, 0], [1, 0]]), proj)
        refer = ref.get_SEG_embedding(h, batch["refer_embedding_indices"])
        regions = ref.get_region_embedding(h, batch["region_embedding_masks"])
        return q.sum(-1), cls, refer, torch.cat(regions)

    inputs = (torch.randn(11, d, generator=g, dtype=dt),
              torch.randn(gg * gg, d, generator=g, dtype=dt),
              torch.randn(3, d, generator=g, dtype=dt), torch.randn(d, d, generator=g, dtype=dt))
    inputs = tuple(x.requires_grad_(True) for x in inputs)
    assert torch.autograd.gradcheck(fn, inputs), "splice / pooling / conditions gradcheck"

    # The criterion's differentiable part at fixed matching and points.
    masks = torch.randn(2, 3, 4, 4, generator=g, dtype=dt, requires_grad=True)
    cls_logits = torch.randn(2, 3, 4, generator=g, dtype=dt, requires_grad=True)
    seg_logits = torch.randn(2, 3, 1, generator=g, dtype=dt, requires_grad=True)
    reg_logits = [torch.randn(2, 3, generator=g, dtype=dt, requires_grad=True),
                  torch.randn(1, 3, generator=g, dtype=dt, requires_grad=True)]
    targets = [{"masks": (torch.rand(2, 8, 8, generator=g) > 0.5).to(dt),
                "labels": torch.tensor([0, 2])},
               {"masks": (torch.rand(1, 8, 8, generator=g) > 0.5).to(dt),
                "labels": torch.tensor([1])}]
    matching = [(np.array([0, 2]), np.array([1, 0])), (np.array([1]), np.array([0]))]
    over = torch.rand(3, 12, 2, generator=g, dtype=dt)
    fresh = torch.rand(3, 1, 2, generator=g, dtype=dt)
    ccfg = dict(CFG["criterion"], num_points=4)

    def crit_fn(masks, cls_logits, seg_logits, r0, r1):
        lm, ld = pcr.loss_masks(masks, targets, matching, over, fresh, 3.0, ccfg)
        return (lm, ld, pcr.loss_class_names(cls_logits, targets, matching, ccfg),
                pcr.loss_seg(seg_logits, matching, 3.0), pcr.loss_regions([r0, r1], matching, 3.0))

    assert torch.autograd.gradcheck(crit_fn, (masks, cls_logits, seg_logits, *reg_logits)), \
        "criterion gradcheck"
    print("gradcheck (float64): splice + region pooling + conditions, criterion terms: ok")


def double_case(case):
    d = dict(case)
    d["pixels"] = case["pixels"].double()
    if case["region_points"] is not None:
        d["region_points"] = [p.double() for p in case["region_points"]]
    d["targets"] = [{"masks": t["masks"].double(), "labels": t["labels"]} for t in case["targets"]]
    d["matcher_points"] = [[None if p is None else p.double() for p in row]
                           for row in case["matcher_points"]]
    d["criterion_points"] = [(o.double(), f.double()) for o, f in case["criterion_points"]]
    return d


def float64_check(state, case, result):
    """The same case in float64 (same weights, inputs and points): the decoder's attention
    masks, the matching and the importance-sampled point sets must agree; returns the largest
    deviations of float32."""
    state64 = {k: (v.double() if v.is_floating_point() else v) for k, v in state.items()}
    model64 = PSALM(CFG).double().train()
    dcase = double_case(case)
    out64, losses64, total64, matches64, coords64 = run_case(model64, dcase, state64)
    out, losses, total, matches, coords, grads = result
    k = pcr.num_importance(CFG["criterion"]["num_points"],
                           CFG["criterion"]["importance_sample_ratio"])
    unc = ref.pair_uncertainties(out["predictions"], matches, case["criterion_points"])
    unc64 = ref.pair_uncertainties(out64["predictions"], matches64, dcase["criterion_points"])
    for a, a64 in zip(out["attn_masks_used"], out64["attn_masks_used"]):
        assert torch.equal(a, a64), f"{case['name']}: an attention mask differs in float64"
    for s in range(SETS):
        for (i, j), (i2, j2) in zip(matches[s], matches64[s]):
            assert torch.equal(i, i2) and torch.equal(j, j2), f"{case['name']}: matching differs"
        if unc[s] is not None:
            chosen = unc[s].topk(k, 1)[1].sort(1)[0]
            chosen64 = unc64[s].topk(k, 1)[1].sort(1)[0]
            assert torch.equal(chosen, chosen64), \
                f"{case['name']}: importance sampling picks other points in float64"
    dev_masks = max(float((p["pred_masks"].detach().double()
                           - p64["pred_masks"].detach()).abs().max())
                    for p, p64 in zip(out["predictions"], out64["predictions"]))
    dev_loss = max(abs(float(losses[k]) - float(losses64[k])) / max(abs(float(losses64[k])), 1e-12)
                   for k in losses)
    grads64 = released_state_dict(model64, grads=True)
    top = max(float(g.abs().max()) for g in grads64.values())
    dev_grad, zero = 0.0, []
    for k, g in grads.items():
        scale = float(grads64[k].abs().max())
        if scale <= 1e-9 * top:  # unused (exact 0) or mathematically zero (rounding noise)
            if float(g.abs().max()) > 0:
                zero.append(k)
            continue
        dev_grad = max(dev_grad, float((g.double() - grads64[k]).abs().max()) / scale)
    return {"pred_masks_max_abs": dev_masks, "loss_terms_max_rel": dev_loss,
            "grad_max_abs_over_tensor_max_abs": dev_grad,
            "numerically_zero_grads": zero}


def load_case(e):
    """A case rebuilt from its written files (the way a C++ test reads them)."""
    t = load_file(str(OUT / e["file"]))
    case = {"name": e["name"], "task": e["task"], "pixels": t["pixels"].float(),
            "prompts": [s["prompt"] for s in e["samples"]], "region_points": None, "targets": []}
    for b, s in enumerate(e["samples"]):
        m = t[f"targets.{b}.masks"].float() if s["num_targets"] else torch.zeros(0, T, T)
        lab = None if s["target_labels"] is None else torch.tensor(s["target_labels"])
        case["targets"].append({"masks": m, "labels": lab})
    if e["task"] == "interactive":
        case["region_points"] = [t[f"region_points.{b}"] for b in range(e["batch"])]
    case["matcher_points"] = [[t.get(f"matcher_points.{s}.{b}") for b in range(e["batch"])]
                              for s in range(SETS)]
    ccfg = CFG["criterion"]
    p = ccfg["num_points"]
    empty = (torch.zeros(0, int(p * ccfg["oversample_ratio"]), 2),
             torch.zeros(0, p - int(ccfg["importance_sample_ratio"] * p), 2))
    case["criterion_points"] = [
        (t[f"criterion_points.{s}.oversampled"], t[f"criterion_points.{s}.fresh"])
        if f"criterion_points.{s}.oversampled" in t else empty for s in range(SETS)]
    return case, t


def reload_check(entries):
    """Everything rebuilt from the written files and recomputed: bit-identical."""
    state = load_file(str(OUT / "weights.safetensors"))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    model = PSALM(CFG).train()
    grad_sum = {}
    for e in entries:
        case, t = load_case(e)
        out, losses, total, matches, coords = run_case(model, case, state)
        assert torch.equal(f32(total).reshape(1), t["loss_total"]), e["name"]
        assert sorted(losses) == sorted(k[5:] for k in t if k.startswith("loss."))
        for k, v in losses.items():
            assert torch.equal(f32(v).reshape(1), t[f"loss.{k}"]), f"{e['name']}: {k}"
        for s in range(SETS):
            assert [{"pred": i.tolist(), "tgt": j.tolist()} for i, j in matches[s]] == \
                e["matching"][s]
            assert torch.equal(f32(out["predictions"][s]["pred_masks"]), t[f"out.{s}.pred_masks"])
        assert torch.equal(f32(out["hidden"]), t["hidden"])
        assert torch.equal(f32(out["inputs_embeds"].grad), t["grad_act.inputs_embeds"])
        for k, g in released_state_dict(model, grads=True).items():
            grad_sum[k] = grad_sum[k] + g if k in grad_sum else g.clone()
            if k.startswith(PER_CASE_GRADS):
                assert torch.equal(f32(g), t[f"grad.{k}"]), f"{e['name']}: grad {k}"
    t = load_file(str(OUT / "grad_sum.safetensors"))
    assert sorted(t) == sorted(f"grad.{k}" for k in grad_sum)
    for k, g in grad_sum.items():
        assert torch.equal(f32(g), t[f"grad.{k}"]), f"grad sum {k}"
    print("reload check: the written fixture recomputes bit for bit")


def main():
    gradchecks()
    model = build_model()
    state = released_state_dict(model)
    # The released layout round-trips and has the expected top-level names.
    probe = PSALM(CFG)
    load_released_state_dict(probe, state)
    assert all(torch.equal(a, b) for a, b in zip(released_state_dict(probe).values(),
                                                  state.values()))
    prefixes = ("model.embed_tokens.", "model.layers.", "model.final_layernorm.", "lm_head.",
                "model.vision_tower.", "model.mm_projector.", "seg_query", "seg_query_projector.",
                "SEG_token_projector.", "class_name_projector.", "region_projector.",
                "pixel_decoder.", "predictor.")
    assert all(k.startswith(prefixes) for k in state), "unexpected parameter name"
    assert any(k.endswith("self_attn.query_key_value.weight") for k in state)

    cases, results = [], []
    for i, name in enumerate(("panoptic", "referring", "gres", "interactive")):
        load_released_state_dict(model, state)
        case = choose_case(model, name, 1000 * (i + 1))
        r = run_case(model, case, state)
        grads = released_state_dict(model, grads=True)
        cases.append(case)
        results.append(r + (grads,))
        print(f"{name}: seed {case['seed']}, loss_total {r[2].item():.6f}, "
              f"margins {case['margins']}")
    deviations = [float64_check(state, c, r) for c, r in zip(cases, results)]
    entries = write_all(state, cases, results)
    for e, dev in zip(entries, deviations):
        e["float32_vs_float64"] = dev
        print(e["name"], "float32 vs float64:", dev)
    doc = {
        "description": "PSALM parity fixture written by tools/reference/psalm_fixtures.py "
                       "(see its docstring); the model is tools/reference/psalm_reference.py. "
                       "Float32 forward and backward, CPU, one thread.",
        "config": "config.json",
        "weights": "weights.safetensors (released names; float values BF16-stored, exact as "
                   "float32)",
        "grad_sum": "grad_sum.safetensors: grad.<param> for EVERY parameter (released names, "
                    "Phi's q/k/v in the fused query_key_value layout) of the sum over the cases "
                    "of loss_total (zeros where unused: lm_head, predictor.query_feat, "
                    "predictor.SEG_query_embed)",
        "per_case_grads": list(PER_CASE_GRADS),
        "letters": {"B": "batch (2)", "T": "image side (64)",
                    "G": "projector grid side (2: res5 is 4 x 4, the projector halves it)",
                    "D": "Phi width (32)", "Dm": "decoder width (16)", "Q": "mask tokens (8)",
                    "C": "classes incl. background (5)", "Hm, Wm": "mask logits side (T/2 = 32: "
                    "Swin patch 2, res2 resolution)", "K_b": "regions of sample b",
                    "N_b": "targets of sample b", "Lb": "padded expanded length",
                    "P": "criterion num_points (64)", "P_m": "matcher num_points (64)",
                    "P_r": "region_num_points (16)",
                    "R_s": "matched pairs of prediction set s (whole batch)",
                    "s": "prediction set 0 .. dec_layers (dec_layers = final)"},
        "sentinels": {"image": ref.IMAGE_TOKEN_INDEX, "seg": ref.SEG_TOKEN_INDEX,
                      "cls": ref.CLS_TOKEN_INDEX, "region": ref.REGION_TOKEN_INDEX,
                      "refer": ref.REFER_TOKEN_INDEX},
        "token_source": {"word": ref.SOURCE_WORD, "image": ref.SOURCE_IMAGE,
                         "region": ref.SOURCE_REGION, "mask_token": ref.SOURCE_MASK_TOKEN,
                         "padding": ref.SOURCE_PADDING},
        "prompt_fields": "ids (with sentinels); class_name_ids per <cls> in prompt order (name "
                         "tokens, [SEG] appended by the expansion); refer_ids (sentence tokens, "
                         "[SEG] appended); prompt_order = canonical class of each <cls>; labels "
                         "empty (all IGNORE)",
        "layout_fields": "the expanded sequence of a sample (psalm::SequenceLayout): token_ids "
                         "(0 where not a word), source (token_source), source_index (image / "
                         "region / mask-token index, else -1), class_index (1 + canonical "
                         "class, else 0), refer_mask",
        "matching": "matching[s][b] = {pred, tgt}: scipy linear_sum_assignment on the (Q, N_b) "
                    "cost, pred ascending; empty for N_b = 0",
        "matched_pairs": "matched_pairs[s] = [[b, query, target], ...]: the R_s pairs in "
                         "upstream's order (_get_src_permutation_idx: sample by sample, query "
                         "ascending); row r of criterion_points.{s}.* belongs to pair r",
        "criterion": "PSALM_criterion's terms (tools/reference/psalm_criterion_reference.py); "
                     "num_masks = max(1, total targets); class CE weight no_object_weight on "
                     "the last (background) class; SEG / region BCE pos_weight = (#logits - "
                     "num_masks) / num_masks; loss_total sums the final set's weighted terms "
                     "first, then sets 0 .. dec_layers-1; no-target samples: see the script "
                     "docstring",
        "float32_vs_float64": "per case: the same computation in float64 from the same "
                              "(float32) inputs, weights and points: max |pred_masks| "
                              "deviation, max relative loss-term deviation, max gradient "
                              "deviation relative to each tensor's max |gradient|, and the "
                              "gradients that are mathematically zero (pure rounding noise in "
                              "float32: compare them with an absolute tolerance)",
        "margins": {"attn_logit_min_abs": ATTN_MARGIN, "assignment_gap_min": MATCH_MARGIN,
                    "topk_uncertainty_gap_min": TOPK_MARGIN},
        "tensors": TENSOR_DOCS,
        "cases": entries,
    }
    (OUT / "cases.json").write_text(json.dumps(doc, indent=1) + "\n")
    reload_check(entries)
    sizes = {f.name: f.stat().st_size for f in sorted(OUT.iterdir())}
    print(f"wrote {OUT}: {sizes}, total {sum(sizes.values())} bytes")


if __name__ == "__main__":
    main()
