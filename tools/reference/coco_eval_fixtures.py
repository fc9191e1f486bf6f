#!/usr/bin/env python3
"""Writes tests/fixtures/coco_eval/<scenario>.json: COCO ground truth, segm results and what
pycocotools COCOeval (iouType 'segm') reports for them, for tests/eval/test_coco_instance.cpp.

Deterministic (numpy default_rng with a fixed seed). Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/coco_eval_fixtures.py

Each file holds {"gt": COCO dict, "results": list, "stats": the 12 summary numbers,
"recall": eval['recall'] (T x K x A x M, nested lists), "precision_all_100":
eval['precision'][:, :, :, 0, 2] (T x R x K)}. Scenarios:
    mixed:     8 images of odd sizes, 3 non-contiguous categories, polygon / RLE / uncompressed
               RLE ground truth, crowd regions, gt `area` fields that differ from the mask area,
               near-perfect, sloppy, duplicate and random detections with tied scores, an image
               with no gt, an image with no detections, a detection of an unknown category.
    perfect:   detections equal to the ground truth (AP = 1 where defined).
    crowded:   140 detections on one image (maxDets truncation at 1 / 10 / 100), crowd-only
               category (undefined AP = -1), objects in all three area ranges.
"""

import contextlib
import copy
import importlib.metadata
import io
import json
import os

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from common import FIXTURES, coco_uncompressed_counts

SEED = 20240902
OUT_DIR = FIXTURES / "coco_eval"


def rle_str(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def uncompressed(mask):
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": coco_uncompressed_counts(mask)}


def blob(rng, h, w, scale):
    """A random ellipse-ish blob of roughly `scale` pixels across."""
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    ry, rx = rng.uniform(0.3, 1.0) * scale, rng.uniform(0.3, 1.0) * scale
    m = ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx) / max(rx, 0.5)) ** 2 <= 1.0
    if not m.any():
        m[min(int(cy), h - 1), min(int(cx), w - 1)] = True
    return m.astype(np.uint8)


def big_rect(rng, h, w):
    """A large object (area well above 96^2 in the 150-pixel images)."""
    m = np.zeros((h, w), np.uint8)
    y0, x0 = int(rng.integers(0, h // 8)), int(rng.integers(0, w // 8))
    m[y0 : y0 + int(h * 0.8), x0 : x0 + int(w * 0.8)] = 1
    return m


def polygon(rng, h, w, scale):
    n = int(rng.integers(3, 9))
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = rng.uniform(0.3, 1.0, n) * scale
    xs, ys = cx + rad * np.cos(ang), cy + rad * np.sin(ang)
    return [float(round(v, 2)) for pair in zip(xs, ys) for v in pair]


def shoelace(poly):
    xs, ys = np.array(poly[0::2]), np.array(poly[1::2])
    return float(0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))


def perturb(rng, mask, amount):
    m = mask.copy()
    if amount <= 0:
        return m
    flip = rng.random(m.shape) < amount
    # flip only near the object so the result stays a plausible detection
    near = np.zeros_like(m, dtype=bool)
    ys, xs = np.nonzero(m)
    if len(ys):
        near[max(ys.min() - 2, 0) : ys.max() + 3, max(xs.min() - 2, 0) : xs.max() + 3] = True
    m[flip & near] = 1 - m[flip & near]
    shift = int(rng.integers(-1, 2))
    return np.roll(m, shift, axis=int(rng.integers(0, 2)))


def gt_mask(ann, h, w):
    seg = ann["segmentation"]
    if isinstance(seg, list):
        return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(seg, h, w)))
    if isinstance(seg["counts"], list):
        return mask_utils.decode(mask_utils.frPyObjects(seg, h, w))
    return mask_utils.decode(seg)


def run_cocoeval(gt, results):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco_gt, coco_dt, "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {
        "stats": [float(v) for v in ev.stats],
        "recall": ev.eval["recall"].tolist(),
        "precision_all_100": ev.eval["precision"][:, :, :, 0, 2].tolist(),
    }


