"""Golden values for PSALM's matcher and criterion (include/psalm/psalm/{point_sampling,matcher,
criterion}.hpp) from the PyTorch + scipy transcription in psalm_criterion_reference.py. Written
to tests/fixtures/psalm/criterion/<case>.safetensors; CI never runs this. Rerun after changing a
case and commit the output:

    tools/reference/.venv/bin/python tools/reference/psalm_criterion_fixtures.py

Every case: 3 prediction sets (two auxiliary + the final), Q = 8 queries, mask logits 16x16,
targets at 64x64, matcher and criterion num_points 64 (oversample 3 -> 192 candidates, 48 by
importance + 16 fresh), the default weights. The inputs are random float32; the reference runs
in float64 on them. One file per case holds
  set.{s}.masks (B,Q,16,16), set.{s}.class_logits (B,Q,C) | set.{s}.seg_logits (B,Q,1) |
  set.{s}.region_logits (sum K_b, Q) (the samples' rows stacked) — prediction set s in the
  decoder's order (the last is the final output);
  target.{b}.masks (N_b,64,64) uint8 (absent when N_b = 0);
  points.{s}.matcher (B,64,2), points.{s}.oversampled (M,192,2), points.{s}.fresh (M,16,2)
  (the two absent when the set matches no pair);
  grad.{s}.<input> — d total / d every prediction input, float32;
and in __metadata__["case"] a JSON object: kind, batch, queries, classes, counts (N_b),
labels, region_counts, matcher / criterion configs, num_masks, terms [[name, value]] (float64,
unweighted, upstream order), total, matchings [set][sample] = [queries, targets].

A case is redrawn (next seed) until it is robust to float32 rounding: no assignment changes when
every cost is perturbed by 1e-4 of the largest cost, and in every row of importance sampling the
48th and 49th largest uncertainties differ by more than 1e-4.
"""
import json
import pathlib

import numpy as np
import torch
from safetensors.torch import save_file
from scipy.optimize import linear_sum_assignment

import psalm_criterion_reference as ref

torch.set_num_threads(1)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "psalm" / "criterion"
D = torch.float64

Q, HM, T, SETS = 8, 16, 64, 3
MATCHER = {"cost_class": 2.0, "cost_mask": 5.0, "cost_dice": 5.0, "num_points": 64}
CRITERION = {"class_weight": 2.0, "mask_weight": 5.0, "dice_weight": 5.0, "no_object_weight": 0.1,
             "num_points": 64, "oversample_ratio": 3.0, "importance_sample_ratio": 0.75,
             "deep_supervision": True}
NUM_CLASSES = 6  # 5 named classes + "background" last

# name: (kind, task, N_b per sample)
CASES = {
    "classes": ("classes", "panoptic", [3, 2]),
    "classes_many_targets": ("classes", "panoptic", [10, 1]),
    "referring": ("referring", "gres", [1, 2]),
    "regions": ("regions", "interactive", [2, 1, 3]),
    "classes_no_target": ("classes", "panoptic", [2, 0]),
    "referring_no_target": ("referring", "gres", [0, 1]),
    "regions_no_region": ("regions", "interactive", [0, 2]),
    "classes_all_empty": ("classes", "panoptic", [0, 0]),
    "referring_all_empty": ("referring", "gres", [0, 0]),
    "regions_all_empty": ("regions", "interactive", [0, 0]),
}


def random_mask(g):
    """A union of one or two random rectangles / ellipses on the T x T plane."""
    m = torch.zeros(T, T)
    yy, xx = torch.meshgrid(torch.arange(T, dtype=torch.float32),
                            torch.arange(T, dtype=torch.float32), indexing="ij")
    for _ in range(int(torch.randint(1, 3, (1,), generator=g))):
        cy, cx = (torch.rand(2, generator=g) * T).tolist()
        ry, rx = (4 + torch.rand(2, generator=g) * 20).tolist()
        if torch.rand(1, generator=g).item() < 0.5:
            shape = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        else:
            shape = ((yy - cy).abs() <= ry) & ((xx - cx).abs() <= rx)
        m[shape] = 1
    return m


def make_case(kind, counts, seed):
    g = torch.Generator().manual_seed(seed)
    b = len(counts)
    targets = []
    for n in counts:
        masks = torch.stack([random_mask(g) for _ in range(n)]) if n else torch.zeros(0, T, T)
        labels = torch.randint(0, NUM_CLASSES - 1, (n,), generator=g) if kind == "classes" else None
        targets.append({"masks": masks, "labels": labels})
    sets = []
    for _ in range(SETS):
        p = {"masks": torch.randn(b, Q, HM, HM, generator=g) * 2.0}
        if kind == "classes":
            p["class_logits"] = torch.randn(b, Q, NUM_CLASSES, generator=g) * 1.5
        if kind == "referring":
            p["seg_logits"] = torch.randn(b, Q, 1, generator=g) * 1.5
        if kind == "regions":
            p["region_logits"] = [torch.randn(n, Q, generator=g) * 1.5 for n in counts]
        sets.append(p)
    return targets, sets, g


