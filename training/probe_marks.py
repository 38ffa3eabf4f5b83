"""Shape features of scanned cells' one-line crops against the truth (issue #14: printed
blank marks read as digits). The grid stage is run again (`--blind`: with an OCR engine that
reads nothing, faster; a page whose orientation needed reading may then not match) and each
one-line cell's crop is kept as the grid stage cut it; each cell is matched by page and box to the field it gave on the cached grid
(training/eval_scans.py caches, read only) and so to its truth value and printed text.

    nice python -m training.probe_marks datasets/generated/s26scans/test \
        --pattern 'test_000*.scan_heavy.pdf' --cache datasets/generated/m27/cache_h \
        --out /tmp/marks_h.jsonl [--crops DIR] [--blind]

One JSON line per numeric cell with one crop: file, key, truth value and text, what the
cached pipeline returned, and `grid_crops.slash_shape` of the crop (and whether
`grid_crops.is_slash` fires). `--crops DIR` writes the crops of cells the test fires on, or
whose truth prints a mark, as PNG.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipeline import grid, read
from pipeline.ctc import RecResult
from pipeline.export import to_result
from pipeline.grid_crops import is_slash, slash_shape
from pipeline.run import Settings
from training.eval_scans import finish, gridded


class _Blind:
    """An OCR engine that reads nothing (`--blind`): a page's orientation is then decided by
    its rules alone (upright unless they say otherwise); cells of a page turned otherwise than
    the cache's do not match and are left out."""
    version = "blind"

    def recognise(self, crops):
        return [RecResult(text="", score=0.0) for _ in crops]

    def read_lines(self, image):
        return []


def crops_of(path: Path, settings: Settings, blind: bool = False) -> dict:
    """(page, bbox) → the cell's line crops, as the grid stage cut them: taken from each
    table's cells when the grid stage marks its headers (`grid.mark_headers`, run while the
    cells still hold their CellEvidence)."""
    seen: dict = {}
    real_mark, real_engine = grid.mark_headers, grid.get_engine

    def mark_headers(table):
        for c in table.cells:
            if c.evidence is not None and c.bbox is not None:
                seen[(c.page, tuple(round(v, 1) for v in c.bbox))] = list(c.evidence.lines)
        return real_mark(table)

    grid.mark_headers = mark_headers
    if blind:
        grid.get_engine = lambda name: _Blind()
    try:
        doc = read.read(path, settings)
        grid.recover(doc, settings, join=False)
    finally:
        grid.mark_headers, grid.get_engine = real_mark, real_engine
    return seen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--pattern", required=True)
    ap.add_argument("--cache", type=Path, required=True, help="eval_scans grid cache (read only)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--crops", type=Path, default=None)
    ap.add_argument("--blind", action="store_true", help="no OCR at all (faster; orientation from the rules)")
    a = ap.parse_args()
    settings = Settings()
    with open(a.out, "w", encoding="utf-8") as out:
        for f in sorted(a.folder.glob(a.pattern)):
            cf = a.cache / (f.name + ".pages.pkl")
            if not cf.exists():
                continue
            truth = json.loads((f.parent / f"{f.name.split('.')[0]}.truth.json").read_text(encoding="utf-8"))
            doc = finish(gridded(f, settings, a.cache, False), settings)
            res = to_result(doc)
            crops = crops_of(f, settings, a.blind)
            matched = 0
            for key, fl in doc.fields.items():
                tc = truth["cells"].get(key)
                if tc is None or fl.bbox is None:
                    continue
                lines = crops.get((fl.page, tuple(round(v, 1) for v in fl.bbox)))
                if lines:
                    matched += 1
                if not lines or len(lines) != 1:
                    continue
                shape = slash_shape(lines[0])
                fires = is_slash(lines[0])
                got = res["cells"].get(key, {})
                row = {"file": f.name, "key": key, "truth": tc.get("value"), "printed": tc.get("text"),
                       "got": got.get("value"), "conf": got.get("confidence"), "read": fl.text,
                       "slash": fires, **(shape or {})}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                if a.crops and (fires or tc.get("value") is None):
                    import cv2
                    a.crops.mkdir(parents=True, exist_ok=True)
                    name = f"{f.name.split('.')[0]}.{f.name.split('.')[1]}.{key.replace('/', '_')}.png"
                    cv2.imwrite(str(a.crops / name), lines[0])
            out.flush()
            print(f.name, "fields", len(doc.fields), "matched", matched, flush=True)


if __name__ == "__main__":
    main()
