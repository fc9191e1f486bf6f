#!/usr/bin/env python3
"""Writes tests/fixtures/panoptic/pq_cases.json: panoptic scenes and their PQ / SQ / RQ as
panopticapi's pq_compute defines them, for tests/eval/test_panoptic_quality.cpp.

panopticapi is not on PyPI in a usable form, so `pq_image` / `pq_average` below implement the
rules of its published evaluation.py (cocodataset/panopticapi) in a few lines; the "plain"
scene (no crowd, no VOID in predictions, one segment per stuff category) is cross-checked
against torchmetrics' PanopticQuality, whose conventions coincide there (torchmetrics also
subtracts prediction-VOID from the union, never counts mostly-VOID ground truth as FN, has no
crowd, and merges stuff instances). Deterministic (numpy default_rng, fixed seed). Run:
    tools/reference/.venv/bin/python tools/reference/panoptic_fixtures.py

JSON layout: {"categories": [{id, isthing}], "scenes": [{name, images: [{image_id, h, w,
gt_ids, pred_ids (row-major lists), gt_segments: [{id, category_id, iscrowd, area}],
pred_segments: [{id, category_id}]}], expected: {all|things|stuff: {pq, sq, rq, n},
per_class: {cat: {pq, sq, rq, tp, fp, fn, iou}}}}]}
"""

import importlib.metadata
import json
import os
from collections import defaultdict

import numpy as np

SEED = 20240903
OUT = os.path.join("tests", "fixtures", "panoptic", "pq_cases.json")
OFFSET = 256 * 256 * 256
VOID = 0
CATEGORIES = [{"id": 1, "isthing": 1}, {"id": 2, "isthing": 1}, {"id": 5, "isthing": 1},
              {"id": 17, "isthing": 0}, {"id": 23, "isthing": 0}, {"id": 40, "isthing": 0}]
THINGS = [1, 2, 5]
STUFF = [17, 23, 40]


class Stat:
    def __init__(self):
        self.iou, self.tp, self.fp, self.fn = 0.0, 0, 0, 0


