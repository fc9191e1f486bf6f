#!/usr/bin/env python3
"""Writes tests/fixtures/semantic/cases.json: label maps with detectron2 SemSegEvaluator metrics,
for tests/eval/test_semantic.cpp.

detectron2 is not pip-installable here, so its definitions are re-derived in numpy from
detectron2/evaluation/sem_seg_evaluation.py (process: gt == ignore -> N, bincount of
(N + 1) * pred + gt into an (N + 1)^2 matrix; evaluate: tp, pos_gt, pos_pred over the first N
rows/columns, IoU and ACC only where pos_gt > 0). The per-class IoU, per-class accuracy and pixel
accuracy are cross-checked with torchmetrics (MulticlassJaccardIndex / MulticlassAccuracy,
ignore_index) on the cases whose predictions stay inside [0, N), where the conventions coincide.

Deterministic (numpy default_rng with a fixed seed). Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/semantic_fixtures.py

JSON format (documented in tests/fixtures/semantic/README.md):
    {"cases": [{"name", "num_classes", "ignore_label",
                "images": [{"height", "width", "pred_rle", "gt_rle"}],
                "confusion": [(N+1)*(N+1) ints, row = pred, col = gt],
                "iou": [N floats or null], "acc": [N floats or null],
                "miou", "fwiou", "macc", "pacc": float or null}]}
    *_rle = [value, run, value, run, ...] over the row-major pixels.
"""

import json
import os

import numpy as np
import torch
import torchmetrics
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from common import FIXTURES, value_runs

SEED = 20240908
OUT = FIXTURES / "semantic" / "cases.json"


def blobs(rng, h, w, classes, count):
    """A label map made of overlapping random rectangles and ellipses."""
    lab = np.full((h, w), int(rng.choice(classes)), dtype=np.int64)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(count):
        c = int(rng.choice(classes))
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(1, h / 2 + 1), rng.uniform(1, w / 2 + 1)
        if rng.random() < 0.5:
            m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        else:
            m = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        lab[m] = c
    return lab


