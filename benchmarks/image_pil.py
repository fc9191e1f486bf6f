"""Pillow baseline for benchmarks/image.cpp: image decoding, resizing and PNG encoding.

Writes the benchmark's input images deterministically into OUT_DIR (an RGB test pattern of
smooth gradients, 64-pixel blocks and hashed noise, the same formula as pattern_value() in
benchmarks/image.cpp, saved by Pillow as PNG and as JPEG quality 90; a 4-label mask saved as a
gray PNG), times Pillow (one thread, best of REPEATS) on the same operations as the C++ program,
and writes a JSON baseline naming the files, the times and a checksum of each exact result
(decoded PNG pixels, bilinear and nearest resize outputs), so the C++ side checks that it
computed the very same pixels as Pillow.

Operations, per image size (640x480 and 1920x1080):
  decode_png    Image.open + load of the RGB PNG
  decode_jpeg   Image.open + load of the RGB JPEG (libjpeg-turbo in Pillow's wheel; stb in psalm)
  resize_rgb    Image.resize to long side 1024, BILINEAR (PSALM's image preprocessing)
  resize_mask   Image.resize of the mask to long side 1024, NEAREST
  encode_png    Image.save(format="PNG") of the RGB image (Pillow's default zlib level 6)

Usage (from the repository root):
  benchmarks/image_pil.py needs Pillow and numpy, e.g. the reference venv:
  tools/reference/.venv/bin/python benchmarks/image_pil.py --dir /tmp/psalm_image_bench
  build/benchmarks/bench_image --baseline /tmp/psalm_image_bench/baseline.json
"""

import argparse
import io
import json
import os
import pathlib
import sys
import time

import numpy as np
import PIL
from PIL import Image
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_timing import best_seconds  # noqa: E402

SIZES = [(640, 480), (1920, 1080)]  # (width, height)
LONG_SIDE = 1024
JPEG_QUALITY = 90


def pattern(width, height):
    """(H, W, 3) uint8: gradients + 64-pixel checkerboard + 4 bits of hashed noise."""
    y = np.arange(height, dtype=np.int64)[:, None, None]
    x = np.arange(width, dtype=np.int64)[None, :, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    base = (x * (97 + 31 * c)) // width + (y * (59 + 17 * c)) // height
    base = base + 40 * (((x // 64) + (y // 64) + c) % 2)
    h = (((y * 73856093) ^ (x * 19349663) ^ (c * 83492791)) & 0xFFFFFFFF).astype(np.uint64)
    h = (h * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)  # < 2^64 before the mask
    noise = (h >> np.uint64(28)).astype(np.int64)
    return ((base + noise) & 255).astype(np.uint8)


def mask_pattern(width, height):
    """(H, W) uint8 labels 0..3 in a 7 x 5 grid of blocks."""
    y = np.arange(height, dtype=np.int64)[:, None]
    x = np.arange(width, dtype=np.int64)[None, :]
    return (((x * 7) // width + ((y * 5) // height) * 7) % 4).astype(np.uint8)


def checksum(array):
    """sum_i v_i * ((i * 2654435761) mod 2^32) mod 2^64, over the row-major bytes."""
    v = np.ascontiguousarray(array).reshape(-1).astype(np.uint64)
    idx = np.arange(v.size, dtype=np.uint64)
    w = (idx * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    return int((v * w).sum(dtype=np.uint64))


def long_side_size(width, height):
    """(w, h) with the long side LONG_SIDE and the other rounded as int(x + 0.5)."""
    scale = LONG_SIDE / max(width, height)
    return int(width * scale + 0.5), int(height * scale + 0.5)




def decode(data):
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/psalm_image_bench", help="folder for images + JSON")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    result = {"reference": f"Pillow {PIL.__version__}, numpy {np.__version__}, 1 thread",
              "long_side": LONG_SIDE, "jpeg_quality": JPEG_QUALITY, "cases": []}
    for width, height in SIZES:
        rgb = pattern(width, height)
        mask = mask_pattern(width, height)
        stem = os.path.join(args.dir, f"pattern_{width}x{height}")
        Image.fromarray(rgb, "RGB").save(stem + ".png")
        Image.fromarray(rgb, "RGB").save(stem + ".jpg", quality=JPEG_QUALITY)
        Image.fromarray(mask, "L").save(stem + "_mask.png")
        with open(stem + ".png", "rb") as f:
            png = f.read()
        with open(stem + ".jpg", "rb") as f:
            jpg = f.read()
        im = decode(png)
        mask_im = Image.fromarray(mask, "L")
        ow, oh = long_side_size(width, height)
        resized = im.resize((ow, oh), Image.BILINEAR)
        resized_mask = mask_im.resize((ow, oh), Image.NEAREST)
        encoded = io.BytesIO()
        im.save(encoded, format="PNG")

        def encode_png():
            im.save(io.BytesIO(), format="PNG")

        times = {
            "decode_png": best_seconds(lambda: decode(png), args.repeats),
            "decode_jpeg": best_seconds(lambda: decode(jpg), args.repeats),
            "resize_rgb": best_seconds(lambda: im.resize((ow, oh), Image.BILINEAR), args.repeats),
            "resize_mask": best_seconds(lambda: mask_im.resize((ow, oh), Image.NEAREST),
                                        args.repeats),
            "encode_png": best_seconds(encode_png, args.repeats),
        }
        case = {
            "width": width, "height": height, "out_width": ow, "out_height": oh,
            "png": stem + ".png", "jpeg": stem + ".jpg", "mask": stem + "_mask.png",
            "png_bytes": len(png), "jpeg_bytes": len(jpg), "encoded_png_bytes": encoded.tell(),
            "checksum_pattern": checksum(rgb),
            "checksum_decode_png": checksum(np.asarray(im)),
            "checksum_resize_rgb": checksum(np.asarray(resized)),
            "checksum_resize_mask": checksum(np.asarray(resized_mask)),
            "seconds": times,
        }
        result["cases"].append(case)
        print(f"{width}x{height}: " + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in times.items()))
    out = os.path.join(args.dir, "baseline.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
