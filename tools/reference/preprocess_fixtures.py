"""Golden values for PSALM's image preprocessing and mask post-processing
(include/psalm/psalm/{preprocess,postprocess}.hpp), written to tests/fixtures/preprocess/. CI never
runs this; rerun it after changing a case and commit the output:

    tools/reference/.venv/bin/python tools/reference/preprocess_fixtures.py

Reference pipeline (PSALM_SPEC §1.1 and §5, written here from detectron2's definitions):
  * ResizeShortestEdge(T, max_size=T).get_output_shape, then Pillow Image.resize BILINEAR on the
    uint8 RGB image (detectron2 ResizeTransform for uint8);
  * FixedSizeCrop(T): np.pad bottom/right with 128; padding_mask True on padded pixels;
  * (torch uint8 CHW - torch.Tensor(mean).view(-1,1,1)) / torch.Tensor(std).view(-1,1,1), float32;
  * post-processing: F.interpolate(logits, (T, T), bilinear, align_corners=False), crop
    [:h, :w], F.interpolate to (H0, W0) (detectron2's sem_seg_postprocess), float32.

Images and logits are integer / float formulas that tests/preprocess/ re-computes in C++
(image_pixel, logit_value), so no image is stored. 1024 outputs are stored as checksums and
strided samples; the resized uint8 image and the 128 pixels of some cases in full.
"""
import math
import pathlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

torch.set_num_threads(1)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "preprocess"
MEAN = torch.Tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
STD = torch.Tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)


def image_pixel(h, w, seed):
    """(H, W, 3) uint8 test image: ramps, a checkerboard with hard edges, a radial pattern."""
    y = np.arange(h, dtype=np.int64)[:, None]
    x = np.arange(w, dtype=np.int64)[None, :]
    r = (x * 3 + y * 2 + seed * 17 + (x * y) // 7) % 256
    g = ((x + 4096 - y) * 5 + ((x // 16 + y // 16) % 2) * 64) % 256
    b = ((x * x + 3 * y * y) // 13 + seed * 31) % 256
    return np.stack(np.broadcast_arrays(r, g, b), axis=-1).astype(np.uint8)


def logit_value(planes, h, w):
    """(P, h, w) float32 logits: smooth waves plus a small high-frequency term."""
    q = np.arange(planes, dtype=np.float64)[:, None, None]
    y = np.arange(h, dtype=np.float64)[None, :, None]
    x = np.arange(w, dtype=np.float64)[None, None, :]
    hf = ((np.arange(w)[None, None, :] * 31 + np.arange(h)[None, :, None] * 17
           + np.arange(planes)[:, None, None] * 7) % 101).astype(np.float64)
    v = np.sin(0.05 * (x + 1) * (q + 1)) + np.cos(0.031 * y * (q + 2)) + 0.001 * hf
    return torch.from_numpy(v.astype(np.float32))


def shortest_edge_size(h, w, size):
    scale = size / min(h, w)
    if h < w:
        newh, neww = size, scale * w
    else:
        newh, neww = scale * h, size
    if max(newh, neww) > size:
        s = size / max(newh, neww)
        newh, neww = newh * s, neww * s
    return int(newh + 0.5), int(neww + 0.5)


def preprocess(img, target):
    h0, w0 = img.shape[:2]
    h, w = shortest_edge_size(h0, w0, target)
    resized = np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))
    padded = np.pad(resized, ((0, target - h), (0, target - w), (0, 0)), mode="constant",
                    constant_values=128.0)
    mask = np.pad(np.ones((h, w)), ((0, target - h), (0, target - w)), constant_values=0)
    chw = torch.as_tensor(np.ascontiguousarray(padded.transpose(2, 0, 1)))
    pixels = (chw - MEAN) / STD
    return resized, pixels, torch.from_numpy(~mask.astype(bool)), (h, w)


def sem_seg_postprocess(result, img_size, out_h, out_w):
    result = result[:, : img_size[0], : img_size[1]].expand(1, -1, -1, -1)
    return F.interpolate(result, size=(out_h, out_w), mode="bilinear", align_corners=False)[0]


def postprocess(logits, target, valid, h0, w0):
    up = F.interpolate(logits[None], size=(target, target), mode="bilinear", align_corners=False)[0]
    return sem_seg_postprocess(up, valid, h0, w0)


def checksum(a):
    """sum of value * (i mod 997 + 1) over the flat uint8 array, exact in float64."""
    flat = a.reshape(-1).astype(np.int64)
    return float(np.sum(flat * (np.arange(flat.size, dtype=np.int64) % 997 + 1)))


def samples(t, target):
    s = max(1, target // 32)
    return t[..., ::s, ::s].contiguous()


# (name, H0, W0, seed, targets with full outputs stored)
IMAGES = [("landscape_480x640", 480, 640, 1, (128, 256)), ("coco_375x500", 375, 500, 2, ()),
          ("portrait_500x333", 500, 333, 3, ()), ("small_37x50", 37, 50, 4, ()),
          ("exact_192x256", 192, 256, 5, ())]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, h0, w0, seed, full in IMAGES:
        img = image_pixel(h0, w0, seed)
        out = {}
        for target in (128, 256, 1024):
            resized, pixels, mask, (h, w) = preprocess(img, target)
            k = f"t{target}."
            out[k + "extent"] = torch.tensor([h, w], dtype=torch.float64)
            out[k + "resized_checksum"] = torch.tensor([checksum(resized)], dtype=torch.float64)
            out[k + "pixels_sum"] = pixels.double().sum(dim=(1, 2))
            out[k + "pixels_samples"] = samples(pixels, target)
            out[k + "mask_sum"] = torch.tensor([float(mask.sum())], dtype=torch.float64)
            if target in full:
                out[k + "resized"] = torch.from_numpy(resized.copy())
                if target == 128:
                    out[k + "pixels"] = pixels
            # Predictions at 1/4 of the padded input, and the pixels themselves (full
            # resolution), brought back to the original image.
            logits = logit_value(3, target // 4, target // 4)
            back = postprocess(logits, target, (h, w), h0, w0)
            pix_back = postprocess(pixels, target, (h, w), h0, w0)
            out[k + "post_sum"] = back.double().sum(dim=(1, 2))
            out[k + "post_samples"] = back[:, ::23, ::19].contiguous()
            out[k + "pixels_back_samples"] = pix_back[:, ::23, ::19].contiguous()
            if target == 128 and h0 * w0 < 4000:
                out[k + "post"] = back
        path = OUT / f"{name}.safetensors"
        save_file(out, str(path))
        total += path.stat().st_size
        print(f"{name}: {path.stat().st_size / 1024:.0f} KiB")
    print(f"total {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