def pq_image(stats, categories, img):
    """pq_compute_single_core's body for one image (panopticapi evaluation.py)."""
    pan_gt = np.array(img["gt_ids"], dtype=np.uint64).reshape(img["h"], img["w"])
    pan_pred = np.array(img["pred_ids"], dtype=np.uint64).reshape(img["h"], img["w"])
    gt_segms = {s["id"]: dict(s) for s in img["gt_segments"]}
    pred_segms = {s["id"]: dict(s) for s in img["pred_segments"]}
    pred_labels = set(pred_segms)
    labels, counts = np.unique(pan_pred, return_counts=True)
    for label, count in zip(labels.tolist(), counts.tolist()):
        if label not in pred_segms:
            if label == VOID:
                continue
            raise KeyError(f"segment {label} in PNG, not in JSON")
        pred_segms[label]["area"] = count
        pred_labels.remove(label)
        if pred_segms[label]["category_id"] not in categories:
            raise KeyError("unknown category")
    if pred_labels:
        raise KeyError(f"segments {pred_labels} in JSON, not in PNG")
    pan_gt_pred = pan_gt * OFFSET + pan_pred
    gt_pred_map = {}
    labels, counts = np.unique(pan_gt_pred, return_counts=True)
    for label, inter in zip(labels.tolist(), counts.tolist()):
        gt_pred_map[(label // OFFSET, label % OFFSET)] = inter
    gt_matched, pred_matched = set(), set()
    for (gt_label, pred_label), inter in gt_pred_map.items():
        if gt_label not in gt_segms or pred_label not in pred_segms:
            continue
        if gt_segms[gt_label]["iscrowd"] == 1:
            continue
        if gt_segms[gt_label]["category_id"] != pred_segms[pred_label]["category_id"]:
            continue
        union = (pred_segms[pred_label]["area"] + gt_segms[gt_label]["area"] - inter
                 - gt_pred_map.get((VOID, pred_label), 0))
        iou = inter / union
        if iou > 0.5:
            st = stats[gt_segms[gt_label]["category_id"]]
            st.tp += 1
            st.iou += iou
            gt_matched.add(gt_label)
            pred_matched.add(pred_label)
    crowd_by_cat = {}
    for gt_label, info in gt_segms.items():
        if gt_label in gt_matched:
            continue
        if info["iscrowd"] == 1:
            crowd_by_cat[info["category_id"]] = gt_label
            continue
        stats[info["category_id"]].fn += 1
    for pred_label, info in pred_segms.items():
        if pred_label in pred_matched:
            continue
        inter = gt_pred_map.get((VOID, pred_label), 0)
        if info["category_id"] in crowd_by_cat:
            inter += gt_pred_map.get((crowd_by_cat[info["category_id"]], pred_label), 0)
        if inter / info["area"] > 0.5:
            continue
        stats[info["category_id"]].fp += 1


def pq_average(stats, categories, isthing):
    pq = sq = rq = 0.0
    n = 0
    per_class = {}
    for cat in categories:
        if isthing is not None and (cat["isthing"] == 1) != isthing:
            continue
        st = stats[cat["id"]]
        if st.tp + st.fp + st.fn == 0:
            per_class[cat["id"]] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
            continue
        n += 1
        d = st.tp + 0.5 * st.fp + 0.5 * st.fn
        per_class[cat["id"]] = {"pq": st.iou / d, "sq": st.iou / st.tp if st.tp else 0.0,
                                "rq": st.tp / d}
        pq += per_class[cat["id"]]["pq"]
        sq += per_class[cat["id"]]["sq"]
        rq += per_class[cat["id"]]["rq"]
    if n == 0:  # panopticapi divides by zero here; psalm reports zeros with n = 0
        return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}, per_class
    return {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n}, per_class


def evaluate(images):
    stats = defaultdict(Stat)
    cat_ids = {c["id"] for c in CATEGORIES}
    for img in images:
        pq_image(stats, cat_ids, img)
    out = {}
    for name, isthing in [("all", None), ("things", True), ("stuff", False)]:
        out[name], _ = pq_average(stats, CATEGORIES, isthing)
    _, per = pq_average(stats, CATEGORIES, None)
    out["per_class"] = {str(c): {**per[c], "tp": stats[c].tp, "fp": stats[c].fp,
                                 "fn": stats[c].fn, "iou": stats[c].iou} for c in per}
    return out


def random_id(rng, used):
    while True:
        r, g, b = (int(v) for v in rng.integers(0, 256, 3))
        sid = r + 256 * g + 256 * 256 * b
        if sid != VOID and sid not in used:
            used.add(sid)
            return sid


def make_scene(rng, h, w, crowd, pred_void, gt_void):
    """A gt id map of stuff bands and thing blobs, and a perturbed prediction of it."""
    used = set()
    yy, xx = np.mgrid[0:h, 0:w]
    cats = {}
    gt = np.zeros((h, w), np.int64)
    cuts = sorted(rng.integers(1, h, 2).tolist())
    for band, (y0, y1) in enumerate(zip([0] + cuts, cuts + [h])):
        sid = random_id(rng, used)
        cats[sid] = STUFF[band % 3]
        gt[y0:y1] = sid
    for _ in range(int(rng.integers(2, 6))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(2, h / 3), rng.uniform(2, w / 3)
        m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        sid = random_id(rng, used)
        cats[sid] = int(rng.choice(THINGS))
        gt[m] = sid
    if gt_void:
        gt[rng.random((h, w)) < 0.04] = VOID
        gt[:, : int(rng.integers(0, 3))] = VOID
    present = [s for s in np.unique(gt).tolist() if s != VOID]
    crowd_ids = set()
    if crowd:
        things_present = [s for s in present if cats[s] in THINGS]
        for s in things_present[: max(1, len(things_present) // 3)]:
            crowd_ids.add(s)
    gt_segments = [{"id": s, "category_id": cats[s], "iscrowd": int(s in crowd_ids),
                    "area": int((gt == s).sum())} for s in present]
    # prediction: shifted copy with relabelled, dropped, merged and spurious segments
    pred = np.roll(gt, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
    pred_cats, remap = {}, {}
    pused = set()
    for s in np.unique(pred).tolist():
        if s == VOID:
            continue
        r = rng.random()
        if r < 0.1 and remap:
            remap[s] = list(remap.values())[0]  # merged into another segment
            continue
        remap[s] = random_id(rng, pused)
        pred_cats[remap[s]] = cats[s] if rng.random() > 0.15 else int(
            rng.choice([c["id"] for c in CATEGORIES]))
    new = np.zeros_like(pred)
    for s, t in remap.items():
        new[pred == s] = t
    pred = new
    if not pred_void:  # fill VOID pixels (from gt VOID) with the stuff of the first band
        fill = remap[min(remap)] if remap else random_id(rng, pused)
        pred_cats.setdefault(fill, STUFF[0])
        pred[pred == VOID] = fill
    for _ in range(int(rng.integers(0, 3))):  # spurious things
        y0, x0 = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
        sid = random_id(rng, pused)
        pred_cats[sid] = int(rng.choice(THINGS))
        pred[y0 : y0 + int(rng.integers(2, 8)), x0 : x0 + int(rng.integers(2, 8))] = sid
    if pred_void:
        pred[rng.random((h, w)) < 0.05] = VOID
        y0 = int(rng.integers(0, h - 3))
        pred[y0 : y0 + 3, :] = VOID
    pred_present = [s for s in np.unique(pred).tolist() if s != VOID]
    pred_segments = [{"id": s, "category_id": pred_cats[s]} for s in pred_present]
    return gt, gt_segments, pred, pred_segments


def torchmetrics_check(images):
    """torchmetrics PanopticQuality on the same images, per class and on average."""
    import torch
    from torchmetrics.detection import PanopticQuality

    void = (max(THINGS + STUFF) + 1, 0)
    metric = PanopticQuality(things=set(THINGS), stuffs=set(STUFF), return_per_class=True,
                             allow_unknown_preds_category=True)

    def to_pairs(ids, segments):
        cat = {s["id"]: s["category_id"] for s in segments}
        out = np.zeros(ids.shape + (2,), np.int64)
        for s in np.unique(ids).tolist():
            m = ids == s
            out[m] = void if s == VOID else (cat[s], s)
        return torch.from_numpy(out)[None]

    for img in images:
        gt = np.array(img["gt_ids"]).reshape(img["h"], img["w"])
        pred = np.array(img["pred_ids"]).reshape(img["h"], img["w"])
        metric.update(to_pairs(pred, img["pred_segments"]), to_pairs(gt, img["gt_segments"]))
    return metric.compute().double().numpy().reshape(-1)  # per class, sorted by category id


def main():
    rng = np.random.default_rng(SEED)
    scenes = []
    for name, n, crowd, pred_void, gt_void in [("plain", 4, False, False, True),
                                               ("void_and_crowd", 5, True, True, True),
                                               ("crowd_only", 3, True, False, False)]:
        images = []
        for i in range(n):
            h, w = int(rng.integers(20, 48)), int(rng.integers(20, 48))
            gt, gts, pred, preds = make_scene(rng, h, w, crowd, pred_void, gt_void)
            images.append({"image_id": 100 + i, "h": h, "w": w, "gt_ids": gt.reshape(-1).tolist(),
                           "pred_ids": pred.reshape(-1).tolist(), "gt_segments": gts,
                           "pred_segments": preds})
        expected = evaluate(images)
        if name == "plain":
            tm = torchmetrics_check(images)
            ours = np.array([expected["per_class"][str(c)]["pq"] for c in sorted(THINGS + STUFF)])
            assert np.allclose(tm, ours, atol=1e-6), (tm, ours)
            print("torchmetrics agrees on the plain scene:", np.round(tm, 4).tolist())
        scenes.append({"name": name, "images": images, "expected": expected})
        print(name, {k: expected[k] for k in ("all", "things", "stuff")})
    out = {"versions": {"numpy": np.__version__,
                        "torchmetrics": importlib.metadata.version("torchmetrics")},
           "categories": CATEGORIES, "scenes": scenes}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {OUT}: {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
