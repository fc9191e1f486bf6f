#!/usr/bin/env python3
"""Writes tests/fixtures/image/ and tests/fixtures/malformed/image/: images encoded by Pillow and the
results of Pillow's Image.resize, for tests/io/test_image.cpp and tests/io/test_resize.cpp.

Deterministic (numpy default_rng with a fixed seed). Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/image_fixtures.py

tests/fixtures/image/cases.json:
    decode:   [{file, channels (0 = as stored), shape [H, W, C], fnv (hex, of the pixels
              Pillow decodes, converted as stb would), exact (bool), reference (PNG file
              holding Pillow's decode when not exact)}]
    indexed:  [{file, shape [H, W], fnv (of the indices), palette [[r, g, b], ...]}]
    labels:   [{file, shape [H, W], values (row-major ints)}]
    panoptic: [{file, ids (row-major ints), shape [H, W]}]
    resize:   [{input, mode (L|RGB|I|F), filter (bilinear|nearest), out [OH, OW],
              fnv (uint8 / int32 little-endian bytes), row_sums, col_sums} |
              float cases: {..., output (raw little-endian float32 file)}]
    normalize: {input, mean, std, pad [PH, PW], samples [[c, y, x, value]]}
    shortest_edge: [[h, w, oh, ow]] from detectron2's formula
Float inputs are raw little-endian float32 files (*.f32) with their shape in the case.
tests/fixtures/malformed/image/manifest.json: [{file, loader, expect (substring of the error)}]
"""

import importlib.metadata
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

from common import FIXTURES, davis_palette

SEED = 20240904
OUT = str(FIXTURES / "image")
BAD = os.path.join("tests", "fixtures", "malformed", "image")


