#!/usr/bin/env python3
"""Writes tests/fixtures/video/cases.json: DAVIS 2017 semi-supervised measures (J, F, statistics,
J&F) on small synthetic multi-object sequences, for tests/eval/test_video.cpp.

The measures are re-derived from davisvideochallenge/davis2017-evaluation (read, not copied):
  * metrics.py db_eval_iou: J = |A & B| / |A | B|, 1 when the union is empty;
  * metrics.py f_measure: boundaries by _seg2bmap, radius bound_pix = bound_th if >= 1 else
    ceil(bound_th * ||(H, W)||), dilation with cv2.dilate by skimage.morphology.disk(bound_pix),
    precision / recall with the special cases for empty boundaries, F = 2PR / (P + R);
  * utils.py db_statistics: mean, recall (> 0.5), decay over 4 bins of
    round(linspace(1, n, 5) + 1e-10) - 1;
  * evaluation.py: frames 1..T-2, K = max id of the first gt frame, void (255) -> background,
    per-object statistics; evaluation_method.py: global means, J&F = (J-Mean + F-Mean) / 2.
The cv2 dilation is cross-checked with scipy.ndimage.binary_dilation on every frame.

Deterministic (numpy default_rng with a fixed seed). Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/video_fixtures.py
Needs scikit-image and opencv-python-headless in the venv (versions are written to the JSON).
"""

import json
import math
import os

import cv2
import numpy as np
import scipy
import skimage
from scipy import ndimage
from skimage.morphology import disk

from common import FIXTURES, value_runs

SEED = 20240910
OUT = FIXTURES / "video" / "cases.json"


def seg2bmap(seg):
    seg = seg.astype(bool)
    h, w = seg.shape
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def j_measure(gt, pred):
    gt, pred = gt.astype(bool), pred.astype(bool)
    inter = np.sum(gt & pred)
    union = np.sum(gt | pred)
    return 1.0 if np.isclose(union, 0) else float(inter / union)


def f_measure(pred, gt, bound_th=0.008):
    bound_pix = bound_th if bound_th >= 1 else np.ceil(bound_th * np.linalg.norm(pred.shape))
    fg_b = seg2bmap(pred)
    gt_b = seg2bmap(gt)
    kernel = disk(bound_pix).astype(np.uint8)
    fg_dil = cv2.dilate(fg_b.astype(np.uint8), kernel)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), kernel)
    # Cross-check of the dilation: scipy with the same (symmetric) structuring element.
    assert np.array_equal(fg_dil.astype(bool), ndimage.binary_dilation(fg_b, kernel.astype(bool)))
    assert np.array_equal(gt_dil.astype(bool), ndimage.binary_dilation(gt_b, kernel.astype(bool)))
    gt_match = gt_b * fg_dil
    fg_match = fg_b * gt_dil
    n_fg, n_gt = np.sum(fg_b), np.sum(gt_b)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision = np.sum(fg_match) / float(n_fg)
        recall = np.sum(gt_match) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def statistics(values):
    values = np.asarray(values, dtype=float)
    m = np.nanmean(values)
    o = np.nanmean(values > 0.5)
    ids = np.round(np.linspace(1, len(values), 5) + 1e-10) - 1
    ids = ids.astype(np.uint8)
    bins = [values[ids[i]:ids[i + 1] + 1] for i in range(4)]
    d = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return float(m), float(o), float(d)


def ellipse(h, w, cy, cx, ry, rx):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def make_sequence(rng, name, h, w, frames, objects, bound_th):
    """Objects move along straight lines; the prediction drifts, misses and swaps a little."""
    starts = [(rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w) for _ in range(objects)]
    vel = [(rng.uniform(-2, 2), rng.uniform(-2, 2)) for _ in range(objects)]
    radii = [(rng.uniform(3, h / 4), rng.uniform(3, w / 4)) for _ in range(objects)]
    gts, preds = [], []
    for t in range(frames):
        gt = np.zeros((h, w), dtype=np.int32)
        pred = np.zeros((h, w), dtype=np.int32)
        for k in range(objects):
            cy, cx = starts[k][0] + vel[k][0] * t, starts[k][1] + vel[k][1] * t
            ry, rx = radii[k]
            gt[ellipse(h, w, cy, cx, ry, rx)] = k + 1
            if k == objects - 1 and t == frames // 2:
                continue  # the last object is lost for one frame
            dy, dx = rng.normal(0, 1.5), rng.normal(0, 1.5)
            grow = rng.uniform(0.8, 1.25)
            pred[ellipse(h, w, cy + dy, cx + dx, ry * grow, rx * grow)] = k + 1
        noise = rng.random((h, w)) < 0.01
        pred[noise] = rng.integers(0, objects + 1, size=int(noise.sum()))
        gt[rng.random((h, w)) < 0.01] = 255  # void pixels, background for the toolkit
        if t == frames - 2 and objects > 1:
            gt[0:3, 0:3] = objects + 1  # an id above K in a later frame is ignored
        gts.append(gt)
        preds.append(pred)
    if objects > 1:  # the first object vanishes in frame 2 from both: J = F = 1 there
        for arr in (gts[2], preds[2]):
            arr[arr == 1] = 0
    return evaluate_sequence(name, gts, preds, bound_th)


