#!/usr/bin/env python3
"""Writes tests/fixtures/referring/cases.json: binary prediction / gt mask pairs with the metrics of
PSALM's referring and region (interactive) evaluation, LISA's validation, and ReLA's gRefCOCO
evaluator, for tests/eval/test_referring.cpp, test_gres.cpp and test_interactive.cpp.

The rules are re-derived from the scripts' source (read, not copied):
  * PSALM psalm/eval/referring_segmentation.py, region_segmentation.py, eval_grefcoco.py:
    per sample intersectionAndUnionGPU(pred, gt, K=2, ignore_index=255) with torch.histc,
    acc_iou = I / (U + 1e-5), acc_iou[U == 0] = 1; cIoU = sum I / (sum U + 1e-10);
    gIoU = mean acc_iou (AverageMeter sum / count).
  * LISA train_ds.py validate(): same per sample, but AverageMeter.all_reduce divides by
    (count + 1e-5).
  * ReLA gres_model/evaluation/refer_evaluation.py (ReferEvaluator.evaluate): TP/FN/FP/TN on
    the no-target flags, gIoU over all samples, cIoU, N-acc, T-acc, Pr@{0.7,0.8,0.9} (>=).
The torch.histc counting is run as in PSALM (float32 histograms on int tensors, CPU) and checked
against plain numpy counts; the metrics themselves are then computed in float64.

Deterministic (numpy default_rng with a fixed seed). Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/referring_fixtures.py

JSON layout (see tests/fixtures/referring/README.md): masks are {"height", "width", "pred_rle",
"gt_rle"} with *_rle = [value, run, ...] over row-major bytes (gt may hold 255 = ignore).
"""

import json
import os

import numpy as np
import torch

from common import FIXTURES, value_runs

SEED = 20240909
OUT = FIXTURES / "referring" / "cases.json"
THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9]
PROMPTS = ["point", "scribble", "box", "mask"]


