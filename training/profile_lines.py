"""CPU seconds of each sub-step of the grid's `lines` stage per scanned page, and what the
fast settings change (issue #15).

Why: `lines` (binarise, skew, rotate, rule masks, tables, the text check of each table)
was ~2.5 of ~6.85 CPU s per table page; a speed change there must show where the time
goes and that the grid it hands on is the same. Every page is rendered once; the sub-steps
run in one process (time.process_time), once with the settings as they are and once with
`--set` overrides (configs/ocr.yaml `grid:` keys, dotted), the two orders alternated page
by page. Per page it prints both skew angles and whether the rule masks, the tables' cells
and the grid handed on (page_tables) are the same.

    nice python -m training.profile_lines datasets/generated/s23f/val --pattern 'val_0000[0-2].scan_*.pdf' \
        --set grid.skew.hough_min_blob_frac=0.0417 [--json out.json]

With `--cache DIR` (an eval_scans grid cache of the base; repeatable) each page is turned by
the quarter-turn the orientation stage gave it there, as grid.recover_page does, and the
base's grid is checked against the cached one; `--fast-only` builds only the `--set`
candidate's grid and compares it with the cache's (every page's grid checked without OCR,
~0.8 CPU s a page: docs/speed.md, session 27e). `--changed FILE` writes the scans that must be
regridded to measure the candidate's cells: those with a table page whose grid or applied turn
differs (`moved_documents`; every other scan's grid, crops and readings are the base's).
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np


def _override(cfg: dict, sets: list[str]) -> dict:
    import yaml
    cfg = copy.deepcopy(cfg)
    for s in sets:
        key, val = s.split("=", 1)
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = yaml.safe_load(val)
    return cfg


def lines_steps(grey: np.ndarray, pt_px: float, rot: int = 0) -> tuple[dict, dict]:
    """The `lines` stage of grid.recover_page for a scanned page, sub-step by sub-step:
    (CPU seconds per step, what it made). As recover_page: the black border painted out,
    binarise, the blank-page test, skew, turn, rules, tables; `rot` (a quarter-turn the
    orientation stage gave the page, e.g. from a cached grid: reading is not redone here)
    then turns the page and finds its rules again; then page_tables (grid_text.refine)."""
    from pipeline.deskew import estimate_skew, ink_contrast, rotate_small, skew_config
    from pipeline.grid import page_tables
    from pipeline.grid_cells import binarise, find_tables, grid_config, line_masks
    from pipeline.page_border import border_mask, paint_out
    t = {}
    out = {}
    c = time.process_time()

    def lap(name):
        nonlocal c
        now = time.process_time()
        t[name] = t.get(name, 0.0) + now - c
        c = now

    border = border_mask(grey, pt_px)
    if border is not None:
        grey = paint_out(grey, border)
    lap("border")
    binv = binarise(grey)
    lap("binarise")
    angle = 0.0
    out.update(angle=angle, hor=None, ver=None, tables=[], found=[], contrast=round(ink_contrast(grey, binv), 1))
    c = time.process_time()          # (the contrast reported is not counted in the steps)
    if np.count_nonzero(binv) < grid_config()["blank_ink_share"] * binv.size:
        return t, out
    angle = estimate_skew(binv, grey)
    lap("skew")
    if abs(angle) >= skew_config()["turn_min_deg"]:
        grey = rotate_small(grey, angle)
        lap("rotate")
        binv = binarise(grey)
        lap("binarise")
    hor, ver = line_masks(binv, pt_px)
    lap("line_masks")
    tables = find_tables(hor, ver)
    lap("find_tables")
    if rot and tables:
        grey = np.ascontiguousarray(np.rot90(grey, k=rot // 90))
        binv = binarise(grey)
        hor, ver = line_masks(binv, pt_px)
        tables = find_tables(hor, ver)
        lap("turn")
    found = page_tables(grey, binv, hor, ver, tables, pt_px)
    lap("page_tables")
    out.update(angle=angle, hor=hor, ver=ver, tables=tables, found=found)
    return t, out


def _cells(tables) -> list:
    return [(bbox, sorted((c.x0, c.y0, c.x1, c.y1, c.row, c.col, c.rowspan, c.colspan) for c in raw))
            for bbox, raw in tables]


def _found(found) -> list:
    """The grid handed on, by structure: each table's strategy and its cells' rows, columns
    and spans (boxes move by a pixel with any change of angle)."""
    return [(how, sorted((c.row, c.col, c.rowspan, c.colspan) for c in raw)) for _, raw, how, _ in found]


def main(argv=None) -> int:
    from pipeline import pdf
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--pattern", default="*.scan_*.pdf")
    ap.add_argument("--set", action="append", default=[], help="grid setting for the fast run, e.g. grid.skew.method=search")
    ap.add_argument("--pages", type=int, default=0, help="at most this many pages (0: all)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--cache", type=Path, action="append", default=[],
                    help="eval_scans grid cache(s) of the base: each page's quarter-turn is taken from there, "
                         "and the base's grid is checked against the cached one")
    ap.add_argument("--fast-only", action="store_true",
                    help="run only the --set settings and compare their grid with the cached one (no CPU pairing)")
    ap.add_argument("--changed", type=Path, default=None,
                    help="write the scans to regrid (a table page's grid or applied turn differs), one a line")
    a = ap.parse_args(argv)
    base = pdf.config()
    fast = _override(base, a.set)
    import pipeline.pdf as P
    orig = P.config

    rows = []
    k = 0
    for f, page, img, pt_px, cached, cp, rot in grey_pages(a.folder, a.pattern, a.cache):
        res = {}
        order = ("base", "fast") if k % 2 == 0 else ("fast", "base")
        if a.fast_only:
            order = ("fast",)
        for name in order:
            cfg = base if name == "base" else fast
            _patch(cfg, orig)
            res[name] = lines_steps(img, pt_px, rot)
        _patch(None, orig)
        if a.fast_only:      # the base as the cache holds it
            res["base"] = ({}, dict(angle=cp.skew if cp is not None else float("nan"), hor=None, ver=None, tables=[],
                                    found=[(None, [_Raw(*k) for k in g], how, None)
                                           for how, g in (_cached_grid(cached, page.number) if cp is not None else [])]))
        (tb, ob), (tf, of) = res["base"], res["fast"]
        row = dict(file=f.name, page=page.number, angle_base=round(ob["angle"], 4), angle_fast=round(of["angle"], 4),
                   cpu_base={s: round(v, 4) for s, v in tb.items()}, cpu_fast={s: round(v, 4) for s, v in tf.items()},
                   table=bool(ob["tables"] or ob["found"] or of["found"]),
                   cache_grid=None if cp is None or a.fast_only else _found(ob["found"]) == _cached_grid(cached, page.number),
                   same_masks=bool(np.array_equal(ob["hor"], of["hor"]) and np.array_equal(ob["ver"], of["ver"])),
                   same_tables=_cells(ob["tables"]) == _cells(of["tables"]),
                   same_grid=_found(ob["found"]) == _found(of["found"]),
                   contrast=of.get("contrast"),
                   cells_base=sum(len(r) for _, r, _, _ in ob["found"]), cells_fast=sum(len(r) for _, r, _, _ in of["found"]))
        rows.append(row)
        print(f"{f.name} p{page.number} {'table' if row['table'] else 'text '} angle {row['angle_base']:+.4f} → "
              f"{row['angle_fast']:+.4f}  lines {sum(tb.values()):.3f} → {sum(tf.values()):.3f} CPU s  "
              f"masks {'=' if row['same_masks'] else '≠'} tables {'=' if row['same_tables'] else '≠'} "
              f"grid {'=' if row['same_grid'] else '≠'} contrast {row['contrast']} cells {row['cells_base']} → {row['cells_fast']}"
              + ("" if cp is None else f"  base = cache {'yes' if row['cache_grid'] else 'NO'} (turn {rot}°)"), flush=True)
        print("   base " + " ".join(f"{s} {v:.3f}" for s, v in tb.items()))
        print("   fast " + " ".join(f"{s} {v:.3f}" for s, v in tf.items()))
        k += 1
        page.image = None
        if a.pages and k >= a.pages:
            break
    tab = [r for r in rows if r["table"]]
    for kind, rs in (("table", tab), ("all", rows)):
        if not rs:
            continue
        sb = sum(sum(r["cpu_base"].values()) for r in rs) / len(rs)
        sf = sum(sum(r["cpu_fast"].values()) for r in rs) / len(rs)
        steps = sorted({s for r in rs for s in r["cpu_base"]} | {s for r in rs for s in r["cpu_fast"]})
        print(f"{kind} pages {len(rs)}: lines {sb:.3f} → {sf:.3f} CPU s per page; "
              + "; ".join(f"{s} {sum(r['cpu_base'].get(s, 0) for r in rs) / len(rs):.3f} → "
                          f"{sum(r['cpu_fast'].get(s, 0) for r in rs) / len(rs):.3f}" for s in steps))
        print(f"   same grid {sum(r['same_grid'] for r in rs)}/{len(rs)}, same tables {sum(r['same_tables'] for r in rs)}/{len(rs)}, "
              f"same masks {sum(r['same_masks'] for r in rs)}/{len(rs)}; "
              f"|Δangle| max {max(abs(r['angle_base'] - r['angle_fast']) for r in rs):.4f}°"
              + (f"; base grid = cached grid {sum(bool(r['cache_grid']) for r in rs)}/{sum(r['cache_grid'] is not None for r in rs)}"
                 if any(r["cache_grid"] is not None for r in rs) else ""))
    changed = [f"{r['file']} p{r['page']}" for r in rows if not r["same_grid"]]
    print("grid changed on: " + (", ".join(changed) or "no page"))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    if a.changed:
        from pipeline.deskew import skew_config
        moved = moved_documents(rows, skew_config()["turn_min_deg"])
        a.changed.write_text("".join(f + "\n" for f in moved))
        print(f"{len(moved)} of {len({r['file'] for r in rows})} scans to regrid → {a.changed}")
    return 0


def moved_documents(rows: list[dict], turn_min: float, tol: float = 0.0006) -> list[str]:
    """The scans with a table page whose grid differs or that is turned differently: the angle
    applied (0 under `turn_min`, as grid.recover_page) more than `tol` apart (the cache keeps
    3 decimals). Why: only those can read a cell differently (crops resampled), so only those
    need --regrid to measure a skew candidate's cells (docs/speed.md, session 30a)."""
    def applied(a: float) -> float:
        return a if abs(a) >= turn_min else 0.0
    return sorted({r["file"] for r in rows if r["table"] and (
        not r["same_grid"] or abs(applied(r["angle_base"]) - applied(r["angle_fast"])) > tol)})