def fnv(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def scene(rng, h, w, c):
    """Smooth gradients, hard-edged shapes, a checkerboard and a small noise patch."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for k in range(c):
        v = 128 + 90 * np.sin(x / (7.0 + 3 * k) + k) * np.cos(y / (5.0 + 2 * k))
        v += 40 * (x / max(w - 1, 1)) - 20 * (y / max(h - 1, 1))
        chans.append(v)
    img = np.stack(chans, axis=-1)
    img[h // 4 : h // 2, w // 5 : w // 2] = [255, 0, 30, 200][:c]
    cy, cx, r = h * 0.7, w * 0.7, min(h, w) * 0.2
    img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = [10, 250, 120, 90][:c]
    checker = ((np.floor(x / 2) + np.floor(y / 2)) % 2 == 0) & (y < h // 6) & (x > w // 2)
    img[checker] = 0
    ph, pw = max(1, h // 8), max(1, w // 8)
    img[h - ph :, :pw] = rng.integers(0, 256, size=(ph, pw, c))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def save(img: Image.Image, name: str, **kw):
    img.save(os.path.join(OUT, name), **kw)


def rgb_pixels(path, channels):
    """Pillow's decode, converted the way stb converts for `channels` (0 = as stored)."""
    im = Image.open(path)
    im.seek(0)
    if channels == 1:
        # stb's gray conversion: (77 R + 150 G + 29 B) >> 8, not Pillow's "L" rounding.
        a = np.asarray(im.convert("RGB")).astype(np.int32)
        return (((a[..., 0] * 77 + a[..., 1] * 150 + a[..., 2] * 29) >> 8).astype(np.uint8))[..., None]
    mode = {3: "RGB", 4: "RGBA"}.get(channels, im.mode if im.mode in ("L", "RGB", "RGBA") else "RGB")
    a = np.asarray(im.convert(mode))
    return a if a.ndim == 3 else a[..., None]


def sums(a):
    a = a.astype(np.int64)
    a3 = a if a.ndim == 3 else a[..., None]
    return a3.sum(axis=(1, 2)).tolist(), a3.sum(axis=(0, 2)).tolist()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(w, h, depth, ctype, rows: bytes, palette=None, interlace=0, compress=True):
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))
    if palette is not None:
        out += png_chunk(b"PLTE", bytes(v for rgb in palette for v in rgb))
    out += png_chunk(b"IDAT", zlib.compress(rows) if compress else rows)
    return out + png_chunk(b"IEND", b"")


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(BAD, exist_ok=True)
    rng = np.random.default_rng(SEED)
    cases = {"decode": [], "indexed": [], "labels": [], "panoptic": [], "resize": []}

    # ---- encoded inputs --------------------------------------------------------------------
    rgb_37x23 = scene(rng, 23, 37, 3)
    rgb_500x333 = scene(rng, 333, 500, 3)
    gray_64x48 = scene(rng, 48, 64, 1)[..., 0]
    gray_300x200 = scene(rng, 200, 300, 1)[..., 0]
    rgba_9x6 = scene(rng, 6, 9, 4)
    rgb_7x5 = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    save(Image.fromarray(rgb_37x23), "rgb_37x23.png")
    save(Image.fromarray(rgb_500x333), "rgb_500x333.png")
    save(Image.fromarray(gray_64x48), "gray_64x48.png")
    save(Image.fromarray(gray_300x200), "gray_300x200.png")
    save(Image.fromarray(rgba_9x6), "rgba_9x6.png")
    save(Image.fromarray(rgb_7x5), "rgb_7x5.png")
    save(Image.fromarray(rgb_37x23), "rgb_37x23.bmp")
    save(Image.fromarray(scene(rng, 48, 64, 3)), "rgb_64x48_q90.jpg", quality=90)
    save(Image.fromarray(gray_64x48), "gray_64x48_q85.jpg", quality=85)
    frames = [Image.fromarray(scene(rng, 20, 30, 3)).quantize(colors=32) for _ in range(3)]
    frames[0].save(os.path.join(OUT, "anim_30x20.gif"), save_all=True, append_images=frames[1:], duration=50)

    for name, ch in [("rgb_37x23.png", 0), ("rgb_37x23.png", 1), ("rgb_37x23.png", 4),
                     ("gray_64x48.png", 0), ("gray_64x48.png", 3), ("rgba_9x6.png", 0),
                     ("rgba_9x6.png", 3), ("rgb_7x5.png", 0), ("rgb_37x23.bmp", 3),
                     ("anim_30x20.gif", 3), ("rgb_64x48_q90.jpg", 3), ("gray_64x48_q85.jpg", 0)]:
        px = rgb_pixels(os.path.join(OUT, name), ch)
        if ch == 4 and px.shape[2] == 3:
            px = np.concatenate([px, np.full(px.shape[:2] + (1,), 255, np.uint8)], axis=2)
        exact = not name.endswith(".jpg")
        entry = {"file": name, "channels": ch, "shape": list(px.shape), "fnv": fnv(px.tobytes()),
                 "exact": exact}
        if not exact:
            ref = name.replace(".jpg", "_pillow.png")
            save(Image.fromarray(px[..., 0] if px.shape[2] == 1 else px), ref)
            entry["reference"] = ref
        cases["decode"].append(entry)

    # ---- indexed PNGs (DAVIS style) ---------------------------------------------------------
    pal = davis_palette()
    idx = np.zeros((30, 40), np.uint8)
    idx[5:20, 3:15] = 1
    idx[10:28, 20:38] = 2
    idx[0:4, 30:40] = 3
    idx[22:30, 0:8] = 255
    im = Image.frombytes("P", (idx.shape[1], idx.shape[0]), idx.tobytes())
    im.putpalette([v for rgb in pal for v in rgb])
    save(im, "davis_40x30.png")
    idx4 = (rng.integers(0, 11, size=(9, 13))).astype(np.uint8)
    im4 = Image.frombytes("P", (idx4.shape[1], idx4.shape[0]), idx4.tobytes())
    im4.putpalette([v for rgb in pal[:16] for v in rgb])
    save(im4, "indexed4_13x9.png", bits=4)
    for name in ["davis_40x30.png", "indexed4_13x9.png"]:
        back = Image.open(os.path.join(OUT, name))
        a = np.asarray(back)
        p = back.getpalette()
        cases["indexed"].append({"file": name, "shape": list(a.shape), "fnv": fnv(a.tobytes()),
                                 "bit_depth": 4 if "indexed4" in name else 8,
                                 "palette": [p[i : i + 3] for i in range(0, len(p), 3)]})
    cases["davis_palette_head"] = pal[:22]

    # ---- 16-bit and low-bit label maps ------------------------------------------------------
    lab16 = rng.integers(0, 65536, size=(11, 17)).astype(np.uint16)
    lab16[0, 0], lab16[0, 1] = 0, 65535
    Image.fromarray(lab16).save(os.path.join(OUT, "labels16_17x11.png"))
    bits1 = rng.integers(0, 2, size=(7, 19)).astype(bool)
    Image.fromarray(bits1).save(os.path.join(OUT, "mask1bit_19x7.png"))
    lab8 = rng.integers(0, 200, size=(6, 5)).astype(np.uint8)
    Image.fromarray(lab8).save(os.path.join(OUT, "labels8_5x6.png"))
    for name, arr in [("labels16_17x11.png", lab16), ("mask1bit_19x7.png", bits1),
                      ("labels8_5x6.png", lab8)]:
        back = np.asarray(Image.open(os.path.join(OUT, name))).astype(np.int64)
        if back.dtype == bool or name.startswith("mask1bit"):
            back = (back != 0).astype(np.int64)
        assert (back == arr.astype(np.int64)).all()
        cases["labels"].append({"file": name, "shape": list(arr.shape),
                                "values": arr.astype(np.int64).flatten().tolist()})

    # ---- panoptic RGB ids -------------------------------------------------------------------
    ids = rng.integers(0, 1 << 24, size=(10, 12)).astype(np.int64)
    rgbid = np.stack([ids % 256, (ids // 256) % 256, ids // 65536], axis=-1).astype(np.uint8)
    save(Image.fromarray(rgbid), "panoptic_12x10.png")
    cases["panoptic"].append({"file": "panoptic_12x10.png", "shape": [10, 12],
                              "ids": ids.flatten().tolist()})

    # ---- binary masks -----------------------------------------------------------------------
    m = np.zeros((9, 11), np.uint8)
    m[2:7, 3:9] = 255
    save(Image.fromarray(m), "mask255_11x9.png")
    cases["mask255"] = {"file": "mask255_11x9.png", "values": (m // 255).flatten().tolist()}

    # ---- resize ----------------------------------------------------------------------------
    labels_i = rng.integers(0, 70000, size=(31, 45)).astype(np.int32)
    Image.fromarray(labels_i.astype(np.uint16)).save(os.path.join(OUT, "labels16_45x31.png"))
    labels_i = labels_i.astype(np.uint16).astype(np.int32)
    float_img = (np.sin(np.mgrid[0:23, 0:37][1] / 3.0) * 100.0 + np.mgrid[0:23, 0:37][0] * 1.37
                 + rng.normal(0, 5, size=(23, 37))).astype(np.float32)
    float_img.astype("<f4").tofile(os.path.join(OUT, "float_37x23.f32"))
    inputs = {"rgb_37x23.png": rgb_37x23, "rgb_500x333.png": rgb_500x333,
              "gray_64x48.png": gray_64x48, "gray_300x200.png": gray_300x200,
              "rgb_7x5.png": rgb_7x5, "labels16_45x31.png": labels_i, "float_37x23.f32": float_img}
    plan = [
        ("rgb_37x23.png", [637, 1024]), ("rgb_37x23.png", [23, 37]), ("rgb_37x23.png", [97, 61]),
        ("rgb_37x23.png", [9, 101]), ("rgb_37x23.png", [23, 80]), ("rgb_37x23.png", [50, 37]),
        ("rgb_500x333.png", [97, 61]), ("rgb_500x333.png", [682, 1024]),
        ("rgb_500x333.png", [111, 167]), ("rgb_500x333.png", [1, 1]), ("rgb_500x333.png", [333, 499]),
        ("gray_64x48.png", [13, 17]), ("gray_64x48.png", [48, 64]), ("gray_64x48.png", [200, 3]),
        ("gray_300x200.png", [167, 250]), ("gray_300x200.png", [29, 1024]),
        ("rgb_37x23.png", [8, 30]), ("rgb_37x23.png", [8, 29]), ("gray_300x200.png", [49, 250]),
        ("gray_300x200.png", [150, 274]), ("gray_300x200.png", [150, 276]), ("rgb_7x5.png", [11, 3]), ("rgb_7x5.png", [1, 7]), ("rgb_7x5.png", [5, 1]),
    ]
    for name, (oh, ow) in plan:
        src = inputs[name]
        for filt in ["bilinear", "nearest"]:
            pil = Image.fromarray(src)
            out = np.asarray(pil.resize((ow, oh), Image.BILINEAR if filt == "bilinear" else Image.NEAREST))
            rs, cs = sums(out)
            cases["resize"].append({"input": name, "mode": pil.mode, "filter": filt, "out": [oh, ow],
                                    "fnv": fnv(np.ascontiguousarray(out).tobytes()),
                                    "row_sums": rs, "col_sums": cs})
    for oh, ow in [[62, 37], [23, 80], [200, 120], [7, 11], [23, 37]]:
        out = Image.fromarray(labels_i).resize((ow, oh), Image.NEAREST)
        a = np.asarray(out).astype("<i4")
        rs, cs = sums(a)
        cases["resize"].append({"input": "labels16_45x31.png", "mode": out.mode, "filter": "nearest",
                                "out": [oh, ow], "fnv": fnv(a.tobytes()), "row_sums": rs, "col_sums": cs})
    for oh, ow in [[97, 61], [7, 11], [23, 90], [50, 37], [9, 40], [8, 30]]:
        out = np.asarray(Image.fromarray(float_img).resize((ow, oh), Image.BILINEAR))
        fname = f"float_37x23_to_{ow}x{oh}.f32"
        out.astype("<f4").tofile(os.path.join(OUT, fname))
        cases["resize"].append({"input": "float_37x23.f32", "in_shape": [23, 37], "mode": "F",
                                "filter": "bilinear", "out": [oh, ow], "output": fname})

    # ---- PSALM normalisation and detectron2 shortest-edge sizes ------------------------------
    mean = np.array([123.675, 116.28, 103.53], np.float32)
    std = np.array([58.395, 57.12, 57.375], np.float32)
    chw = (rgb_7x5.astype(np.float32).transpose(2, 0, 1) - mean[:, None, None]) / std[:, None, None]
    padded = np.empty((3, 8, 10), np.float32)
    padded[:] = ((np.float32(128.0) - mean) / std)[:, None, None]
    padded[:, :5, :7] = chw
    samples = [[c, y, x, float(padded[c, y, x])] for c in range(3) for y in range(8) for x in range(10)]
    cases["normalize"] = {"input": "rgb_7x5.png", "pad": [8, 10], "samples": samples}
    se = []
    for h, w in [(23, 37), (333, 500), (500, 333), (1024, 1024), (480, 640), (1, 3000), (2000, 7),
                 (427, 640), (640, 427), (1023, 1025), (100, 100)]:
        size, max_size = 1024.0, 1024
        scale = size / min(h, w)
        newh, neww = (size, scale * w) if h < w else (scale * h, size)
        if max(newh, neww) > max_size:
            scale = max_size * 1.0 / max(newh, neww)
            newh, neww = newh * scale, neww * scale
        se.append([h, w, int(newh + 0.5), int(neww + 0.5)])
    cases["shortest_edge"] = se
    cases["versions"] = {"pillow": importlib.metadata.version("pillow"),
                         "numpy": importlib.metadata.version("numpy")}
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(cases, f, separators=(",", ":"))

    # ---- malformed files ---------------------------------------------------------------------
    bad = []

    def put(name, data, loader, expect):
        with open(os.path.join(BAD, name), "wb") as f:
            f.write(data)
        bad.append({"file": name, "loader": loader, "expect": expect})

    good_png = open(os.path.join(OUT, "rgb_37x23.png"), "rb").read()
    good_idx = open(os.path.join(OUT, "davis_40x30.png"), "rb").read()
    good_jpg = open(os.path.join(OUT, "rgb_64x48_q90.jpg"), "rb").read()
    rows8 = b"".join(b"\x00" + bytes(range(8)) for _ in range(4))
    put("empty.png", b"", "image", "empty image data")
    put("not_an_image.txt", b"hello, this is text and not an image\n" * 4, "image", "cannot read image header")
    put("truncated.png", good_png[:120], "image", "cannot decode image")
    put("truncated.jpg", good_jpg[:400], "image", "cannot decode image")
    put("giant.png", raw_png(100000, 100000, 8, 0, b"\x00" * 16), "image", "exceeds the limit")
    put("giant_indexed.png", raw_png(60000, 60000, 8, 3, b"\x00" * 16, pal[:4]), "indexed", "exceeds the limit")
    put("zero_width.png", raw_png(0, 5, 8, 0, b""), "image", "zero size")
    put("zero_width_label.png", raw_png(0, 5, 8, 0, b""), "label", "zero size")
    bmp = bytearray(open(os.path.join(OUT, "rgb_37x23.bmp"), "rb").read())
    struct.pack_into("<ii", bmp, 18, 1000000, 1000000)
    put("giant.bmp", bytes(bmp[:200]), "image", "exceeds the limit")
    crc_bad = bytearray(good_idx)
    at = crc_bad.index(b"IDAT") + 6
    crc_bad[at] ^= 0x55
    put("bad_crc.png", bytes(crc_bad), "indexed", "bad CRC")
    put("bad_filter.png", raw_png(8, 4, 8, 3, b"\x07" + rows8[1:], pal[:8]), "indexed", "unknown filter type")
    put("index_out_of_palette.png", raw_png(8, 4, 8, 3, rows8, pal[:3]), "indexed", "palette index")
    put("zlib_garbage.png", raw_png(8, 4, 8, 3, b"\x78\x9c" + bytes(range(200, 240)), pal[:8], compress=False),
        "indexed", "corrupt")
    put("too_much_data.png", raw_png(8, 4, 8, 3, rows8 + rows8, pal[:8]), "indexed", "more than")
    put("too_little_data.png", raw_png(8, 4, 8, 3, rows8[:20], pal[:8]), "indexed", "truncated")
    put("interlaced.png", raw_png(8, 4, 8, 3, rows8, pal[:8], interlace=1), "indexed", "interlaced")
    put("no_palette.png", raw_png(8, 4, 8, 3, rows8), "indexed", "no PLTE")
    put("not_indexed.png", good_png, "indexed", "not an indexed")
    put("no_iend.png", raw_png(8, 4, 8, 3, rows8, pal[:8])[:-12], "indexed", "no IEND")
    put("rgb_label.png", good_png, "label", "must be gray or indexed")
    put("bad_signature.png", b"\x89PNX" + good_idx[4:], "label", "bad signature")
    chunk_len = bytearray(good_idx)
    struct.pack_into(">I", chunk_len, 33, 0x7FFFFFF0)
    put("huge_chunk.png", bytes(chunk_len), "indexed", "past the end")
    m128 = np.zeros((4, 4), np.uint8)
    m128[1, 2] = 128
    buf = io.BytesIO()
    Image.fromarray(m128).save(buf, format="PNG")
    put("mask_gray128.png", buf.getvalue(), "mask", "binary mask")
    gif = open(os.path.join(OUT, "anim_30x20.gif"), "rb").read()
    put("truncated.gif", gif[:40], "image", "cannot")
    with open(os.path.join(BAD, "manifest.json"), "w") as f:
        json.dump(bad, f, indent=1)


if __name__ == "__main__":
    main()
