"""pycocotools' view of an exported synthetic dataset, as a committed fixture.

Reads the dataset written by the C++ exporter with
    seed 7, split val, 4 scenes of 96 x 96, 1 video of 3 frames
(tests/data/test_synthetic_export.cpp: check_options), produced by
    PSALM_SYNTH_EXPORT_DIR=/tmp/psalm_synth_check <build>/tests/test_data "[.synthetic_export]"
and writes tests/fixtures/synthetic/pycocotools_check.json with, per instance annotation, the area,
bbox and compressed RLE string that pycocotools computes from the decoded mask (COCO.annToMask,
mask.encode / area / toBbox); per panoptic image, the segment areas counted from the RGB id PNG
(id = R + 256 G + 256^2 B, read with Pillow); per interactive annotation, the pycocotools area of
each prompt mask.

Usage: python synthetic_check.py /tmp/psalm_synth_check tests/fixtures/synthetic/pycocotools_check.json
"""
import json
import sys

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO


def main(root: str, out_path: str) -> None:
    coco = COCO(f"{root}/instances_val.json")
    instances = []
    for ann_id in sorted(coco.getAnnIds()):
        ann = coco.loadAnns([ann_id])[0]
        m = coco.annToMask(ann)  # decoded by pycocotools
        rle = mask_utils.encode(np.asfortranarray(m))
        instances.append({
            "id": ann_id,
            "area": int(mask_utils.area(rle)),
            "bbox": [float(v) for v in mask_utils.toBbox(rle)],
            "counts": rle["counts"].decode("ascii"),
        })
    with open(f"{root}/panoptic_val.json") as f:
        pan = json.load(f)
    panoptic = []
    for ann in pan["annotations"]:
        rgb = np.asarray(Image.open(f"{root}/panoptic_val/{ann['file_name']}").convert("RGB"),
                         dtype=np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        values, counts = np.unique(ids, return_counts=True)
        panoptic.append({str(int(v)): int(c) for v, c in zip(values, counts)})
    with open(f"{root}/coco_interactive_val_psalm.json") as f:
        inter = json.load(f)
    interactive = []
    for ann in inter["annotations"]:
        entry = {}
        for key in ("point", "scribble", "box", "mask"):
            rle = dict(ann[f"{key}_visual_prompt_mask"])
            rle["counts"] = rle["counts"].encode("ascii")
            entry[key] = int(mask_utils.area(rle))
        interactive.append(entry)
    with open(out_path, "w") as f:
        json.dump({"instances": instances, "panoptic": panoptic, "interactive": interactive}, f,
                  indent=0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