def add_detections(rng, results, image_id, cat, mask, quality):
    if quality == "good":
        m, score = perturb(rng, mask, 0.05), rng.uniform(0.5, 1.0)
    elif quality == "sloppy":
        m, score = perturb(rng, mask, 0.3), rng.uniform(0.1, 0.9)
    else:  # duplicate of a good one with a lower score
        m, score = perturb(rng, mask, 0.1), rng.uniform(0.0, 0.6)
    score = round(float(score), 1)  # coarse scores: many ties
    results.append({"image_id": image_id, "category_id": cat, "segmentation": rle_str(m),
                    "score": score})


def scenario_mixed(rng):
    cats = [1, 3, 7]
    gt = {"images": [], "annotations": [],
          "categories": [{"id": c, "name": f"cat{c}"} for c in cats]}
    results = []
    sizes = [(37, 53), (64, 48), (120, 90), (23, 71), (150, 140), (48, 48), (81, 33), (99, 101)]
    ann_id = 1
    for image_id, (h, w) in zip([5, 2, 11, 3, 8, 1, 42, 7], sizes):
        gt["images"].append({"id": image_id, "height": h, "width": w, "file_name": f"{image_id}.png"})
        if image_id == 42:  # no ground truth, only false positives
            for _ in range(3):
                m = blob(rng, h, w, 10)
                results.append({"image_id": image_id, "category_id": int(rng.choice(cats)),
                                "segmentation": rle_str(m), "score": round(float(rng.random()), 2)})
            continue
        for _ in range(int(rng.integers(2, 7))):
            cat = int(rng.choice(cats))
            scale = float(rng.choice([4, 12, 30, 90]))
            kind = rng.integers(0, 3)
            crowd = int(rng.random() < 0.15)
            if kind == 0 and not crowd:
                polys = [polygon(rng, h, w, scale)]
                if rng.random() < 0.3:
                    polys.append(polygon(rng, h, w, scale / 2))
                seg = polys
                area = sum(shoelace(p) for p in polys)  # COCO's polygon area, not the mask's
            else:
                m = blob(rng, h, w, scale) if scale < 90 or h < 100 else big_rect(rng, h, w)
                seg = uncompressed(m) if (crowd or kind == 1) else rle_str(m)
                area = float(m.sum())
                if rng.random() < 0.2:
                    area *= float(rng.uniform(0.5, 2.0))  # the gt `area` field rules the ranges
            ann = {"id": ann_id, "image_id": image_id, "category_id": cat, "segmentation": seg,
                   "area": area, "iscrowd": crowd, "bbox": [0, 0, 1, 1]}
            ann_id += 1
            gt["annotations"].append(ann)
            if image_id == 3:  # image with ground truth but no detections
                continue
            mask = gt_mask(ann, h, w)
            r = rng.random()
            if crowd:
                for _ in range(int(rng.integers(0, 3))):  # detections inside a crowd region
                    add_detections(rng, results, image_id, cat, mask * blob(rng, h, w, scale),
                                   "sloppy")
            elif r < 0.55:
                add_detections(rng, results, image_id, cat, mask, "good")
                if rng.random() < 0.3:
                    add_detections(rng, results, image_id, cat, mask, "duplicate")
            elif r < 0.85:
                add_detections(rng, results, image_id, cat, mask, "sloppy")
            # else: missed
        for _ in range(int(rng.integers(0, 3))):  # random false positives
            results.append({"image_id": image_id, "category_id": int(rng.choice(cats)),
                            "segmentation": rle_str(blob(rng, h, w, 8)),
                            "score": round(float(rng.random()), 1)})
    # a detection of a category the ground truth does not know: COCOeval drops it
    results.append({"image_id": 5, "category_id": 99, "segmentation": rle_str(blob(rng, 37, 53, 9)),
                    "score": 0.99})
    # an empty detection mask
    results.append({"image_id": 2, "category_id": 3,
                    "segmentation": rle_str(np.zeros((64, 48), np.uint8)), "score": 0.5})
    return gt, results


