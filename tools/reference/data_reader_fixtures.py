"""Hand-made datasets in the exact published formats, and what pycocotools / numpy read from them.

Writes tests/fixtures/data_readers/tiny/ (a few small images and):
  instances.json        COCO instances: polygons (one with a hole cut by a self-crossing outline,
                        one nested inside another, one partly outside the image, two disjoint
                        parts), a compressed RLE, a crowd uncompressed RLE, an image with an
                        empty annotation list
  instances_empty.json  COCO instances whose `annotations` list is empty
  panoptic.json + panoptic/*.png   COCO panoptic: stuff and things, a crowd segment, void
                        pixels, a listed segment with no pixel
  refcoco.json          PSALM's converted RefCOCO (datasets/build_RefCOCO.py): image_info,
                        REFER sentence dicts, one ann per entry
  grefcoco.json         PSALM's converted gRefCOCO (build_gRefCOCO.py): several targets, a
                        no-target entry (empty anns)
  grefs(unc).json       gRefCOCO as shipped (ann_id lists, [-1]) beside instances.json
  coco_interactive.json PSALM's converted COCO-Interactive (bulid_COCO_Interactivate.py): the four
                        *_visual_prompt_mask RLEs, an empty scribble, a crowd annotation
  davis/                DAVIS-2017 (JPEGImages / Annotations (DAVIS palette) / ImageSets, 480p):
                        an object that appears only from frame 2, void pixels; a sequence whose
                        later frames are not annotated (test-dev style)
  semantic/             an FC-CLIP-style semantic folder (images/*.jpg, labels/*.png with 255
                        ignore), one image without labels; labels_tif/a.tif a PASCAL Context
                        459 style 16-bit TIFF (Pillow), 65535 ignore
and tests/fixtures/data_readers/expected.json: per annotation pycocotools' annToRLE (compressed
counts) and area, getAnnIds per image (file order), the panoptic segment masks (numpy rgb2id),
PSALM's referring instruction strings, the interactive prompts after the load-time dilation
(coco_instance_mapper.py enhance_with_circles, transcribed in numpy), the DAVIS object masks per
frame, the semantic classes present. Masks are pycocotools compressed RLE strings.

Usage (from the repository root): tools/reference/.venv/bin/python tools/reference/data_reader_fixtures.py
"""
import json
import os
import shutil

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from common import FIXTURES, ROOT, davis_palette

OUT = FIXTURES / "data_readers"
TINY = OUT / "tiny"
rng = np.random.default_rng(18)