def blob(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.zeros((h, w), dtype=bool)
    for _ in range(int(rng.integers(1, 3))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(1, h / 2), rng.uniform(1, w / 2)
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return m


def random_pair(rng, kind, h, w):
    """kind: both_empty, pred_empty, gt_empty, equal, half (IoU exactly 0.5), random."""
    if kind == "both_empty":
        return np.zeros((h, w), bool), np.zeros((h, w), bool)
    gt = blob(rng, h, w)
    if not gt.any():
        gt[h // 2, w // 2] = True
    if kind == "pred_empty":
        return np.zeros((h, w), bool), gt
    if kind == "gt_empty":
        return gt, np.zeros((h, w), bool)
    if kind == "equal":
        return gt.copy(), gt
    if kind == "half":  # gt = 10 pixels in a row, pred = 5 of them -> I = 5, U = 10
        gt = np.zeros((h, w), bool)
        gt[1, 0:10] = True
        pred = np.zeros((h, w), bool)
        pred[1, 0:5] = True
        return pred, gt
    pred = np.roll(gt, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
    pred ^= rng.random((h, w)) < 0.08
    return pred, gt


def psalm_counts(pred, gt):
    """PSALM's intersectionAndUnionGPU on the CPU: returns foreground (I, U) as ints."""
    output = torch.tensor(pred.astype(np.uint8)).int().reshape(-1).clone()
    target = torch.tensor(gt).int().reshape(-1)
    output[target == 255] = 255
    intersection = output[output == target]
    area_i = torch.histc(intersection.float(), bins=2, min=0, max=1)
    area_o = torch.histc(output.float(), bins=2, min=0, max=1)
    area_t = torch.histc(target.float(), bins=2, min=0, max=1)
    area_u = area_o + area_t - area_i
    i, u = int(area_i[1].item()), int(area_u[1].item())
    keep = gt != 255
    p, g = pred.astype(bool) & keep, (gt == 1) & keep
    assert i == int((p & g).sum()) and u == int((p | g).sum())
    return i, u


def referring_metrics(counts, empty_rule="one", iou_eps=1e-5, ciou_eps=1e-10, count_eps=0.0):
    sum_i = sum(i for i, _ in counts)
    sum_u = sum(u for _, u in counts)
    ious, exact = [], []
    for i, u in counts:
        if u == 0:
            if empty_rule == "skip":
                continue
            v = 1.0 if empty_rule == "one" else 0.0
            ious.append(v)
            exact.append(v)
        else:
            ious.append(i / (u + iou_eps))
            exact.append(i / u)
    n = len(ious)
    denom_u = sum_u + ciou_eps
    return {
        "ciou": sum_i / denom_u if denom_u > 0 else None,
        "giou": sum(ious) / (n + count_eps) if n + count_eps > 0 else None,
        "precision": [sum(1 for v in exact if v >= t) / n if n else None for t in THRESHOLDS],
        "sum_intersection": sum_i,
        "sum_union": sum_u,
        "empty_samples": sum(1 for _, u in counts if u == 0),
    }


def mask_json(pred, gt):
    return {"height": int(gt.shape[0]), "width": int(gt.shape[1]),
            "pred_rle": value_runs(pred.astype(np.uint8)), "gt_rle": value_runs(gt.astype(np.uint8))}


def referring_section(rng):
    kinds = ["both_empty", "pred_empty", "gt_empty", "equal", "half", "both_empty"] + \
        ["random"] * 24
    samples, counts = [], []
    for kind in kinds:
        h, w = int(rng.integers(12, 24)), int(rng.integers(12, 30))
        pred, gt = random_pair(rng, kind, h, w)
        samples.append(mask_json(pred, gt))
        counts.append(psalm_counts(pred, gt.astype(np.uint8)))
    return {
        "samples": samples,
        "thresholds": THRESHOLDS,
        "psalm": referring_metrics(counts),
        "lisa": referring_metrics(counts, count_eps=1e-5),
        "exact": referring_metrics(counts, iou_eps=0.0, ciou_eps=0.0),
        "psalm_empty_zero": referring_metrics(counts, empty_rule="zero"),
        "psalm_empty_skip": referring_metrics(counts, empty_rule="skip"),
    }


def ignore_section(rng):
    """gt bytes 0 / 1 / 255 (ignore) as PSALM's ignore_index=255 sees them."""
    samples, counts = [], []
    for _ in range(8):
        h, w = 15, 17
        pred, gtb = random_pair(rng, "random", h, w)
        gt = gtb.astype(np.uint8)
        gt[rng.random((h, w)) < 0.2] = 255
        samples.append({"height": h, "width": w, "pred_rle": value_runs(pred.astype(np.uint8)),
                        "gt_rle": value_runs(gt)})
        counts.append(psalm_counts(pred, gt))
    return {"samples": samples, "psalm": referring_metrics(counts)}


def rela_metrics(entries):
    """entries: (I, U, pred_nt, gt_nt), I and U between the masks. ReLA's evaluate loop."""
    pr_thres = [0.7, 0.8, 0.9]
    acc_i = acc_u = 0
    acc_iou = 0.0
    pr = {t: 0 for t in pr_thres}
    total = not_empty = empty = 0
    nt = {"TP": 0, "TN": 0, "FP": 0, "FN": 0}
    for i, u, pred_nt, gt_nt in entries:
        if gt_nt:
            empty += 1
            if pred_nt:
                nt["TP"] += 1
                acc_iou += 1
            else:
                nt["FN"] += 1
                acc_u += int(u)
        else:
            if pred_nt:
                nt["FP"] += 1
                i = 0
            else:
                nt["TN"] += 1
            this_iou = 0.0 if u == 0 else float(i) / float(u)
            acc_iou += this_iou
            acc_i += i
            acc_u += u
            not_empty += 1
            for t in pr_thres:
                if this_iou >= t:
                    pr[t] += 1
        total += 1
    res = {"giou": acc_iou / total, "ciou": acc_i / acc_u}
    if empty > 0:
        res["t_acc"] = nt["TN"] / (nt["TN"] + nt["FP"])
        res["n_acc"] = nt["TP"] / (nt["TP"] + nt["FN"])
    else:
        res["t_acc"] = res["n_acc"] = 0
    res["precision"] = [pr[t] / not_empty for t in pr_thres]
    res["counts"] = nt
    res["sum_intersection"], res["sum_union"] = acc_i, acc_u
    return res


def gres_section(rng):
    samples, explicit, derived = [], [], []
    for k in range(40):
        h, w = int(rng.integers(10, 20)), int(rng.integers(10, 22))
        gt_nt = k % 4 == 0
        if gt_nt:
            kind = "both_empty" if rng.random() < 0.5 else "gt_empty"
        else:
            kind = ["random", "random", "pred_empty", "equal", "half"][int(rng.integers(0, 5))]
        pred, gt = random_pair(rng, kind, h, w)
        # A model with a no-target head may say "no target" whatever its mask shows.
        pred_nt = bool(not pred.any()) if rng.random() < 0.7 else bool(rng.random() < 0.5)
        i = int((pred & gt).sum())
        u = int((pred | gt).sum())
        s = mask_json(pred, gt)
        s["pred_nt"], s["gt_nt"] = pred_nt, gt_nt
        samples.append(s)
        explicit.append((i, u, pred_nt, gt_nt))
        derived.append((i, u, not pred.any(), not gt.any()))
    return {"samples": samples, "explicit_flags": rela_metrics(explicit),
            "flags_from_masks": rela_metrics(derived)}


def interactive_section(rng):
    samples = []
    per_type = {p: [] for p in PROMPTS}
    for k in range(36):
        prompt = PROMPTS[int(rng.integers(0, 4)) if k >= 4 else k]
        if k == 35:
            prompt = "box"
        h, w = int(rng.integers(12, 22)), int(rng.integers(12, 22))
        kind = "both_empty" if k == 7 else ("random" if k % 5 else "equal")
        pred, gt = random_pair(rng, kind, h, w)
        s = mask_json(pred, gt)
        s["prompt"] = prompt
        samples.append(s)
        per_type[prompt].append(psalm_counts(pred, gt.astype(np.uint8)))
    out = {"samples": samples, "per_type": {}}
    for p in PROMPTS:
        r = referring_metrics(per_type[p])
        out["per_type"][p] = {"samples": len(per_type[p]), "miou": r["giou"], "ciou": r["ciou"]}
    everything = [c for p in PROMPTS for c in per_type[p]]
    # Pooled gIoU is a mean over all samples, pooled cIoU sums over all samples; the per-type
    # order of summation does not change either beyond 1e-15.
    r = referring_metrics(everything)
    out["overall"] = {"samples": len(everything), "miou": r["giou"], "ciou": r["ciou"]}
    return out


def main():
    rng = np.random.default_rng(SEED)
    data = {
        "generator": "tools/reference/referring_fixtures.py", "seed": SEED,
        "numpy": np.__version__, "torch": torch.__version__,
        "referring": referring_section(rng),
        "referring_ignore_255": ignore_section(rng),
        "gres": gres_section(rng),
        "interactive": interactive_section(rng),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(data, f)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