def scenario_perfect(rng):
    gt = {"images": [], "annotations": [], "categories": [{"id": 2}, {"id": 4}]}
    results = []
    ann_id = 10
    for image_id, (h, w) in [(1, (40, 30)), (2, (130, 120))]:
        gt["images"].append({"id": image_id, "height": h, "width": w})
        for k in range(4):
            m = blob(rng, h, w, [5, 15, 40, 100][k]) if k < 3 or h < 100 else big_rect(rng, h, w)
            cat = [2, 4][k % 2]
            gt["annotations"].append({"id": ann_id, "image_id": image_id, "category_id": cat,
                                      "segmentation": rle_str(m), "area": float(m.sum()),
                                      "iscrowd": 0})
            ann_id += 1
            results.append({"image_id": image_id, "category_id": cat, "segmentation": rle_str(m),
                            "score": 1.0})
    return gt, results


def scenario_crowded(rng):
    h, w = 160, 150
    gt = {"images": [{"id": 1, "height": h, "width": w}, {"id": 2, "height": 30, "width": 30}],
          "annotations": [], "categories": [{"id": 1}, {"id": 2}, {"id": 5}]}
    results = []
    ann_id = 1
    masks = []
    for k in range(12):  # small, medium and large objects of category 1
        m = blob(rng, h, w, [3, 6, 20, 45, 100][k % 5]) if k != 4 else big_rect(rng, h, w)
        masks.append(m)
        gt["annotations"].append({"id": ann_id, "image_id": 1, "category_id": 1,
                                  "segmentation": rle_str(m), "area": float(m.sum()),
                                  "iscrowd": 0})
        ann_id += 1
    crowd = blob(rng, h, w, 50)
    gt["annotations"].append({"id": ann_id, "image_id": 1, "category_id": 5,
                              "segmentation": uncompressed(crowd), "area": float(crowd.sum()),
                              "iscrowd": 1})  # category 5 has only crowd gt: AP undefined
    ann_id += 1
    small = blob(rng, 30, 30, 6)
    gt["annotations"].append({"id": ann_id, "image_id": 2, "category_id": 2,
                              "segmentation": rle_str(small), "area": float(small.sum()),
                              "iscrowd": 0})
    for k in range(140):
        if k < 24:
            m = perturb(rng, masks[k % 12], 0.08 if k < 12 else 0.25)
        else:
            m = blob(rng, h, w, float(rng.choice([4, 10, 40])))
        results.append({"image_id": 1, "category_id": 1 if k % 7 else 5,
                        "segmentation": rle_str(m), "score": round(float(rng.random()), 3)})
    results.append({"image_id": 2, "category_id": 2, "segmentation": rle_str(perturb(rng, small, 0.1)),
                    "score": 0.7})
    return gt, results


def main():
    rng = np.random.default_rng(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)
    versions = {"pycocotools": importlib.metadata.version("pycocotools"), "numpy": np.__version__}
    for name, make in [("mixed", scenario_mixed), ("perfect", scenario_perfect),
                       ("crowded", scenario_crowded)]:
        gt, results = make(rng)
        expected = run_cocoeval(gt, results)
        out = {"versions": versions, "gt": gt, "results": results, **expected}
        path = os.path.join(OUT_DIR, f"{name}.json")
        with open(path, "w") as f:
            json.dump(out, f, separators=(",", ":"))
        print(f"wrote {path}: {len(gt['annotations'])} gt, {len(results)} dt, "
              f"{os.path.getsize(path)} bytes, stats {np.round(expected['stats'], 4).tolist()}")


if __name__ == "__main__":
    main()
