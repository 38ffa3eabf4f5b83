"""Scans whose ruling lines break, fade or vanish (issue #14 item 2): a tuning set made from
existing scanned renderings without drawing any held-out style.

Each page's own pixels (the image in the scan PDF, at its own resolution) are kept; only
the ruling lines change. Rules are found by a morphological opening (runs longer than any
glyph), and each inner rule, drawn at random (seeded per file), is:

* `vanish`: erased over most of its length (a stub is left at one or both ends, as a
  thinned copier keeps the heavier end of a rule);
* `dash`: broken into dashes (a thinned rule's pixels drop out in runs);
* `faint`: lightened towards the paper tone (a threshold then misses it);
* kept as printed.

The page's outer frame is kept more often than inner rules (as on thinned scans, where the
heavier frame survives). Writes `<stem>.rules_broken.pdf` and copies `<stem>.truth.json`
beside it; the rendering name is not in the truth, so nothing is counted as held out, and
the source rendering must not be a held-out one (checked).

    python -m training.break_rules datasets/generated/s23f/val --out datasets/generated/s25d/broken \
        --pattern 'val_0000[2-5].scan_light.pdf' --seed 1
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from training.eval_scans import held_out_of

KINDS = ("vanish", "dash", "faint", "keep")


def page_images(path: Path) -> list[tuple[np.ndarray, float]]:
    """(grey image, dpi) of every page: the page's largest image object at its own pixels."""
    doc = pdfium.PdfDocument(str(path))
    out = []
    try:
        for i in range(len(doc)):
            page = doc[i]
            w_pt = page.get_size()[0]
            imgs = [o for o in page.get_objects() if o.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE]
            if imgs:
                pil = max(imgs, key=lambda o: o.get_px_size()[0] * o.get_px_size()[1]).get_bitmap(render=False).to_pil()
            else:
                pil = page.render(scale=200 / 72).to_pil()
            grey = np.array(pil.convert("L"))
            out.append((grey, grey.shape[1] / w_pt * 72.0))
            page.close()
    finally:
        doc.close()
    return out


def _rules(grey: np.ndarray, dpi: float):
    """Connected runs of horizontal and vertical rule ink: (mask, stats) per direction."""
    binv = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 41, 15)
    k = int(dpi * 0.5)              # half an inch: longer than any glyph
    out = []
    for shape in ((k, 1), (1, k)):
        m = cv2.morphologyEx(binv, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, shape))
        m = cv2.dilate(m, np.ones((3, 3), np.uint8))
        n, lab, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        out.append((m, lab, st[1:], n - 1))
    return out


def break_page(rng: np.random.Generator, grey: np.ndarray, dpi: float, probs: dict) -> tuple[np.ndarray, dict]:
    img = grey.copy()
    paper = float(np.percentile(grey, 90))
    counts = {k: 0 for k in KINDS}
    for axis, (m, lab, st, n) in enumerate(_rules(grey, dpi)):
        if not n:
            continue
        # the outermost rules of each direction (a table's frame) break less often
        pos = st[:, 1] if axis == 0 else st[:, 0]
        lo, hi = pos.min(), pos.max()
        for i in range(n):
            x, y, w, h, _a = st[i]
            p = dict(probs["frame" if pos[i] in (lo, hi) else ("hor" if axis == 0 else "ver")])
            kind = rng.choice(list(p), p=np.array(list(p.values())) / sum(p.values()))
            counts[kind] += 1
            if kind == "keep":
                continue
            region = lab[y:y + h, x:x + w] == i + 1
            sub = img[y:y + h, x:x + w]
            length = w if axis == 0 else h
            along = np.zeros(length, bool)
            if kind == "vanish":
                keep = rng.uniform(0.0, 0.3)           # share kept as stubs at the ends
                left = int(length * keep * rng.uniform(0, 1))
                right = int(length * keep) - left
                along[left:length - right] = True
            elif kind == "dash":
                period = max(6, int(dpi / 72 * rng.uniform(4, 14)))
                duty = rng.uniform(0.3, 0.7)
                phase = np.arange(length) % period
                along = phase >= duty * period
            mask = region & (along[None, :] if axis == 0 else along[:, None])
            if kind == "faint":
                level = rng.uniform(0.55, 0.8)          # share of the way to paper
                sub[region] = (sub[region] + level * (paper - sub[region].astype(float))).astype(np.uint8)
            else:
                noise = rng.normal(0, 3, mask.sum())
                sub[mask] = np.clip(paper + noise, 0, 255).astype(np.uint8)
    return img, counts


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--pattern", default="*.scan_light.pdf")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vanish", type=float, default=0.3, help="share of inner horizontal rules erased")
    ap.add_argument("--dash", type=float, default=0.2)
    ap.add_argument("--faint", type=float, default=0.2)
    ap.add_argument("--ver", type=float, default=0.4, help="vertical rules break at this × the horizontal odds")
    a = ap.parse_args(argv)
    hor = {"vanish": a.vanish, "dash": a.dash, "faint": a.faint}
    hor["keep"] = max(0.0, 1 - sum(hor.values()))
    ver = {k: v * a.ver for k, v in hor.items() if k != "keep"}
    ver["keep"] = max(0.0, 1 - sum(ver.values()))
    frame = {k: v * 0.3 for k, v in hor.items() if k != "keep"}
    frame["keep"] = max(0.0, 1 - sum(frame.values()))
    probs = {"hor": hor, "ver": ver, "frame": frame}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(Path(a.folder).glob(a.pattern)):
        stem, rendering = f.name.split(".")[0], f.name.split(".")[1]
        truth_path = f.parent / f"{stem}.truth.json"
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        if held_out_of(truth, rendering):
            print(f"{f.name}: held out ({', '.join(held_out_of(truth, rendering))}), skipped")
            continue
        rng = np.random.default_rng([a.seed, int("".join(ch for ch in stem if ch.isdigit()) or 0)])
        pages, total = [], {k: 0 for k in KINDS}
        dpi = 200.0
        for grey, dpi in page_images(f):
            img, counts = break_page(rng, grey, dpi, probs)
            pages.append(Image.fromarray(img))
            total = {k: total[k] + counts[k] for k in KINDS}
        target = out / f"{stem}.rules_broken.pdf"
        pages[0].save(target, "PDF", save_all=True, append_images=pages[1:], resolution=float(dpi),
                      quality=85, creationDate=None, modDate=None)
        shutil.copy(truth_path, out / truth_path.name)
        print(f"{target.name}: {len(pages)} pages, rules {total}")


if __name__ == "__main__":
    main()
