"""Measure how the OCR engine garbles label text on our scans: `python -m training.ocr_confusions`.

For every scanned rendering of the synthetic reports (datasets/samples and, when built,
datasets/generated), each single-line label cell (truth grid: text + class + pixel box) is
cropped from the page image and read by the project's recogniser (pipeline.ocr, rapidocr
PP-OCR); the reading is aligned to the printed text. Character substitutions, drops and
insertions are counted and written to configs/ocr_confusions.yaml, which the training-data
noise (training/keydata.Noise) draws from alongside the curated confusion groups.
"""
from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

from . import keydata as kd

OUT = kd.ROOT / "configs" / "ocr_confusions.yaml"


def _norm(s: str) -> str:
    return "".join(unicodedata.normalize("NFKC", s).split())


def _pages(pdf: Path, dpi: int) -> dict[int, np.ndarray]:
    import pypdfium2 as pdfium
    doc = pdfium.PdfDocument(str(pdf))
    out = {}
    for i in range(len(doc)):
        out[i + 1] = np.asarray(doc[i].render(scale=dpi / 72).to_pil().convert("L"))
    doc.close()
    return out


def crops_of(truth_path: Path, max_docs_pages: int = 60):
    """(printed text, crop) for single-line label cells of every scanned rendering."""
    d = json.loads(truth_path.read_text(encoding="utf-8"))
    grid = d.get("grid") or {}
    for name, r in (d.get("renderings") or {}).items():
        if r.get("kind") != "scanned_pdf" or not r.get("grid_px"):
            continue
        pdf = truth_path.parent / r["file"]
        if not pdf.exists():
            continue
        pages = _pages(pdf, int(r.get("dpi", 150)))
        for table, recs in grid.items():
            boxes = r["grid_px"].get(table) or []
            for rec, box in zip(recs, boxes):
                text = _norm(rec.get("text", ""))
                if not rec.get("class") or len(text) < 2 or rec.get("role") == "value":
                    continue
                img = pages.get(box["page"])
                if img is None:
                    continue
                x0, y0, x1, y1 = box["bbox"]
                w, h = x1 - x0, y1 - y0
                if h <= 0 or w / h < len(text) / 3.0:   # wrapped over lines or vertical: not one line
                    continue
                m = max(3, int(0.12 * h))
                c = img[max(0, int(y0) + m):int(y1) - m, max(0, int(x0) + m):int(x1) - m]
                if c.size and c.shape[0] >= 8 and c.shape[1] >= 8:
                    yield name, text, c


def align(truth: str, read: str) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Substituted (truth, read) pairs, dropped truth chars, inserted read chars."""
    subs, drops, ins = [], [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, truth, read, autojunk=False).get_opcodes():
        if op == "replace" and i2 - i1 == j2 - j1:
            subs += list(zip(truth[i1:i2], read[j1:j2]))
        elif op == "replace":
            drops += list(truth[i1:i2]) if i2 - i1 > j2 - j1 else []
            ins += list(read[j1:j2]) if j2 - j1 > i2 - i1 else []
        elif op == "delete":
            drops += list(truth[i1:i2])
        elif op == "insert":
            ins += list(read[j1:j2])
    return subs, drops, ins


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="OCR confusions on label cells of our scans")
    p.add_argument("--roots", nargs="*", type=Path, default=[kd.ROOT / "datasets" / "samples", kd.ROOT / "datasets" / "generated"])
    p.add_argument("--max-files", type=int, default=12)
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args(argv)
    from pipeline.ocr import get_engine
    eng = get_engine("rapidocr")
    files = [f for r in a.roots if r.exists() for f in sorted(r.rglob("*.truth.json"))][: a.max_files]
    t0 = time.perf_counter()
    subs, drops, ins = Counter(), Counter(), Counter()
    n_chars = n_crops = exact = skipped = 0
    per_rendering = Counter()
    for f in files:
        items = list(crops_of(f))
        reads = eng.recognise([c for _, _, c in items]) if items else []
        for (rend, text, _), res in zip(items, reads):
            got = _norm(res.text)
            if difflib.SequenceMatcher(None, text, got, autojunk=False).ratio() < 0.5:
                skipped += 1      # misaligned crop (a neighbour's text, a wrapped line): not a confusion
                continue
            s, dr, i = align(text, got)
            subs.update(s)
            drops.update(dr)
            ins.update(i)
            n_chars += len(text)
            n_crops += 1
            exact += text == got
            per_rendering[rend] += 1
    n_sub = sum(subs.values())
    data = {
        "about": "OCR (pipeline.ocr rapidocr recogniser) readings of label cells cropped from the "
                 "scanned renderings of the synthetic reports, aligned to the printed text. "
                 "Written by `python -m training.ocr_confusions`.",
        "files": [str(f.relative_to(kd.ROOT)) for f in files],
        "crops": n_crops, "crops_by_rendering": dict(per_rendering), "skipped_misaligned": skipped,
        "chars": n_chars, "exact_crops": exact,
        "rates": {"substitute": round(n_sub / max(n_chars, 1), 4),
                  "drop": round(sum(drops.values()) / max(n_chars, 1), 4),
                  "insert": round(sum(ins.values()) / max(n_chars, 1), 4)},
        "substitutions": [[a_, b_, n] for (a_, b_), n in subs.most_common()],
        "dropped": [[c, n] for c, n in drops.most_common(40)],
        "inserted": [[c, n] for c, n in ins.most_common(40)],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    a.out.write_text("# Generated: do not edit by hand (see training/ocr_confusions.py).\n"
                     + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    print(f"{n_crops} label crops, {n_chars} chars, exact {exact}; rates {data['rates']}; "
          f"{len(subs)} distinct substitutions; {data['seconds']} s → {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
