"""Val scans with black page borders and corners added (issue #14): a degradation the
generator draws too rarely to tune on (a copier's dark fixed threshold over an unevenly lit
page, training/synth/degrade.py), made here on the page images of non-held-out val scans.

Per page one of: `corner` (a solid black quarter-ellipse at a corner: a folded corner, a
dark lid), `band` (a solid black wedge along one side: a page laid askew on a dark lid),
`speckle` (black at a corner fading out in speckle: a fixed threshold over a dim corner),
sized from small to a quarter of the page, so some touch the tables and some do not. The
truth is copied; the pages keep their size and resolution.

    python -m training.border_pages datasets/generated/s23f/val --out datasets/generated/s25c/border \
        --docs val_00000,val_00003 [--seed 14]
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np

KINDS = ("corner", "band", "speckle")


def _corner_dist(H: int, W: int, corner: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    cx = 0 if corner in (0, 3) else W - 1
    cy = 0 if corner in (0, 1) else H - 1
    return np.abs(xx - cx), np.abs(yy - cy)


def add_border(img: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """`img` (grey uint8; a binarised page holds only 0 and 255) with one black region added."""
    import cv2
    H, W = img.shape
    binary = np.isin(img, (0, 255)).mean() > 0.999
    black = np.zeros((H, W), bool)
    info: dict = {"kind": kind}
    if kind == "corner":
        corner = int(rng.integers(4))
        a, b = float(rng.uniform(0.06, 0.35)) * W, float(rng.uniform(0.04, 0.25)) * H
        dx, dy = _corner_dist(H, W, corner)
        black = (dx / a) ** 2 + (dy / b) ** 2 <= 1
        info.update(corner=corner, a=round(a / W, 3), b=round(b / H, 3))
    elif kind == "band":
        side = int(rng.integers(4))
        n = W if side in (0, 2) else H                 # the band's thickness is across this
        w0, w1 = (float(rng.uniform(0.015, 0.09)) * n for _ in range(2))
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        along, across = {0: (yy / H, xx), 1: (xx / W, yy), 2: (yy / H, W - 1 - xx), 3: (xx / W, H - 1 - yy)}[side]
        black = across <= w0 + (w1 - w0) * along
        info.update(side=side, w0=round(w0 / n, 3), w1=round(w1 / n, 3))
    else:
        corner = int(rng.integers(4))
        R = float(rng.uniform(0.2, 0.5)) * math.hypot(W, H)
        dx, dy = _corner_dist(H, W, corner)
        d = np.sqrt(dx ** 2 + dy ** 2)
        p = np.clip((R - d) / (0.6 * R), 0, 1)       # share black: 1 near the corner, 0 at R
        z = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 1.3)
        z /= max(float(z.std()), 1e-6)
        u = 0.5 * (1 + _erf(z / math.sqrt(2)))         # uniform, spatially grained
        black = u < p
        info.update(corner=corner, R=round(R / math.hypot(W, H), 3))
    out = img.copy()
    if binary:
        out[black] = 0
    else:
        tone = np.clip(rng.normal(18, 8, size=(H, W)), 0, 60).astype(np.uint8)
        out[black] = np.minimum(out[black], tone[black])
    return out, info


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7)."""
    s = np.sign(x)
    x = np.abs(x)
    t = 1 / (1 + 0.3275911 * x)
    y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x)
    return s * y


def build(src: Path, out: Path, docs: list[str], seed: int, rendering: str = "scan_heavy") -> list[dict]:
    from PIL import Image
    import cv2
    out.mkdir(parents=True, exist_ok=True)
    log = []
    for k, doc in enumerate(docs):
        rng = np.random.default_rng([seed, k])
        truth = json.loads((src / f"{doc}.truth.json").read_text())
        pages = truth["renderings"][rendering]["pages"]
        ims, infos = [], []
        for i, pg in enumerate(pages, 1):
            f = next(iter(sorted(src.glob(f"{doc}.{rendering}.p{i}.*"))))
            img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            kind = KINDS[int(rng.integers(len(KINDS)))]
            img, info = add_border(img, kind, rng)
            binary = np.isin(img, (0, 255)).mean() > 0.999
            ims.append(Image.fromarray(img).convert("1") if binary else Image.fromarray(img))
            infos.append(info)
        dpi = pages[0]["dpi"]
        ims[0].save(out / f"{doc}.{rendering}.pdf", save_all=True, append_images=ims[1:], resolution=dpi)
        shutil.copy(src / f"{doc}.truth.json", out / f"{doc}.truth.json")
        log.append({"doc": doc, "pages": infos})
    (out / f"borders_{docs[0]}.json").write_text(json.dumps(log, indent=1))
    return log


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--docs", required=True, help="comma-separated document ids (non-held-out renderings)")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--rendering", default="scan_heavy")
    a = ap.parse_args(argv)
    for d in build(a.src, a.out, a.docs.split(","), a.seed, a.rendering):
        print(d["doc"], [p["kind"] for p in d["pages"]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