def perturb(rng, gt, n, ignore, allow_dropped):
    """A prediction: gt shifted by a pixel or two, some blobs relabelled, salt noise."""
    pred = gt.copy()
    pred[pred == ignore] = int(rng.integers(0, n))
    pred = np.roll(pred, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
    h, w = gt.shape
    extra = blobs(rng, h, w, list(range(n)), 3)
    m = rng.random((h, w)) < 0.15
    pred[m] = extra[m]
    noise = rng.random((h, w)) < 0.05
    pred[noise] = rng.integers(0, n, size=int(noise.sum()))
    if allow_dropped:  # class id N: detectron2 puts these pixels into its dropped row
        drop = rng.random((h, w)) < 0.04
        pred[drop] = n
    return pred


def detectron2_metrics(images, n, ignore):
    conf = np.zeros((n + 1, n + 1), dtype=np.int64)
    for pred, gt in images:
        gt = gt.copy()
        gt[gt == ignore] = n
        conf += np.bincount((n + 1) * pred.reshape(-1) + gt.reshape(-1),
                            minlength=conf.size).reshape(conf.shape)
    acc = np.full(n, np.nan, dtype=float)
    iou = np.full(n, np.nan, dtype=float)
    tp = conf.diagonal()[:-1].astype(float)
    pos_gt = np.sum(conf[:-1, :-1], axis=0).astype(float)
    class_weights = pos_gt / np.sum(pos_gt)
    pos_pred = np.sum(conf[:-1, :-1], axis=1).astype(float)
    acc_valid = pos_gt > 0
    acc[acc_valid] = tp[acc_valid] / pos_gt[acc_valid]
    union = pos_gt + pos_pred - tp
    iou_valid = np.logical_and(acc_valid, union > 0)
    iou[iou_valid] = tp[iou_valid] / union[iou_valid]
    macc = np.sum(acc[acc_valid]) / np.sum(acc_valid)
    miou = np.sum(iou[iou_valid]) / np.sum(iou_valid)
    fiou = np.sum(iou[iou_valid] * class_weights[iou_valid])
    pacc = np.sum(tp) / np.sum(pos_gt)
    return conf, iou, acc, miou, fiou, macc, pacc


def torchmetrics_check(images, n, ignore, iou, acc, pacc):
    jac = MulticlassJaccardIndex(num_classes=n, ignore_index=ignore, average="none")
    rec = MulticlassAccuracy(num_classes=n, ignore_index=ignore, average="none")
    micro = MulticlassAccuracy(num_classes=n, ignore_index=ignore, average="micro")
    for pred, gt in images:
        p = torch.from_numpy(pred.reshape(1, -1))
        g = torch.from_numpy(gt.reshape(1, -1))
        jac.update(p, g)
        rec.update(p, g)
        micro.update(p, g)
    tm_iou = jac.compute().double().numpy()
    tm_acc = rec.compute().double().numpy()
    valid = ~np.isnan(iou)
    assert np.allclose(tm_iou[valid], iou[valid], rtol=0, atol=1e-6), (tm_iou, iou)
    assert np.allclose(tm_acc[valid], acc[valid], rtol=0, atol=1e-6), (tm_acc, acc)
    assert abs(float(micro.compute()) - pacc) < 1e-6


def nan_to_none(v):
    return None if np.isnan(v) else float(v)


def make_case(rng, name, n, ignore, sizes, allow_dropped, absent_gt, absent_all):
    gt_classes = [c for c in range(n) if c not in absent_gt and c not in absent_all]
    images = []
    for h, w in sizes:
        gt = blobs(rng, h, w, gt_classes, 6)
        gt[rng.random((h, w)) < 0.05] = ignore
        pred = perturb(rng, gt, n, ignore, allow_dropped)
        for c in absent_all:  # a class that appears nowhere
            pred[pred == c] = gt_classes[0]
        images.append((pred, gt))
    conf, iou, acc, miou, fiou, macc, pacc = detectron2_metrics(images, n, ignore)
    for c in absent_gt:
        assert np.isnan(iou[c]) and conf[c, :-1].sum() > 0, "class should be predicted only"
    if not allow_dropped:
        torchmetrics_check(images, n, ignore, iou, acc, pacc)
    return {
        "name": name,
        "num_classes": n,
        "ignore_label": ignore,
        "images": [{"height": int(p.shape[0]), "width": int(p.shape[1]), "pred_rle": value_runs(p),
                    "gt_rle": value_runs(g)} for p, g in images],
        "confusion": conf.reshape(-1).tolist(),
        "iou": [nan_to_none(v) for v in iou],
        "acc": [nan_to_none(v) for v in acc],
        "miou": nan_to_none(miou),
        "fwiou": nan_to_none(fiou),
        "macc": nan_to_none(macc),
        "pacc": nan_to_none(pacc),
    }


def main():
    rng = np.random.default_rng(SEED)
    cases = [
        make_case(rng, "in_range_predictions", 6, 255, [(23, 31), (40, 17), (1, 50)], False,
                  absent_gt=[4], absent_all=[5]),
        make_case(rng, "dropped_class_n_and_ignore", 8, 255, [(30, 30), (12, 45), (19, 7)],
                  True, absent_gt=[2], absent_all=[7]),
        make_case(rng, "pc459_style_ignore_65535", 12, 65535, [(25, 20), (16, 33)], True,
                  absent_gt=[], absent_all=[]),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generator": "tools/reference/semantic_fixtures.py", "seed": SEED,
                   "numpy": np.__version__, "torch": torch.__version__,
                   "torchmetrics": torchmetrics.__version__, "cases": cases}, f)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(cases)} cases); torchmetrics agrees")


if __name__ == "__main__":
    main()