def evaluate_sequence(name, gts, preds, bound_th):
    gts_clean = [np.where(g == 255, 0, g) for g in gts]
    k = int(gts_clean[0].max())
    objs = []
    for obj in range(1, k + 1):
        js, fs = [], []
        for t in range(1, len(gts) - 1):
            g = gts_clean[t] == obj
            p = preds[t] == obj
            js.append(j_measure(g, p))
            fs.append(f_measure(p, g, bound_th))
        jm, jr, jd = statistics(js)
        fm, fr, fd = statistics(fs)
        objs.append({"object_id": obj, "j": js, "f": fs, "j_mean": jm, "j_recall": jr,
                     "j_decay": jd, "f_mean": fm, "f_recall": fr, "f_decay": fd})
    h, w = gts[0].shape
    return {"name": name, "height": int(h), "width": int(w), "bound_th": bound_th,
            "gt_rle": [value_runs(g) for g in gts], "pred_rle": [value_runs(p) for p in preds],
            "objects": objs}


def f_cases(rng):
    """Single-frame F-measures: odd shapes, thin images, empty masks, several radii."""
    out = []
    shapes = [(1, 9), (9, 1), (2, 2), (7, 11), (30, 40), (64, 48), (100, 130)]
    for h, w in shapes:
        for bound_th in (0.008, 0.03, 1, 2, 4):
            for kind in ("random", "random", "pred_empty", "gt_empty", "both_empty"):
                a = ellipse(h, w, rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1, h),
                            rng.uniform(1, w))
                b = np.roll(a, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), (0, 1))
                b ^= rng.random((h, w)) < 0.03
                if kind in ("pred_empty", "both_empty"):
                    b[:] = False
                if kind in ("gt_empty", "both_empty"):
                    a[:] = False
                out.append({"height": h, "width": w, "bound_th": bound_th,
                            "pred_rle": value_runs(b.astype(np.uint8)), "gt_rle": value_runs(a.astype(np.uint8)),
                            "f": f_measure(b, a, bound_th), "j": j_measure(a, b)})
    return out


def statistics_cases(rng):
    out = []
    for n in list(range(1, 14)) + [40, 101]:
        v = rng.random(n)
        v[rng.random(n) < 0.2] = 1.0
        m, o, d = statistics(v)
        out.append({"values": v.tolist(), "mean": m, "recall": o, "decay": d})
    return out


def main():
    rng = np.random.default_rng(SEED)
    seqs = [
        make_sequence(rng, "two-balls", 48, 64, 9, 2, 0.008),
        make_sequence(rng, "three-cars", 90, 120, 7, 3, 0.008),
        make_sequence(rng, "single", 40, 52, 3, 1, 0.008),
        make_sequence(rng, "wide-radius", 50, 70, 8, 2, 3),
    ]
    # Global numbers over all objects of the sequences scored with the ratio radius.
    ratio = [o for s in seqs if s["bound_th"] < 1 for o in s["objects"]]
    g = {key: float(np.mean([o[key] for o in ratio]))
         for key in ("j_mean", "j_recall", "j_decay", "f_mean", "f_recall", "f_decay")}
    g["jf_mean"] = (g["j_mean"] + g["f_mean"]) / 2.0
    data = {"generator": "tools/reference/video_fixtures.py", "seed": SEED,
            "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-image": skimage.__version__, "opencv": cv2.__version__,
            "sequences": seqs, "global_ratio_sequences": g,
            "f_cases": f_cases(rng), "statistics_cases": statistics_cases(rng)}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(data, f)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes); global {g}")


if __name__ == "__main__":
    main()