def to_double(sets):
    out = []
    for p in sets:
        q = {}
        for k, v in p.items():
            if k == "region_logits":
                q[k] = [r.to(D).requires_grad_(True) for r in v]
            else:
                q[k] = v.to(D).requires_grad_(True)
        out.append(q)
    return out


def robust_matching(cost, g):
    rows, cols = linear_sum_assignment(cost)
    scale = 1e-4 * np.abs(cost).max()
    for _ in range(20):
        noise = (torch.rand(cost.shape, generator=g, dtype=D).numpy() * 2 - 1) * scale
        r2, c2 = linear_sum_assignment(cost + noise)
        if not (np.array_equal(rows, r2) and np.array_equal(cols, c2)):
            return False
    return True


def build(name, kind, task, counts, seed):
    targets, sets, g = make_case(kind, counts, seed)
    b = len(counts)
    targets64 = [{"masks": t["masks"].to(D), "labels": t["labels"]} for t in targets]
    preds = to_double(sets)
    crit = CRITERION
    k = ref.num_importance(crit["num_points"], crit["importance_sample_ratio"])
    points = ref.draw_points(preds, targets64, kind, g, MATCHER, crit)
    for s in range(SETS):
        mp = points[s]["matcher"].to(D)
        cl = preds[s]["class_logits"].detach() if kind == "classes" else None
        for bi, t in enumerate(targets64):
            if t["masks"].shape[0] == 0:
                continue
            with torch.no_grad():
                cost = ref.match_cost_matrix(preds[s]["masks"][bi], t["masks"],
                                             cl[bi] if cl is not None else None, t["labels"],
                                             mp[bi], MATCHER).numpy()
            if not robust_matching(cost, g):
                return None
        matching = ref.hungarian_match(preds[s]["masks"].detach(), cl, targets64, mp, MATCHER)
        pairs = ref.matched_pairs(matching)
        if pairs:
            src = torch.stack([preds[s]["masks"][bi, q].detach() for bi, q, _ in pairs])[:, None]
            unc = ref.calculate_uncertainty(
                ref.point_sample(src, points[s]["oversampled"].to(D)))[:, 0, :]
            top = torch.sort(unc, dim=1, descending=True)[0]
            if (top[:, k - 1] - top[:, k]).min().item() <= 1e-4:
                return None

    points64 = [{k2: v.to(D) for k2, v in p.items()} for p in points]
    terms, total, matchings, num_masks = ref.criterion(preds, targets64, kind, points64, MATCHER,
                                                       crit)
    total.backward()

    tensors = {}
    for s, (p32, p64) in enumerate(zip(sets, preds)):
        tensors[f"set.{s}.masks"] = p32["masks"]
        tensors[f"grad.{s}.masks"] = p64["masks"].grad.float()
        for key in ("class_logits", "seg_logits"):
            if key in p32:
                tensors[f"set.{s}.{key}"] = p32[key]
                tensors[f"grad.{s}.{key}"] = p64[key].grad.float()
        if "region_logits" in p32 and sum(counts) > 0:
            tensors[f"set.{s}.region_logits"] = torch.cat(p32["region_logits"])
            tensors[f"grad.{s}.region_logits"] = torch.cat(
                [r.grad if r.grad is not None else torch.zeros_like(r) for r in
                 p64["region_logits"]]).float()
        tensors[f"points.{s}.matcher"] = points[s]["matcher"]
        if points[s]["oversampled"].shape[0]:
            tensors[f"points.{s}.oversampled"] = points[s]["oversampled"]
            tensors[f"points.{s}.fresh"] = points[s]["fresh"]
    for bi, t in enumerate(targets):
        if t["masks"].shape[0]:
            tensors[f"target.{bi}.masks"] = t["masks"].to(torch.uint8)
    meta = {
        "name": name, "kind": kind, "task": task, "seed": seed, "batch": b, "queries": Q,
        "classes": NUM_CLASSES if kind == "classes" else 0, "counts": counts,
        "labels": [t["labels"].tolist() if t["labels"] is not None else [] for t in targets],
        "region_counts": counts if kind == "regions" else [],
        "matcher": MATCHER, "criterion": CRITERION, "num_masks": num_masks,
        "terms": [[n, v.item()] for n, v in terms], "total": total.item(),
        "matchings": [[[r.tolist(), c.tolist()] for r, c in m] for m in matchings],
    }
    tensors = {k2: v.contiguous() for k2, v in tensors.items()}
    return tensors, meta


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for i, (name, (kind, task, counts)) in enumerate(CASES.items()):
        seed = 1000 * (i + 1)
        while True:
            built = build(name, kind, task, counts, seed)
            if built is not None:
                break
            seed += 1
        tensors, meta = built
        save_file(tensors, str(OUT / f"{name}.safetensors"), metadata={"case": json.dumps(meta)})
        print(f"{name}: seed {seed}, total {meta['total']:.6f}, "
              f"{len(meta['terms'])} terms, num_masks {meta['num_masks']}")


if __name__ == "__main__":
    main()