class _Raw:
    """A cached cell's structure (row, column, spans), as _found reads a RawCell."""
    def __init__(self, row, col, rowspan, colspan):
        self.row, self.col, self.rowspan, self.colspan = row, col, rowspan, colspan


def grey_pages(folder: Path, pattern: str, caches: list[Path]):
    """Every page with an image of the scans in `folder` matching `pattern`, as the `lines` stage
    starts from it: (file, page, grey image, px per pt, the file's cached pages, this page's cached
    page or None, the turn the cache applied beyond the page's own); the image freed after each."""
    import cv2
    from pipeline.grid import page_scale
    from pipeline.pdf import px_per_pt
    from pipeline.read import read
    for f in sorted(Path(folder).glob(pattern)):
        doc = read(f)
        cached = cached_pages(caches, f.name)
        for page in doc.pages:
            img = page.image
            if img is None:
                continue
            if img.ndim == 3:
                img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            cp = cached.get(page.number)
            yield f, page, img, px_per_pt(page, page_scale(page)), cached, cp, \
                (cp.rotation - page.rotation) % 360 if cp is not None else 0
            page.image = None


def cached_pages(caches: list[Path], name: str) -> dict:
    """page number → cached page (eval_scans' grid cache of the base), {} when none has the file."""
    import pickle
    for c in caches:
        cf = c / (name + ".pages.pkl")
        if cf.exists():
            with open(cf, "rb") as fh:
                return {p.number: p for p in pickle.load(fh).pages}
    return {}


def _cached_grid(cached: dict, number: int) -> list:
    """A cached page's own tables by structure, as _found gives them."""
    return [(t.strategy, sorted((c.row, c.col, c.rowspan, c.colspan) for c in t.cells))
            for t in cached[number].tables if t.page in (None, number)]


def _patch(cfg, orig) -> None:
    """Every module that imported pdf.config reads `cfg` (None: as it was)."""
    import pipeline.deskew as D
    import pipeline.grid_cells as G
    import pipeline.pdf as P
    fn = orig if cfg is None else (lambda: cfg)
    for m in (P, D, G):
        m.config = fn


if __name__ == "__main__":
    raise SystemExit(main())
