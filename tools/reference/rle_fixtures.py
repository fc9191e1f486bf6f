#!/usr/bin/env python3
"""Writes tests/fixtures/rle/rle_cases.json: COCO RLE facts computed by pycocotools, for
tests/io/test_rle.cpp.

Deterministic (numpy default_rng with a fixed seed). Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/rle_fixtures.py

JSON layout (masks are strings of '0'/'1', row-major, height * width chars):
    masks:    [{h, w, mask, counts (compressed string), ucounts (run list), area, bbox}]
    ious:     [{dt: [mask index], gt: [mask index], iscrowd: [0/1 per gt], iou: D x G}]
    polygons: [{h, w, polygons: [[x0, y0, ...], ...], each: [compressed string per polygon],
                merged: compressed string of their union, area, bbox}]
    boxes:    [{h, w, box: [x, y, w, h], counts}]
    merges:   [{masks: [mask index], union: counts, intersection: counts}]
"""

import importlib.metadata
import json
import os

import numpy as np
from pycocotools import mask as mask_utils

from common import FIXTURES, coco_uncompressed_counts

SEED = 20240901
OUT = FIXTURES / "rle" / "rle_cases.json"


def to_str(counts):
    return counts.decode("ascii") if isinstance(counts, bytes) else counts


def encode(mask):
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def random_mask(rng, h, w, kind):
    if kind == "empty":
        return np.zeros((h, w), np.uint8)
    if kind == "full":
        return np.ones((h, w), np.uint8)
    if kind == "noise":
        return (rng.random((h, w)) < rng.uniform(0.1, 0.9)).astype(np.uint8)
    # blob: a few random rectangles and discs
    m = np.zeros((h, w), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.5:
            y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
            m[y0 : y0 + int(rng.integers(1, h + 1)), x0 : x0 + int(rng.integers(1, w + 1))] = 1
        else:
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.5, max(h, w) / 2 + 1)
            m[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
    return m


def mask_string(m):
    return "".join("1" if v else "0" for v in m.flatten(order="C"))


def main():
    rng = np.random.default_rng(SEED)
    sizes = [(1, 1), (1, 17), (13, 1), (7, 5), (5, 7), (31, 23), (64, 48), (97, 3), (40, 61)]
    kinds = ["empty", "full", "noise", "blob", "blob", "noise"]
    masks = []
    for h, w in sizes:
        for kind in kinds:
            masks.append(random_mask(rng, h, w, kind))
    # one large mask so that runs need several 5-bit groups and deltas go negative
    big = random_mask(rng, 300, 257, "blob")
    masks.append(big)
    out = {"pycocotools": importlib.metadata.version("pycocotools"),
           "numpy": np.__version__, "masks": [], "ious": [], "polygons": [], "boxes": [],
           "merges": []}
    rles = []
    for m in masks:
        rle = encode(m)
        rles.append(rle)
        out["masks"].append({
            "h": int(m.shape[0]), "w": int(m.shape[1]), "mask": mask_string(m),
            "counts": to_str(rle["counts"]), "ucounts": coco_uncompressed_counts(m),
            "area": int(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
        })
        # round trip via pycocotools decode must give the mask back
        assert np.array_equal(mask_utils.decode(rle), m)
    by_size = {}
    for i, m in enumerate(masks):
        by_size.setdefault(m.shape, []).append(i)
    for shape, idx in by_size.items():
        # add overlapping variants: shifted / eroded copies so that IoUs are non-trivial
        dt = list(idx)
        gt = list(reversed(idx))
        iscrowd = [int(rng.random() < 0.4) for _ in gt]
        ious = mask_utils.iou([rles[i] for i in dt], [rles[i] for i in gt], iscrowd)
        ious = np.asarray(ious, dtype=np.float64).reshape(len(dt), len(gt))
        out["ious"].append({"dt": dt, "gt": gt, "iscrowd": iscrowd, "iou": ious.tolist()})
        # merges of all masks of that size (pycocotools merge needs equal sizes)
        sel = idx[:4]
        union = mask_utils.merge([rles[i] for i in sel], intersect=False)
        inter = mask_utils.merge([rles[i] for i in sel], intersect=True)
        out["merges"].append({"masks": sel, "union": to_str(union["counts"]),
                              "intersection": to_str(inter["counts"])})
    # near-duplicate pairs for sharp IoU values
    for k in range(6):
        h, w = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        a = random_mask(rng, h, w, "blob")
        b = a.copy()
        flip = rng.random((h, w)) < 0.05
        b[flip] = 1 - b[flip]
        ia, ib = len(masks), len(masks) + 1
        for m in (a, b):
            masks.append(m)
            rle = encode(m)
            rles.append(rle)
            out["masks"].append({
                "h": h, "w": w, "mask": mask_string(m), "counts": to_str(rle["counts"]),
                "ucounts": coco_uncompressed_counts(m), "area": int(mask_utils.area(rle)),
                "bbox": [float(v) for v in mask_utils.toBbox(rle)]})
        iscrowd = [k % 2, 1 - k % 2]
        ious = np.asarray(mask_utils.iou([rles[ia], rles[ib]], [rles[ia], rles[ib]], iscrowd),
                          dtype=np.float64).reshape(2, 2)
        out["ious"].append({"dt": [ia, ib], "gt": [ia, ib], "iscrowd": iscrowd,
                            "iou": ious.tolist()})
    # polygons: random, with fractional coords, points outside the image, concave shapes
    for k in range(40):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        polys = []
        for _ in range(int(rng.integers(1, 4))):
            n = int(rng.integers(3, 12))
            if k % 4 == 0:  # integer and half-integer coordinates (rounding edge cases)
                xs = rng.integers(-4, 2 * w + 4, n) / 2.0
                ys = rng.integers(-4, 2 * h + 4, n) / 2.0
            else:
                cx, cy = rng.uniform(-5, w + 5), rng.uniform(-5, h + 5)
                ang = np.sort(rng.uniform(0, 2 * np.pi, n))
                rad = rng.uniform(0.3, max(h, w), n)
                xs, ys = cx + rad * np.cos(ang), cy + rad * np.sin(ang)
            polys.append([float(v) for pair in zip(xs, ys) for v in pair])
        each = mask_utils.frPyObjects(polys, h, w)
        merged = mask_utils.merge(each)
        out["polygons"].append({
            "h": h, "w": w, "polygons": polys, "each": [to_str(r["counts"]) for r in each],
            "merged": to_str(merged["counts"]), "area": int(mask_utils.area(merged)),
            "bbox": [float(v) for v in mask_utils.toBbox(merged)]})
    # boxes as frPyObjects rasterises them (an N x 4 array; a list of 4-number lists is a
    # TypeError in pycocotools 2.0.11)
    for k in range(12):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        box = [float(rng.uniform(-3, w)), float(rng.uniform(-3, h)),
               float(rng.uniform(0, w)), float(rng.uniform(0, h))]
        if k % 3 == 0:
            box = [float(round(v)) for v in box]
        r = mask_utils.frPyObjects(np.array([box], dtype=np.float64), h, w)[0]
        out["boxes"].append({"h": h, "w": w, "box": box, "counts": to_str(r["counts"])})
    # uncompressed RLE through frPyObjects gives the same string as encoding the mask
    for k in range(5):
        m = masks[int(rng.integers(0, len(masks)))]
        uc = {"size": [int(m.shape[0]), int(m.shape[1])], "counts": coco_uncompressed_counts(m)}
        r = mask_utils.frPyObjects(uc, m.shape[0], m.shape[1])
        assert to_str(r["counts"]) == to_str(encode(m)["counts"])
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {OUT}: {len(out['masks'])} masks, {len(out['ious'])} iou sets, "
          f"{len(out['polygons'])} polygon sets, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