def rle_str(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return rle["counts"].decode("ascii")


def rle_json(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def uncompressed_rle(mask):
    flat = mask.astype(np.uint8).flatten(order="F")
    counts, value, run = [], 0, 0
    for v in flat:
        if v == value:
            run += 1
        else:
            counts.append(run)
            value, run = v, 1
    counts.append(run)
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def save_image(path, h, w, mode="RGB"):
    pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    img = Image.fromarray(pixels, "RGB")
    if mode == "L":
        img = img.convert("L")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        img.save(path, quality=95)
    else:
        img.save(path)
    return img


def box(h, w, y0, x0, y1, x1):
    m = np.zeros((h, w), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def disc_dilate(mask, radius):
    """coco_instance_mapper.py enhance_with_circles: every set pixel grown into the disc
    sqrt((x - cx)^2 + (y - cy)^2) <= radius."""
    out = np.zeros_like(mask, dtype=np.uint8)
    yy, xx = np.ogrid[: mask.shape[0], : mask.shape[1]]
    for cy, cx in np.argwhere(mask == 1):
        out[np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) <= radius] = 1
    return out


def write_json(name, obj):
    with open(TINY / name, "w") as f:
        json.dump(obj, f, indent=1)


def main():
    if TINY.exists():
        shutil.rmtree(TINY)
    (TINY / "images").mkdir(parents=True)
    images = [
        {"id": 1, "file_name": "000001.png", "height": 24, "width": 32},
        {"id": 2, "file_name": "000002.jpg", "height": 20, "width": 16},  # a gray JPEG
        {"id": 5, "file_name": "000005.png", "height": 16, "width": 16},  # no annotation
    ]
    save_image(TINY / "images/000001.png", 24, 32)
    save_image(TINY / "images/000002.jpg", 20, 16, mode="L")
    save_image(TINY / "images/000005.png", 16, 16)
    categories = [
        {"id": 1, "name": "cat", "supercategory": "animal"},
        {"id": 3, "name": "dog", "supercategory": "animal"},
        {"id": 7, "name": "traffic light", "supercategory": "outdoor"},
    ]
    h1, w1 = 24, 32
    rle_mask = box(h1, w1, 14, 20, 22, 30)
    rle_mask[17:19, 23:27] = 0  # a hole, written as RLE
    crowd = box(h1, w1, 0, 24, 6, 32)
    h2, w2 = 20, 16
    unc = box(h2, w2, 2, 2, 9, 7)
    annotations = [
        {"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 50.0,
         "bbox": [1, 1, 10, 8], "segmentation": [[1.0, 1.5, 11.2, 1.0, 6.5, 9.7]]},
        # A hole cut by a self-crossing outline: outer ring, bridge, inner ring backwards.
        {"id": 11, "image_id": 1, "category_id": 3, "iscrowd": 0, "area": 120.0,
         "bbox": [12, 2, 12, 12],
         "segmentation": [[12, 2, 24, 2, 24, 14, 12, 14, 12, 8, 15, 8, 15, 11, 21, 11, 21, 5,
                           15, 5, 15, 8, 12, 8]]},
        # A polygon nested inside another: pycocotools merges (union): no hole.
        {"id": 12, "image_id": 1, "category_id": 3, "iscrowd": 0, "area": 64.0,
         "bbox": [2, 12, 9, 9],
         "segmentation": [[2, 12, 11, 12, 11, 21, 2, 21], [4, 14, 8, 14, 8, 18, 4, 18]]},
        {"id": 13, "image_id": 1, "category_id": 7, "iscrowd": 0,
         "area": float(rle_mask.sum()), "bbox": [20, 14, 10, 8], "segmentation": rle_json(rle_mask)},
        {"id": 14, "image_id": 1, "category_id": 1, "iscrowd": 1,
         "area": float(crowd.sum()), "bbox": [24, 0, 8, 6], "segmentation": uncompressed_rle(crowd)},
        # Partly outside the image.
        {"id": 15, "image_id": 1, "category_id": 7, "iscrowd": 0, "area": 30.0,
         "bbox": [0, 0, 6, 6], "segmentation": [[-3.0, -2.5, 6.4, -2.0, 5.0, 5.5, -2.0, 6.0]]},
        {"id": 20, "image_id": 2, "category_id": 1, "iscrowd": 0,
         "area": float(unc.sum()), "bbox": [2, 2, 5, 7], "segmentation": uncompressed_rle(unc)},
        # Two disjoint parts.
        {"id": 21, "image_id": 2, "category_id": 7, "iscrowd": 0, "area": 20.0,
         "bbox": [9, 10, 6, 9],
         "segmentation": [[9.5, 10.5, 14.5, 10.5, 14.5, 13.5, 9.5, 13.5],
                          [10, 15, 13, 15, 11.5, 19]]},
        # A repeated vertex (pycocotools' slope is 0 / 0 there).
        {"id": 22, "image_id": 2, "category_id": 3, "iscrowd": 0, "area": 30.0,
         "bbox": [1, 10, 5, 7], "segmentation": [[1, 10, 6, 10, 6, 10, 6, 17, 1, 17]]},
        # No area at all (a flat outline): an empty mask, left out of examples.
        {"id": 23, "image_id": 2, "category_id": 3, "iscrowd": 0, "area": 0.0,
         "bbox": [0, 0, 4, 0], "segmentation": [[0, 0, 4, 0, 4, 0]]},
    ]
    instances = {"info": {"description": "psalm tiny"}, "images": images,
                 "annotations": annotations, "categories": categories}
    write_json("instances.json", instances)
    write_json("instances_empty.json", {"images": images[:1], "annotations": [],
                                        "categories": categories})

    coco = COCO(str(TINY / "instances.json"))
    expected = {"instances": {"annotations": {}, "image_annotations": {}}}
    for ann_id in coco.getAnnIds():
        ann = coco.loadAnns([ann_id])[0]
        m = coco.annToMask(ann)
        expected["instances"]["annotations"][str(ann_id)] = {
            "counts": rle_str(m), "area": int(m.sum()), "iscrowd": ann["iscrowd"]}
    for img in images:
        expected["instances"]["image_annotations"][str(img["id"])] = coco.getAnnIds(
            imgIds=[img["id"]], iscrowd=None)
    expected["instances"]["categories"] = [c["name"] for c in coco.loadCats(coco.getCatIds())]

    # COCO panoptic on image 1: ids as R + 256 G + 256^2 B.
    pan_cats = [
        {"id": 1, "name": "cat", "isthing": 1, "supercategory": "animal", "color": [220, 20, 60]},
        {"id": 7, "name": "traffic light", "isthing": 1, "supercategory": "outdoor",
         "color": [0, 0, 142]},
        {"id": 184, "name": "tree-merged", "isthing": 0, "supercategory": "plant",
         "color": [0, 114, 143]},
        {"id": 187, "name": "sky-other-merged", "isthing": 0, "supercategory": "sky",
         "color": [70, 130, 180]},
    ]
    ids = np.zeros((h1, w1), np.int64)
    ids[:10, :] = 5000001  # sky (stuff), spans 3 bytes
    ids[10:, :16] = 260  # tree (stuff)
    ids[12:20, 18:28] = 3  # cat
    ids[2:6, 2:6] = 70000  # a crowd of cats
    ids[20:, 20:] = 0  # void
    ids[14:18, 4:8] = 66051  # traffic light
    rgb = np.stack([ids % 256, (ids // 256) % 256, ids // 65536], -1).astype(np.uint8)
    (TINY / "panoptic").mkdir()
    Image.fromarray(rgb, "RGB").save(TINY / "panoptic/000001.png")
    segments = [
        {"id": 5000001, "category_id": 187, "iscrowd": 0},
        {"id": 260, "category_id": 184, "iscrowd": 0},
        {"id": 3, "category_id": 1, "iscrowd": 0},
        {"id": 70000, "category_id": 1, "iscrowd": 1},
        {"id": 66051, "category_id": 7, "iscrowd": 0},
        {"id": 99, "category_id": 7, "iscrowd": 0},  # listed, no pixel
    ]
    for s in segments:
        m = ids == s["id"]
        s["area"] = int(m.sum())
        ys, xs = np.nonzero(m) if m.any() else ([0], [0])
        s["bbox"] = [int(min(xs)), int(min(ys)), int(np.ptp(xs) + 1), int(np.ptp(ys) + 1)]
    write_json("panoptic.json", {
        "images": images[:1],
        "annotations": [{"image_id": 1, "file_name": "000001.png", "segments_info": segments}],
        "categories": pan_cats})
    # Read back with Pillow as panopticapi's rgb2id does.
    back = np.asarray(Image.open(TINY / "panoptic/000001.png").convert("RGB"), np.int64)
    back_ids = back[..., 0] + 256 * back[..., 1] + 65536 * back[..., 2]
    cat_index = {c["id"]: i for i, c in enumerate(pan_cats)}
    expected["panoptic"] = {
        "class_names": [c["name"] for c in pan_cats],
        "is_thing": [c["isthing"] for c in pan_cats],
        "panoptic": [{"label": cat_index[s["category_id"]], "counts": rle_str(back_ids == s["id"])}
                     for s in segments if not s["iscrowd"]],
        "instance": [{"label": cat_index[s["category_id"]], "counts": rle_str(back_ids == s["id"])}
                     for s in segments if not s["iscrowd"] and
                     pan_cats[cat_index[s["category_id"]]]["isthing"]],
    }
    semantic = []
    for c, cat in enumerate(pan_cats):  # crowd included, as FC-CLIP's semantic PNGs
        m = np.isin(back_ids, [s["id"] for s in segments if s["category_id"] == cat["id"]])
        if m.any():
            semantic.append({"label": c, "counts": rle_str(m)})
    expected["panoptic"]["semantic"] = semantic

    # RefCOCO converted (image_info = the COCO image entry, instruction = REFER sentences).
    def sent(text, sid):
        return {"tokens": text.split(), "raw": text.upper(), "sent_id": sid, "sent": text}

    ann = {a["id"]: a for a in annotations}
    refcoco = [
        {"image": "000001.png", "image_info": images[0],
         "instruction": [sent("the cat on the left", 100), sent("small cat", 101)],
         "anns": [ann[10]], "new_img_id": 0},
        {"image": "000002.jpg", "image_info": images[1],
         "instruction": [sent("two shapes at the bottom", 102)], "anns": [ann[21]],
         "new_img_id": 1},
    ]
    write_json("refcoco.json", refcoco)
    grefcoco = [
        {"image": "000001.png", "image_info": images[0],
         "instruction": [sent("all dogs", 200)], "anns": [ann[11], ann[12]], "new_img_id": 0},
        {"image": "000001.png", "image_info": images[0],
         "instruction": [sent("the purple giraffe", 201)], "anns": [], "new_img_id": 1},
    ]
    write_json("grefcoco.json", grefcoco)
    grefs = [
        {"ref_id": 7, "image_id": 1, "split": "val", "file_name": "COCO_x_7.jpg",
         "sentences": [sent("all dogs", 200)], "ann_id": [11, 12], "category_id": [3, 3],
         "no_target": False},
        {"ref_id": 8, "image_id": 1, "split": "val", "file_name": "COCO_x_8.jpg",
         "sentences": [sent("the purple giraffe", 201)], "ann_id": [-1], "category_id": [-1],
         "no_target": True},
        {"ref_id": 9, "image_id": 2, "split": "train", "file_name": "COCO_x_9.jpg",
         "sentences": [sent("the light", 202)], "ann_id": 21, "category_id": 7},
    ]
    write_json("grefs(unc).json", grefs)

    def referring_expected(entries):
        out = []
        for e in entries:
            h, w = e["image_info"]["height"], e["image_info"]["width"]
            masks = []
            for a in e["anns"]:
                m = coco.annToMask(coco.loadAnns([a["id"]])[0])
                assert m.shape == (h, w)
                masks.append(rle_str(m))
            # PSALM's instruction: ''.join(' {}.'.format(s['sent']) for s in sentences)
            instruction = "".join(" {}.".format(s["sent"]) for s in e["instruction"])
            out.append({"instruction": instruction,
                        "sentences": [s["sent"] for s in e["instruction"]], "masks": masks})
        return out

    expected["refcoco"] = referring_expected(refcoco)
    expected["grefcoco"] = referring_expected(grefcoco)

    # COCO-Interactive converted: anns of image 1 with the four prompt masks.
    def prompts_for(target, empty_scribble=False):
        ys, xs = np.nonzero(target)
        cy, cx = int(np.median(ys)), int(np.median(xs))
        point = np.zeros_like(target)
        point[cy, cx] = 1
        scribble = np.zeros_like(target)
        if not empty_scribble:
            for t in range(6):
                scribble[min(cy + t // 2, target.shape[0] - 1), min(cx + t, target.shape[1] - 1)] = 1
        bx = box(*target.shape, ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
        return {"point": point, "scribble": scribble, "box": bx, "mask": target.copy()}

    inter_anns, inter_expected = [], []
    for a_id in (10, 11, 14, 13):  # 14 is a crowd annotation
        a = dict(ann[a_id])
        target = coco.annToMask(coco.loadAnns([a_id])[0])
        p = prompts_for(target, empty_scribble=(a_id == 11))
        for k, m in p.items():
            a[f"{k}_visual_prompt_mask"] = rle_json(m)
        inter_anns.append(a)
        if a["iscrowd"]:
            continue
        inter_expected.append({
            "id": a_id, "target": rle_str(target),
            "prompts": {"point": rle_str(disc_dilate(p["point"], 10)),
                        "scribble": rle_str(disc_dilate(p["scribble"], 5)) if p["scribble"].any()
                        else None,
                        "box": rle_str(p["box"]), "mask": rle_str(p["mask"])}})
    write_json("coco_interactive.json", [
        {"image": "000001.png", "image_info": images[0], "new_img_id": 0, "anns": inter_anns}])
    expected["interactive"] = inter_expected

    # DAVIS-2017: seqA with 4 annotated frames (object 2 from frame 2 on, void 255), seqB with
    # only its first frame annotated.
    palette = [v for rgb in davis_palette() for v in rgb]  # as io::davis_palette, flat
    davis = TINY / "davis"
    frames_expected = {}
    for seq, n, annotated in (("seqA", 4, 4), ("seqB", 3, 1)):
        frames_expected[seq] = []
        for t in range(n):
            save_image(davis / f"JPEGImages/480p/{seq}/{t:05d}.jpg", 24, 32)
            if t >= annotated:
                continue
            lab = np.zeros((24, 32), np.uint8)
            lab[4 + t:12 + t, 3:11] = 1
            if seq == "seqA" and t >= 2:
                lab[14:20, 20 + t:28] = 2
            if seq == "seqA":
                lab[22:, :4] = 255  # void
                lab[0:3, 28:] = 3 if t == 0 else 0  # object 3 leaves after frame 0
            img = Image.fromarray(lab, "P")
            img.putpalette(palette)
            (davis / f"Annotations/480p/{seq}").mkdir(parents=True, exist_ok=True)
            img.save(davis / f"Annotations/480p/{seq}/{t:05d}.png")
            back = np.asarray(Image.open(davis / f"Annotations/480p/{seq}/{t:05d}.png"))
            frames_expected[seq].append({
                "labels": sorted(int(v) for v in np.unique(back)),
                "masks": {str(int(k)): rle_str(back == k) for k in np.unique(back)
                          if k not in (0, 255)}})
    (davis / "ImageSets/2017").mkdir(parents=True)
    (davis / "ImageSets/2017/val.txt").write_text("seqA\nseqB\n")
    expected["davis"] = frames_expected

    # Semantic folder (FC-CLIP's load_sem_seg layout), labels 0..2, 255 ignore.
    sem = TINY / "semantic"
    sem_expected = []
    for stem, h, w in (("a", 12, 16), ("b", 10, 10), ("c", 8, 8)):
        save_image(sem / f"images/{stem}.jpg", h, w)
        if stem == "c":
            continue  # no label map: left out
        lab = np.full((h, w), 255, np.uint8)
        lab[: h // 2, :] = 2
        lab[h // 2 :, : w // 2] = 0 if stem == "a" else 2
        (sem / "labels").mkdir(parents=True, exist_ok=True)
        Image.fromarray(lab, "L").save(sem / f"labels/{stem}.png")
        present = [int(v) for v in np.unique(lab) if v != 255]
        sem_expected.append({"stem": stem, "labels": present,
                             "masks": [rle_str(lab == v) for v in present]})
    expected["semantic"] = sem_expected
    # PASCAL Context 459 as FC-CLIP's prepare_pascal_ctx_full_sem_seg.py writes it: a uint16
    # array saved by Pillow as TIFF, 65535 = ignore.
    lab = np.full((12, 16), 65535, np.uint16)
    lab[:6, :] = 300
    lab[6:, :5] = 0
    lab[6:, 5:9] = 458
    (sem / "labels_tif").mkdir()
    Image.fromarray(lab).save(sem / "labels_tif/a.tif")
    back = np.asarray(Image.open(sem / "labels_tif/a.tif"))
    assert back.dtype == np.uint16 and (back == lab).all()
    present = [int(v) for v in np.unique(back) if v != 65535]
    expected["semantic_tif"] = {"labels": present, "masks": [rle_str(back == v) for v in present]}

    with open(OUT / "expected.json", "w") as f:
        json.dump(expected, f, indent=1)
    total = sum(p.stat().st_size for p in TINY.rglob("*") if p.is_file())
    print(f"wrote {TINY.relative_to(ROOT)} ({total} bytes) and expected.json")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
