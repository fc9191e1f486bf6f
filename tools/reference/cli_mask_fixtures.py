"""Tiny binary-mask PNG folders for the `psalm score` CLI tests (tests/cli/CMakeLists.txt),
with numbers small enough to check by hand:

  a.png  gt rows 2-5 x cols 2-5 (16 px), pred rows 3-6 x cols 2-5: I 12, U 20, IoU 0.6
  b.png  gt rows 0-1 (16 px), pred identical: IoU 1
  c.png  gt 2x2 (4 px), no prediction file: IoU 0
  d.png  gt empty (gres: a no-target sample), prediction empty: counted correct (N-acc 1)

referring over a-c: cIoU = 28 / 40 = 0.7, gIoU = (0.6 + 1 + 0) / 3 = 0.5333, Pr@0.5 = 2/3.
Interactive puts a.png under point/ and b.png under box/.

    tools/reference/.venv/bin/python tools/reference/cli_mask_fixtures.py
"""
import pathlib

import numpy as np
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "cli"


def mask(rows, cols):
    m = np.zeros((8, 8), np.uint8)
    m[rows[0]:rows[1], cols[0]:cols[1]] = 255
    return m


def save(path, m):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(m, mode="L").save(path)


gt = {"a": mask((2, 6), (2, 6)), "b": mask((0, 2), (0, 8)), "c": mask((6, 8), (6, 8))}
pred = {"a": mask((3, 7), (2, 6)), "b": mask((0, 2), (0, 8))}
for name, m in gt.items():
    save(OUT / "referring" / "gt" / f"{name}.png", m)
for name, m in pred.items():
    save(OUT / "referring" / "pred" / f"{name}.png", m)
save(OUT / "gres" / "gt" / "a.png", gt["a"])
save(OUT / "gres" / "pred" / "a.png", pred["a"])
save(OUT / "gres" / "gt" / "d.png", np.zeros((8, 8), np.uint8))
save(OUT / "gres" / "pred" / "d.png", np.zeros((8, 8), np.uint8))
save(OUT / "interactive" / "gt" / "point" / "a.png", gt["a"])
save(OUT / "interactive" / "pred" / "point" / "a.png", pred["a"])
save(OUT / "interactive" / "gt" / "box" / "b.png", gt["b"])
save(OUT / "interactive" / "pred" / "box" / "b.png", pred["b"])
print("wrote", OUT)
